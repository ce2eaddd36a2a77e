"""Possible duplicates compared field by field: what each side holds and what a merge keeps (no Qt)."""

from __future__ import annotations

from typing import Any

from app.client.live_mirror import Entity
from app.domain.validation import MEASUREMENT_FIELDS

LEFT, RIGHT, BOTH = 0, 1, 2
FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Name"), ("email", "E-mail"), ("phone", "Phone"), ("address", "Address"),
    ("waist_cm", "Waist"), ("hip_cm", "Hip"), ("length_cm", "Length"), ("notes", "Notes"),
)


def value_of(contact: Entity, field: str) -> Any:
    if field in MEASUREMENT_FIELDS:
        return (contact.get("measurements") or {}).get(field)
    return contact.get(field) or ""


def shown(field: str, value: Any) -> str:
    if field in MEASUREMENT_FIELDS:
        return "—" if value is None else f"{float(value):g} cm"
    return str(value) if value else "—"


def both_notes(left: str, right: str) -> str:
    return "\n".join(part for part in (left.strip(), right.strip()) if part)


def empty(value: Any) -> bool:
    return value is None or value == ""


def same(field: str, a: Any, b: Any) -> bool:
    if field in MEASUREMENT_FIELDS:
        return (None if a is None else float(a)) == (None if b is None else float(b))
    return str(a).strip() == str(b).strip()
