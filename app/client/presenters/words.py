"""Times for people: the service's UTC stamps in this computer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime


def local_time(at: str | None) -> datetime | None:
    if not at:
        return None
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone()


def short_time(iso: str) -> str:
    at = local_time(iso)
    return at.strftime("%Y-%m-%d %H:%M") if at else iso[:16].replace("T", " ")


def local_date(iso: str) -> str:
    at = local_time(iso)
    return at.strftime("%Y-%m-%d") if at else iso[:10]
