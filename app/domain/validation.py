"""Validation of call parameters outside a call (the UI's forms, the importer, tests): the same models as the
service (app/domain/params.py), so every refusal names the field that is wrong and says why, in the same words.

Works on plain JSON values (dicts, lists, str, int) so it knows nothing of the wire or the store.
"""

from __future__ import annotations

from typing import Any

from app.domain import params as p
from app.domain.errors import InvalidError
from app.domain.params import (
    EMAIL_RE as EMAIL_RE,
)
from app.domain.params import (
    MAX_INT as MAX_INT,
)
from app.domain.params import (
    MAX_ITEMS as MAX_ITEMS,
)
from app.domain.params import (
    MAX_QUANTITY as MAX_QUANTITY,
)
from app.domain.params import (
    MAX_TEXT as MAX_TEXT,
)
from app.domain.params import (
    MAX_UNIT_PRICE_PENCE as MAX_UNIT_PRICE_PENCE,
)
from app.domain.params import (
    PHONE_RE as PHONE_RE,
)
from app.domain.params import (
    type_name,
)

CONTACT_TEXT_FIELDS = ("name", "email", "phone", "address", "notes")
MEASUREMENT_FIELDS = tuple(p.Measurements.__struct_fields__)
CONTACT_FIELDS = (*CONTACT_TEXT_FIELDS, "measurements")
ITEM_FIELDS = tuple(p.OrderItem.__struct_fields__)


def clean_contact_fields(params: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The contact fields present in params, cleaned; with partial=False a name is required."""
    return p.decode(p.ContactChange if partial else p.NewContact, params).contact_fields()


def clean_measurements(value: Any) -> dict[str, float | None]:
    return p.decode(p.ContactChange, {"measurements": value}).contact_fields()["measurements"]


def clean_items(value: Any) -> list[dict[str, Any]]:
    # The items of orders.place, alone: any refusal names `items...`, as in a call.
    placed = p.decode(p.OrdersPlace, {"contact_id": 1, "items": value})
    return [item.plain() for item in placed.items]


def total_pence(items: list[dict[str, Any]]) -> int:
    return sum(item["quantity"] * item["unit_price_pence"] for item in items)


def clean_page(params: dict[str, Any], default_limit: int, max_limit: int) -> tuple[int, int | None]:
    page = p.decode(p.Page, params)
    if page.limit > max_limit:
        raise InvalidError(f"'limit' must be at most {max_limit} (got {page.limit}).", field="limit")
    return (page.limit if "limit" in params else default_limit), page.position()


def clean_query(params: dict[str, Any]) -> str | None:
    return p.decode(p.ContactsList, {"q": params.get("q")}).q


# -- single values (kept for callers that check one value at a time) ----------------------------------------


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
        raise InvalidError(f"'{field}' must be a whole number, not {type_name(value)}.", field=field)
    if minimum is not None and value < minimum:
        raise InvalidError(f"'{field}' must be at least {minimum} (got {value}).", field=field)
    if maximum is None:
        maximum = MAX_INT
    if value > maximum:
        raise InvalidError(f"'{field}' must be at most {maximum} (got {value}).", field=field)
    return value


def as_text(value: Any, field: str, *, required: bool = False, max_len: int = 1000) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidError(f"'{field}' must be text, not {type_name(value)}.", field=field)
    try:
        return p.clean_text(value, field, max_len, required=required)
    except p.FieldError as exc:
        raise InvalidError(exc.words.replace("{f}", field), field=field) from None
