"""Times as the shop writes them everywhere (store rows, events, dead letters): UTC, ISO-8601, milliseconds, a
trailing Z. Text in this form sorts as time, which the store's queries rely on (app.domain.billing cuts the
minute off the front)."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """A moment as `YYYY-MM-DDTHH:MM:SS.mmmZ` (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """Now, as format_time writes it."""
    return format_time(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (Z or an offset; none means UTC) as an aware datetime. Raises ValueError if it is not one."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
