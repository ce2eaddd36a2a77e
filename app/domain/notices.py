"""Notices that reach people by e-mail: who hears of which event, their preferences, and when a mail is due.

Pure rules on plain values (no broker, no database): the store keeps the preferences, the notifier asks
`plan_notice` whether a mail goes out now or waits for the end of quiet hours or the daily digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import InvalidError
from app.domain.validation import EMAIL_RE, as_int, as_text, reject_unknown

# The roles that may have notices, and the events each one hears of.
NOTICE_ROLES: tuple[str, ...] = ("sales", "workshop", "shipping")
NOTICE_EVENTS: dict[str, tuple[str, ...]] = {
    "order.completed": ("shipping",),  # a kilt is ready: collect it, bill it
    "order.placed": ("workshop", "sales"),  # a new order: what to make, for whom
}

HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
TIMEZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
MAX_TIMEZONE = 64
MAX_EMAIL = 254

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


# -- checking parameters ------------------------------------------------------------------------------


def clean_role(params: Mapping[str, Any]) -> str:
    if "role" not in params:
        raise InvalidError("'role' is missing: say whose notices, one of " + ", ".join(NOTICE_ROLES) + ".",
                           field="role")
    role = params["role"]
    if not isinstance(role, str) or role not in NOTICE_ROLES:
        raise InvalidError(f"'role' must be one of {', '.join(NOTICE_ROLES)} (got {role!r}).", field="role")
    return role


def _as_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidError(f"'{field}' must be true or false (got {value!r}).", field=field)
    return value


def _as_hhmm(value: Any, field: str, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not HHMM_RE.match(value.strip()):
        raise InvalidError(f"'{field}' must be a time of day as HH:MM, for example 07:30 (got {value!r}).",
                           field=field)
    return value.strip()


def _as_timezone(value: Any, field: str = "timezone") -> str:
    text = as_text(value, field, required=True, max_len=MAX_TIMEZONE)
    if not TIMEZONE_RE.match(text):
        raise InvalidError(f"'{field}' must be a time zone name such as Europe/London (got {text!r}).", field=field)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidError(f"'{field}' {text!r} is not a time zone this computer knows (try Europe/London).",
                           field=field) from None
    return text


def clean_setting_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """The setting fields present in params, checked one by one (how they fit together is checked later)."""
    out: dict[str, Any] = {}
    for field in SETTING_FIELDS:
        if field not in params:
            continue
        value = params[field]
        if field in ("email_enabled", "digest"):
            out[field] = _as_bool(value, field)
        elif field == "email":
            email = as_text(value, field, max_len=MAX_EMAIL)
            if email and not EMAIL_RE.match(email):
                raise InvalidError(f"'email' does not look like an e-mail address: {email!r}.", field="email")
            out[field] = email
        elif field in ("quiet_start", "quiet_end"):
            out[field] = _as_hhmm(value, field, nullable=True)
        elif field == "digest_at":
            out[field] = _as_hhmm(value, field, nullable=False)
        else:
            out[field] = _as_timezone(value)
    return out


def clean_settings_get(params: Mapping[str, Any]) -> str:
    reject_unknown(dict(params), ("role",))
    return clean_role(params)


def clean_settings_set(params: Mapping[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """(role, version, fields) of a notices.settings.set call; version 0 means "never saved before"."""
    reject_unknown(dict(params), ("role", "version", *SETTING_FIELDS))
    role = clean_role(params)
    if "version" not in params:
        raise InvalidError("'version' is missing: send the version you loaded (0 if never saved).", field="version")
    version = as_int(params["version"], "version", 0)
    return role, version, clean_setting_fields(params)


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
