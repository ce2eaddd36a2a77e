"""The billing summary (pickups.billing; its parameters are checked in app/domain/params.py): the shop's
local day of a moment, which is the day a total belongs to (the shop's time zone, not UTC: an order completed
at 00:30 British summer time counts on that day, though it is still the day before in UTC)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
