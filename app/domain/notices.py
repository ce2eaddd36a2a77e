"""Notices that reach people by e-mail: who hears of which event, their preferences, and when a mail is due.

Pure rules on plain values (no broker, no database): the store keeps the preferences, the notifier asks
`plan_notice` whether a mail goes out now or waits for the end of quiet hours or the daily digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.errors import InvalidError

# re-exported for the CLI and the notifier (the parameters' rules live in params.py)
from app.domain.params import HHMM_RE as HHMM_RE
from app.domain.params import NOTICE_ROLES as NOTICE_ROLES

# The roles that may have notices (NOTICE_ROLES, in params.py), and the events each one hears of.
NOTICE_EVENTS: dict[str, tuple[str, ...]] = {
    "order.completed": ("shipping",),  # a kilt is ready: collect it, bill it
    "order.placed": ("workshop", "sales"),  # a new order: what to make, for whom
}


SETTING_FIELDS = ("email_enabled", "email", "quiet_start", "quiet_end", "digest", "digest_at", "timezone")

DEFAULT_SETTINGS: dict[str, Any] = {
    "email_enabled": False,
    "email": "",
    "quiet_start": None,
    "quiet_end": None,
    "digest": False,
    "digest_at": "08:00",
    "timezone": "Europe/London",
}


def default_settings(user: str, role: str) -> dict[str, Any]:
    """What a person has before they ever saved their notice settings (version 0)."""
    return {"user": user, "role": role, **DEFAULT_SETTINGS, "version": 0, "updated_at": None}


# -- how the settings fit together (each field is checked on its own in app/domain/params.py) ----------------


def check_settings(settings: Mapping[str, Any]) -> None:
    """Refuse settings that do not fit together (after the change is merged into what is stored)."""
    if settings["email_enabled"] and not settings["email"]:
        raise InvalidError("E-mail notices are switched on but there is no address to send them to.", field="email")
    start, end = settings["quiet_start"], settings["quiet_end"]
    if (start is None) != (end is None):
        missing = "quiet_end" if end is None else "quiet_start"
        raise InvalidError("Quiet hours need both a start and an end time (or neither).", field=missing)
    if start is not None and start == end:
        raise InvalidError("Quiet hours cannot start and end at the same time.", field="quiet_end")


# -- when a mail is due ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to do with one notice: send it now ("due"), or keep it ("held") until due_at (UTC)."""

    status: str  # "due" or "held"
    kind: str  # "single" (one mail per order) or "digest" (collected into the daily mail)
    due_at: datetime


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone)


def in_quiet_hours(local: datetime, start: str | None, end: str | None) -> bool:
    if start is None or end is None:
        return False
    s, e, t = _hhmm(start), _hhmm(end), local.time().replace(tzinfo=None)
    return s <= t < e if s < e else (t >= s or t < e)


def after_quiet_hours(local: datetime, start: str | None, end: str | None) -> datetime:
    """local itself when it is outside quiet hours, else the moment the quiet hours end."""
    if start is None or end is None or not in_quiet_hours(local, start, end):
        return local
    assert isinstance(local.tzinfo, ZoneInfo)
    e = _hhmm(end)
    day = local.date() if local.time().replace(tzinfo=None) < e else local.date() + timedelta(days=1)
    return _at(day, e, local.tzinfo)


def next_time_of_day(local: datetime, hhmm: str) -> datetime:
    """The first moment at or after local that the clock shows hhmm."""
    assert isinstance(local.tzinfo, ZoneInfo)
    candidate = _at(local.date(), _hhmm(hhmm), local.tzinfo)
    if candidate < local:
        candidate = _at(local.date() + timedelta(days=1), _hhmm(hhmm), local.tzinfo)
    return candidate


def plan_notice(settings: Mapping[str, Any], now: datetime) -> Plan:
    """When the mail for an event that happened at `now` (UTC) goes out under these settings."""
    zone = ZoneInfo(settings.get("timezone") or DEFAULT_SETTINGS["timezone"])
    local = now.astimezone(zone)
    start, end = settings.get("quiet_start"), settings.get("quiet_end")
    if settings.get("digest"):
        due = after_quiet_hours(next_time_of_day(local, settings.get("digest_at") or "08:00"), start, end)
        return Plan("held", "digest", due.astimezone(UTC))
    release = after_quiet_hours(local, start, end)
    if release == local:
        return Plan("due", "single", now.astimezone(UTC))
    return Plan("held", "single", release.astimezone(UTC))


def retry_delay(attempt: int, first: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait after the attempt-th failed try (1-based): 1, 2, 4, 8, ... never more than cap."""
    return float(min(cap, first * 2 ** max(0, attempt - 1)))
