"""The shop's rules on their own: the order state machine and parameter validation (no broker, no database)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from app.domain.errors import InvalidError, LockedError, ShopError
from app.domain.order_states import (
    OPEN_STATUSES,
    TRANSITIONS,
    OrderStatus,
    check_customer_change,
    describe,
    next_status,
)
from app.domain.validation import (
    as_int,
    as_text,
    clean_contact_fields,
    clean_items,
    clean_measurements,
    clean_page,
    clean_query,
    reject_unknown,
    require_int,
    total_pence,
)

ALLOWED = {
    ("start", OrderStatus.PENDING): (OrderStatus.IN_PROGRESS, "order.started"),
    ("complete", OrderStatus.IN_PROGRESS): (OrderStatus.COMPLETED, "order.completed"),
    ("collect", OrderStatus.COMPLETED): (OrderStatus.COLLECTED, "order.collected"),
    ("cancel", OrderStatus.PENDING): (OrderStatus.CANCELLED, "order.cancelled"),
}
# A customer change (cancel) of an order the workshop has taken is "locked"; everything else illegal is "invalid".
LOCKED = {("cancel", s) for s in (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED, OrderStatus.COLLECTED)}


# -- order states ---------------------------------------------------------------------------------


def test_transition_table_is_the_documented_machine() -> None:
    assert {(a, req): (tgt, ev) for a, (req, tgt, ev) in TRANSITIONS.items()} == ALLOWED
    assert frozenset({OrderStatus.PENDING, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED}) == OPEN_STATUSES


@pytest.mark.parametrize(
    ("action", "status"), list(itertools.product(("start", "complete", "collect", "cancel"), list(OrderStatus)))
)
def test_every_action_from_every_status(action: str, status: OrderStatus) -> None:
    if (action, status) in ALLOWED:
        assert next_status("K-0001", status, action) == ALLOWED[(action, status)]
        return
    expected = LockedError if (action, status) in LOCKED else InvalidError
    with pytest.raises(ShopError) as caught:
        next_status("K-0001", status, action)
    assert type(caught.value) is expected
    assert caught.value.code == ("locked" if expected is LockedError else "invalid")
    assert "K-0001" in caught.value.message
    assert caught.value.details["status"] == status.value
    assert caught.value.details["number"] == "K-0001"
    if expected is InvalidError:
        assert caught.value.details["field"] == "status"


def test_unknown_action_names_the_field() -> None:
    with pytest.raises(InvalidError) as caught:
        next_status("K-0001", OrderStatus.PENDING, "explode")
    assert caught.value.details == {"field": "action"}
    assert "explode" in caught.value.message


@pytest.mark.parametrize("status", list(OrderStatus))
def test_customer_change_only_while_pending(status: OrderStatus) -> None:
    if status == OrderStatus.PENDING:
        check_customer_change("K-0007", status)
        return
    with pytest.raises(ShopError) as caught:
        check_customer_change("K-0007", status, "changed")
    assert caught.value.code == ("invalid" if status == OrderStatus.CANCELLED else "locked")
    assert describe(status) in caught.value.message
    assert "can no longer be changed" in caught.value.message


def test_invalid_transition_says_what_is_required() -> None:
    with pytest.raises(InvalidError) as caught:
        next_status("K-0003", OrderStatus.PENDING, "collect")
    assert caught.value.details["required"] == "completed"
    assert "cannot be marked collected" in caught.value.message


def test_errors_travel_as_code_message_details() -> None:
    error = InvalidError("'name' is missing.", field="name", details={"extra": 1})
    assert error.to_wire() == {"code": "invalid", "message": "'name' is missing.",
                               "details": {"extra": 1, "field": "name"}}


# -- validation -----------------------------------------------------------------------------------


def invalid_field(fn: Any, *args: Any, **kwargs: Any) -> InvalidError:
    with pytest.raises(InvalidError) as caught:
        fn(*args, **kwargs)
    return caught.value


def test_contact_name_required_on_create_but_not_on_update() -> None:
    error = invalid_field(clean_contact_fields, {"email": "a@b.co"}, partial=False)
    assert error.details["field"] == "name"
    assert "'name'" in error.message
    assert invalid_field(clean_contact_fields, {"name": "   "}, partial=False).details["field"] == "name"
    assert clean_contact_fields({"email": "a@b.co"}, partial=True) == {"email": "a@b.co"}


def test_contact_fields_are_cleaned() -> None:
    cleaned = clean_contact_fields(
        {"name": "  Isla Grant ", "email": "isla@example.co.uk", "phone": "+44 (0)1838 400-123",
         "measurements": {"waist_cm": 81, "hip_cm": None}},
        partial=False,
    )
    assert cleaned == {"name": "Isla Grant", "email": "isla@example.co.uk", "phone": "+44 (0)1838 400-123",
                       "measurements": {"waist_cm": 81.0, "hip_cm": None, "length_cm": None}}


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"name": "A", "email": "not-an-email"}, "email", "e-mail"),
        ({"name": "A", "email": "a@b"}, "email", "e-mail"),
        ({"name": "A", "phone": "call me"}, "phone", "digits"),
        ({"name": 5}, "name", "must be text"),
        ({"name": "A", "notes": ["x"]}, "notes", "must be text"),
        ({"name": "x" * 201}, "name", "too long"),
        ({"name": "A", "measurements": []}, "measurements", "object"),
        ({"name": "A", "measurements": {"waist_cm": "80"}}, "measurements.waist_cm", "centimetres"),
        ({"name": "A", "measurements": {"waist_cm": True}}, "measurements.waist_cm", "centimetres"),
        ({"name": "A", "measurements": {"waist_cm": 5}}, "measurements.waist_cm", "between 10 and 400"),
        ({"name": "A", "measurements": {"chest_cm": 100}}, "measurements.chest_cm", "not a field"),
    ],
)
def test_contact_refusals_name_the_field(params: dict[str, Any], field: str, words: str) -> None:
    error = invalid_field(clean_contact_fields, params, partial=False)
    assert error.details["field"] == field
    assert field.split(".")[-1] in error.message
    assert words in error.message


def test_measurements_default_to_nothing() -> None:
    assert clean_measurements(None) == {"waist_cm": None, "hip_cm": None, "length_cm": None}


def test_items_are_cleaned_and_totalled() -> None:
    items = clean_items([
        {"description": " Kilt ", "tartan": "Black Watch", "quantity": 2, "unit_price_pence": 45000},
        {"description": "Pin", "unit_price_pence": 2500},
    ])
    assert items == [
        {"description": "Kilt", "tartan": "Black Watch", "quantity": 2, "unit_price_pence": 45000},
        {"description": "Pin", "tartan": "", "quantity": 1, "unit_price_pence": 2500},
    ]
    assert total_pence(items) == 92500


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        ("kilt", "items", "must be a list"),
        ([], "items", "empty"),
        ([{"description": "k", "unit_price_pence": 1}] * 51, "items", "at most 50"),
        (["kilt"], "items[0]", "must be an object"),
        ([{"unit_price_pence": 1}], "items[0].description", "required"),
        ([{"description": "k", "quantity": -1, "unit_price_pence": 1}], "items[0].quantity", "at least 1"),
        ([{"description": "k", "quantity": 0, "unit_price_pence": 1}], "items[0].quantity", "at least 1"),
        ([{"description": "k", "quantity": 1001, "unit_price_pence": 1}], "items[0].quantity", "at most 1000"),
        ([{"description": "k", "quantity": "2", "unit_price_pence": 1}], "items[0].quantity", "whole number"),
        ([{"description": "k", "quantity": 1.5, "unit_price_pence": 1}], "items[0].quantity", "whole number"),
        ([{"description": "k", "quantity": True, "unit_price_pence": 1}], "items[0].quantity", "whole number"),
        ([{"description": "k"}], "items[0].unit_price_pence", "whole number"),
        ([{"description": "k", "unit_price_pence": -5}], "items[0].unit_price_pence", "at least 0"),
        ([{"description": "k", "unit_price_pence": 1, "colour": "red"}], "items[0].colour", "not a field"),
        ([{"description": "ok", "unit_price_pence": 1}, {"description": "", "unit_price_pence": 1}],
         "items[1].description", "required"),
    ],
)
def test_item_refusals_name_the_field(value: Any, field: str, words: str) -> None:
    error = invalid_field(clean_items, value)
    assert error.details["field"] == field
    assert field in error.message
    assert words in error.message


def test_unknown_fields_are_named() -> None:
    error = invalid_field(reject_unknown, {"name": "A", "nmae": "B", "zzz": 1}, ("name",))
    assert error.details["field"] == "nmae"
    assert "'nmae'" in error.message and "allowed: name" in error.message
    reject_unknown({"name": "A"}, ("name", "email"))


def test_ints_refuse_bools_text_and_out_of_range() -> None:
    assert as_int(3, "id", 1) == 3
    for value, words in ((True, "true/false"), ("3", "text"), (None, "nothing"), (2.0, "a number"), ([], "a list")):
        error = invalid_field(as_int, value, "id")
        assert error.details["field"] == "id" and words in error.message
    assert "at least 1" in invalid_field(as_int, 0, "id", 1).message
    assert invalid_field(require_int, {}, "version").message == "'version' is missing."


def test_text_is_stripped_and_limited() -> None:
    assert as_text("  hi  ", "notes") == "hi"
    assert as_text(None, "notes") == ""
    assert "too long" in invalid_field(as_text, "abcd", "notes", max_len=3).message


def test_paging_parameters() -> None:
    assert clean_page({}, 100, 500) == (100, None)
    assert clean_page({"limit": 500, "cursor": "42"}, 100, 500) == (500, 42)
    assert invalid_field(clean_page, {"limit": 501}, 100, 500).details["field"] == "limit"
    assert invalid_field(clean_page, {"limit": 0}, 100, 500).details["field"] == "limit"
    assert invalid_field(clean_page, {"cursor": 42}, 100, 500).details["field"] == "cursor"
    assert invalid_field(clean_page, {"cursor": "-1"}, 100, 500).details["field"] == "cursor"


def test_query_text() -> None:
    assert clean_query({}) is None
    assert clean_query({"q": "  "}) is None
    assert clean_query({"q": " Isla "}) == "Isla"
    assert invalid_field(clean_query, {"q": 3}).details["field"] == "q"


def test_numbers_beyond_the_database_are_refused_as_invalid() -> None:
    # ids, versions and cursors larger than the store's integer columns must never reach the database
    error = invalid_field(require_int, {"id": 2**31}, "id", 1)
    assert error.details["field"] == "id" and "at most 2147483647" in error.message
    assert require_int({"id": 2**31 - 1}, "id", 1) == 2**31 - 1
    assert invalid_field(clean_page, {"cursor": "9" * 40}, 100, 500).details["field"] == "cursor"
    assert invalid_field(clean_page, {"cursor": "²"}, 100, 500).details["field"] == "cursor"


def test_text_refuses_nul_characters() -> None:
    error = invalid_field(as_text, "Mo\x00rag", "name")
    assert error.details["field"] == "name" and "NUL" in error.message
    error = invalid_field(clean_items, [{"description": "Kilt\x00", "unit_price_pence": 1}])
    assert error.details["field"] == "items[0].description"
