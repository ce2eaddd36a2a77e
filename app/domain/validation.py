"""Validation of call parameters: every refusal names the field that is wrong and says why.

Works on plain JSON values (dicts, lists, str, int) so it knows nothing of the wire or the store.
"""

from __future__ import annotations

import re
from typing import Any

from app.domain.errors import InvalidError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+()\-. ]{3,32}$")

CONTACT_TEXT_FIELDS = ("name", "email", "phone", "address", "notes")
MEASUREMENT_FIELDS = ("waist_cm", "hip_cm", "length_cm")
CONTACT_FIELDS = (*CONTACT_TEXT_FIELDS, "measurements")
ITEM_FIELDS = ("description", "tartan", "quantity", "unit_price_pence")

MAX_TEXT = {"name": 200, "email": 254, "phone": 32, "address": 1000, "notes": 4000}
MAX_ITEMS = 50
MAX_QUANTITY = 1000
MAX_UNIT_PRICE_PENCE = 10_000_000  # a hundred thousand pounds for one kilt is a typo
MAX_INT = 2**31 - 1  # the largest id, version or number the store's integer columns hold


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def reject_unknown(params: dict[str, Any], allowed: tuple[str, ...] | set[str], where: str = "") -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        field = f"{where}{unknown[0]}"
        raise InvalidError(
            f"'{field}' is not a field this call understands (allowed: {', '.join(sorted(allowed))}).",
            field=field,
        )


def require_int(params: dict[str, Any], field: str, minimum: int | None = None, label: str | None = None) -> int:
    if field not in params:
        raise InvalidError(f"'{label or field}' is missing.", field=label or field)
    return as_int(params[field], label or field, minimum)


def as_int(value: Any, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    # bool is an int in Python but never a count or an id on our wire.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidError(f"'{field}' must be a whole number, not {_type_name(value)}.", field=field)
    if minimum is not None and value < minimum:
        raise InvalidError(f"'{field}' must be at least {minimum} (got {value}).", field=field)
    if maximum is None:
        maximum = MAX_INT
    if value > maximum:
        raise InvalidError(f"'{field}' must be at most {maximum} (got {value}).", field=field)
    return value


def as_text(value: Any, field: str, *, required: bool = False, max_len: int = 1000) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidError(f"'{field}' must be text, not {_type_name(value)}.", field=field)
    value = value.strip()
    if "\x00" in value:  # PostgreSQL cannot store it in text; no person types it
        raise InvalidError(f"'{field}' contains a NUL character (\\x00), which text here cannot hold.", field=field)
    if required and not value:
        raise InvalidError(f"'{field}' is required and cannot be empty.", field=field)
    if len(value) > max_len:
        raise InvalidError(f"'{field}' is too long ({len(value)} characters, at most {max_len}).", field=field)
    return value


def _measurement(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidError(f"'{field}' must be a number of centimetres, not {_type_name(value)}.", field=field)
    if not 10 <= value <= 400:
        raise InvalidError(f"'{field}' must be between 10 and 400 cm (got {value}).", field=field)
    return float(value)


def clean_measurements(value: Any) -> dict[str, float | None]:
    if value is None:
        return dict.fromkeys(MEASUREMENT_FIELDS)
    if not isinstance(value, dict):
        raise InvalidError(f"'measurements' must be an object, not {_type_name(value)}.", field="measurements")
    reject_unknown(value, MEASUREMENT_FIELDS, "measurements.")
    return {name: _measurement(value.get(name), f"measurements.{name}") for name in MEASUREMENT_FIELDS}


def clean_contact_fields(params: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The contact fields present in params, cleaned; with partial=False a name is required."""
    out: dict[str, Any] = {}
    for field in CONTACT_TEXT_FIELDS:
        if field in params or (field == "name" and not partial):
            out[field] = as_text(
                params.get(field), field, required=(field == "name"), max_len=MAX_TEXT[field]
            )
    if out.get("email") and not EMAIL_RE.match(out["email"]):
        raise InvalidError(f"'email' does not look like an e-mail address: {out['email']!r}.", field="email")
    if out.get("phone") and not PHONE_RE.match(out["phone"]):
        raise InvalidError(
            f"'phone' may hold only digits, spaces and + ( ) - . (got {out['phone']!r}).", field="phone"
        )
    if "measurements" in params:
        out["measurements"] = clean_measurements(params["measurements"])
    return out


def clean_items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidError(f"'items' must be a list, not {_type_name(value)}.", field="items")
    if not value:
        raise InvalidError("'items' is empty: an order needs at least one item.", field="items")
    if len(value) > MAX_ITEMS:
        raise InvalidError(f"'items' has {len(value)} entries, at most {MAX_ITEMS} are allowed.", field="items")
    items = []
    for i, raw in enumerate(value):
        where = f"items[{i}]"
        if not isinstance(raw, dict):
            raise InvalidError(f"'{where}' must be an object, not {_type_name(raw)}.", field=where)
        reject_unknown(raw, ITEM_FIELDS, f"{where}.")
        items.append(
            {
                "description": as_text(raw.get("description"), f"{where}.description", required=True, max_len=500),
                "tartan": as_text(raw.get("tartan"), f"{where}.tartan", max_len=200),
                "quantity": as_int(raw.get("quantity", 1), f"{where}.quantity", 1, MAX_QUANTITY),
                "unit_price_pence": as_int(
                    raw.get("unit_price_pence"), f"{where}.unit_price_pence", 0, MAX_UNIT_PRICE_PENCE
                ),
            }
        )
    return items


def total_pence(items: list[dict[str, Any]]) -> int:
    return sum(item["quantity"] * item["unit_price_pence"] for item in items)


def clean_page(params: dict[str, Any], default_limit: int, max_limit: int) -> tuple[int, int | None]:
    limit = as_int(params.get("limit", default_limit), "limit", 1, max_limit)
    cursor = params.get("cursor")
    if cursor is None:
        return limit, None
    # isascii: str.isdigit() also accepts digits such as '²' that int() refuses
    if isinstance(cursor, str) and cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_INT:
        return limit, int(cursor)
    raise InvalidError("'cursor' is not one this service handed out; pass back next_cursor as is.", field="cursor")


def clean_query(params: dict[str, Any]) -> str | None:
    q = params.get("q")
    if q is None:
        return None
    return as_text(q, "q", max_len=200) or None
