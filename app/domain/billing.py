"""Parameters of the billing summary (pickups.billing): a range of days, as plain JSON values; and the shop's
local day of a moment, which is the day a total belongs to (the shop's time zone, not UTC: an order completed
at 00:30 British summer time counts on that day, though it is still the day before in UTC)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.errors import InvalidError

DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def clean_day(value: Any, field: str) -> str | None:
    """A day as YYYY-MM-DD (a real date), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidError(f"'{field}' must be a day as YYYY-MM-DD, for example 2026-03-14.", field=field)
    text = value.strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidError(f"'{field}' must be a day as YYYY-MM-DD, for example 2026-03-14 (got {value!r}).",
                           field=field) from None


def clean_day_range(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    since = clean_day(params.get("since"), "since")
    until = clean_day(params.get("until"), "until")
    if since is not None and until is not None and until < since:
        raise InvalidError(f"'until' ({until}) is before 'since' ({since}).", field="until")
    return since, until


# Stored times are UTC text `YYYY-MM-DDTHH:MM:SS.mmmZ`; their first 16 characters are the minute. Every time zone
# in use is a whole number of minutes off UTC, so a local day is an exact range of UTC minutes.
MINUTE_CHARS = 16


def _utc_minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def local_day_start(day: str, zone: ZoneInfo) -> str:
    """The UTC minute at which the shop's local day begins. When the clocks skip midnight, the day begins at
    the change (zoneinfo's fold=0 reads the missing 00:00 with the offset before it, which is that moment)."""
    return _utc_minute(datetime.combine(date.fromisoformat(day), time(0), tzinfo=zone))


def local_range(since: str | None, until: str | None, zone: ZoneInfo) -> tuple[str | None, str | None]:
    """[from, before) in UTC minutes for the shop's local days since..until (both included); None: open."""
    start = local_day_start(since, zone) if since is not None else None
    end = None
    if until is not None:
        end = local_day_start((date.fromisoformat(until) + timedelta(days=1)).isoformat(), zone)
    return start, end


def local_day(utc_time: str, zone: ZoneInfo) -> str:
    """The shop's local day (YYYY-MM-DD) of a stored UTC time (at least its minute)."""
    moment = datetime.fromisoformat(utc_time[:MINUTE_CHARS]).replace(tzinfo=UTC)
    return moment.astimezone(zone).date().isoformat()


def per_local_day(minutes: Iterable[tuple[str, int, int]], zone: ZoneInfo) -> list[dict[str, Any]]:
    """(UTC minute, count, total) rows summed into [{date, count, total_due_pence}] per local day, oldest first."""
    days: dict[str, list[int]] = {}
    for minute, count, total in minutes:
        day = days.setdefault(local_day(str(minute), zone), [0, 0])
        day[0] += int(count)
        day[1] += int(total)
    return [{"date": day, "count": n, "total_due_pence": total} for day, (n, total) in sorted(days.items())]
