"""Times for people: the service's UTC stamps in this computer's time zone."""

from __future__ import annotations

from datetime import datetime

from app.domain.timestamps import parse_time


def local_time(at: str | None) -> datetime | None:
    """The service's UTC timestamps ('2026-03-01T14:32:10.123Z') in this computer's time zone; None if unreadable."""
    if not at:
        return None
    try:
        return parse_time(at).astimezone()
    except (TypeError, ValueError):
        return None


def short_time(iso: str) -> str:
    at = local_time(iso)
    return at.strftime("%Y-%m-%d %H:%M") if at else iso[:16].replace("T", " ")


def local_date(iso: str) -> str:
    at = local_time(iso)
    return at.strftime("%Y-%m-%d") if at else iso[:10]
