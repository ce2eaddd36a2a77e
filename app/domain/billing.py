"""Parameters of the billing summary (pickups.billing): a range of days, as plain JSON values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

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
