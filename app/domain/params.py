"""The parameters of every call, as typed models (msgspec): shapes, types and limits in one place.

msgspec checks types, required fields, unknown fields and numeric limits; `__post_init__` does what a type
cannot say (text is trimmed, then its length and NUL characters checked; e-mail and phone shapes). `decode`
turns msgspec's refusals into InvalidError with today's plain words and the field named (`items[0].quantity`).
The JSON Schema of each model is the `Params` part of docs/asyncapi.yaml (app/contract/asyncapi.py).

Pure rules on plain values: no broker, no database.
"""

from __future__ import annotations

import re
import types
import typing
from datetime import date
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import UNSET, Meta, UnsetType

from app.domain.errors import InvalidError

MAX_INT = 2**31 - 1  # the largest id, version or number the store's integer columns hold
MAX_PAGE_SIZE = 500  # list calls never send more than this many items in one reply
DEFAULT_PAGE_SIZE = 100
MAX_TEXT = {"name": 200, "email": 254, "phone": 32, "address": 1000, "notes": 4000}
MAX_ITEMS = 50
MAX_QUANTITY = 1000
MAX_UNIT_PRICE_PENCE = 10_000_000  # a hundred thousand pounds for one kilt is a typo
MAX_REASON = 200
MAX_QUERY = 200
MAX_TIMEZONE = 64

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+()\-. ]{3,32}$")
HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
TIMEZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
DAY_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

NOTICE_ROLES: tuple[str, ...] = ("sales", "workshop", "shipping")

# The JSON Schema of text as the service checks it: trimmed first, so the limits apply to the trimmed text.
Id = Annotated[int, Meta(ge=1, le=MAX_INT)]
Version = Annotated[int, Meta(ge=1, le=MAX_INT, description="1 when created, one higher after every change.")]
Limit = Annotated[int, Meta(ge=1, le=MAX_PAGE_SIZE,
                            description="Items per page. Leave it out for the default; null is refused.")]
Cursor = Annotated[str | None, Meta(description="Opaque. The previous page's next_cursor, unchanged; null or "
                                                "absent for the first page.")]
Centimetres = Annotated[float, Meta(ge=10, le=400)]
# the same words as app/domain/order_states.OrderStatus and the duplicate store (tests/test_contract_docs.py)
OrderStatusName = Literal["pending", "in_progress", "completed", "collected", "cancelled"]
DuplicateStatus = Literal["open", "kept_apart", "merged", "all"]
NoticeRole = Literal["sales", "workshop", "shipping"]
TimeOfDay = Annotated[str, Meta(extra_json_schema={"pattern": HHMM_RE.pattern})]


# Text: its limits are checked on the trimmed text (in __post_init__), so the schema states them as extras;
# null means "" except where text is required.
Name = Annotated[str, Meta(extra_json_schema={"minLength": 1, "maxLength": MAX_TEXT["name"]})]
Email = Annotated[str | None, Meta(extra_json_schema={"maxLength": MAX_TEXT["email"], "format": "email"},
                                   description="Empty, or an address like x@y.z.")]
Phone = Annotated[str | None, Meta(extra_json_schema={"maxLength": MAX_TEXT["phone"],
                                                      "pattern": r"^([0-9+().\- ]{3,32})?$"},
                                   description="Empty, or 3 to 32 of digits, spaces and + ( ) - .")]
Address = Annotated[str | None, Meta(extra_json_schema={"maxLength": MAX_TEXT["address"]})]
Notes = Annotated[str | None, Meta(extra_json_schema={"maxLength": MAX_TEXT["notes"]})]
Query = Annotated[str | None, Meta(extra_json_schema={"maxLength": MAX_QUERY})]
Reason = Annotated[str | None, Meta(extra_json_schema={"maxLength": MAX_REASON})]
Description = Annotated[str, Meta(extra_json_schema={"minLength": 1, "maxLength": 500})]
Tartan = Annotated[str | None, Meta(extra_json_schema={"maxLength": 200})]


class FieldError(ValueError):
    """Raised in __post_init__: msgspec adds where the object is (`$.items[0]`), decode adds the field."""

    def __init__(self, field: str, words: str) -> None:
        super().__init__(words)
        self.field = field
        self.words = words


def clean_text(value: str | None, field: str, max_len: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if "\x00" in value:  # PostgreSQL cannot store it in text; no person types it
        raise FieldError(field, "'{f}' contains a NUL character (\\x00), which text here cannot hold.")
    if required and not value:
        raise FieldError(field, "'{f}' is required and cannot be empty.")
    if len(value) > max_len:
        raise FieldError(field, f"'{{f}}' is too long ({len(value)} characters, at most {max_len}).")
    return value


class Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every model: unknown fields are refused."""

    def given(self) -> dict[str, Any]:
        """The fields the caller sent (UNSET ones left out), as plain values."""
        return {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not UNSET}


class Page(Params, kw_only=True):
    limit: Limit = DEFAULT_PAGE_SIZE
    cursor: Cursor = None

    def __post_init__(self) -> None:
        clean_cursor(self.cursor)

    def position(self) -> int | None:
        """The cursor as the store's position (checked when decoded)."""
        return clean_cursor(self.cursor)


def clean_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    # isascii: str.isdigit() also accepts digits such as '²' that int() refuses
    if cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_INT:
        return int(cursor)
    raise FieldError("cursor", "'{f}' is not one this service handed out; pass back next_cursor as is.")


# -- contacts -----------------------------------------------------------------------------------------


class Measurements(Params, kw_only=True):
    """Keys may be left out: they become null. In contacts.update it replaces all three values. A value of
    null (or "") means not measured."""

    waist_cm: Centimetres | Literal[""] | None = None
    hip_cm: Centimetres | Literal[""] | None = None
    length_cm: Centimetres | Literal[""] | None = None

    def values(self) -> dict[str, float | None]:
        return {f: (None if v in (None, "") else float(v)) for f in self.__struct_fields__
                for v in [getattr(self, f)]}


class ContactFields(Params, kw_only=True):
    name: Any = UNSET  # each model that has it says how (required on create, optional elsewhere)
    email: Email | UnsetType = UNSET
    phone: Phone | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    notes: Notes | UnsetType = UNSET
    measurements: Measurements | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        for field in ("name", "email", "phone", "address", "notes"):
            value = getattr(self, field)
            if value is not UNSET:
                setattr(self, field, clean_text(value, field, MAX_TEXT[field], required=field == "name"))
        if self.email and not EMAIL_RE.match(self.email):
            raise FieldError("email", f"'{{f}}' does not look like an e-mail address: {self.email!r}.")
        if self.phone and not PHONE_RE.match(self.phone):
            raise FieldError("phone", f"'{{f}}' may hold only digits, spaces and + ( ) - . (got {self.phone!r}).")

    def contact_fields(self) -> dict[str, Any]:
        """The contact fields sent, cleaned (measurements as all three values)."""
        out = {f: getattr(self, f) for f in ContactFields.__struct_fields__ if getattr(self, f) is not UNSET}
        if "measurements" in out:
            m = out["measurements"]
            out["measurements"] = (m or Measurements()).values()
        return out


class NewContact(ContactFields, kw_only=True):
    name: Name


class ContactChange(ContactFields, kw_only=True):
    name: Name | UnsetType = UNSET


class ContactsList(Page, kw_only=True):
    q: Annotated[Query, Meta(description="Case-insensitive substring of name, email, phone or address.")] = None
    merged: Annotated[bool, Meta(description="true lists the contacts merged into another too (merged_into set).")] \
        = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.q = clean_text(self.q, "q", MAX_QUERY) or None


class ContactsGet(Params, kw_only=True):
    id: Id


class ContactsCreate(NewContact, kw_only=True):
    pass


class ContactsUpdate(ContactChange, kw_only=True):
    """Fields left out keep their value."""

    id: Id
    version: Version


class ContactsDuplicates(Page, kw_only=True):
    status: Annotated[DuplicateStatus,
                      Meta(description="Only pairs in this status; all for every pair.")] = "open"


class ContactsFlagDuplicate(Params, kw_only=True):
    """The two ids may come in either order; a pair already known is returned as it is."""

    first_id: Id
    second_id: Id
    score: Annotated[int, Meta(ge=0, le=100)] = 0
    reason: Reason = ""

    def __post_init__(self) -> None:
        self.reason = clean_text(self.reason, "reason", MAX_REASON)


class ContactsKeepApart(Params, kw_only=True):
    id: Id
    version: Version


class ContactsMerge(ContactChange, kw_only=True):
    """merge_id becomes part of keep_id. The contact fields are the values keep_id takes (as in
    contacts.update: fields left out keep keep_id's value)."""

    keep_id: Id
    keep_version: Version
    merge_id: Id
    merge_version: Version


# -- orders ---------------------------------------------------------------------------------------------


class OrderItem(Params, kw_only=True):
    description: Description
    tartan: Tartan = ""
    quantity: Annotated[int, Meta(ge=1, le=MAX_QUANTITY)] = 1
    unit_price_pence: Annotated[int, Meta(ge=0, le=MAX_UNIT_PRICE_PENCE)]

    def __post_init__(self) -> None:
        self.description = clean_text(self.description, "description", 500, required=True)
        self.tartan = clean_text(self.tartan, "tartan", 200)

    def plain(self) -> dict[str, Any]:
        return {"description": self.description, "tartan": self.tartan, "quantity": self.quantity,
                "unit_price_pence": self.unit_price_pence}


OrderItems = Annotated[list[OrderItem], Meta(min_length=1, max_length=MAX_ITEMS)]


class OrdersList(Page, kw_only=True):
    status: Annotated[OrderStatusName | Annotated[list[OrderStatusName], Meta(min_length=1)] | None,
                      Meta(description="An order status, or a non-empty list of them; null or absent for every "
                                       "status.")] = None
    q: Annotated[Query, Meta(description="Case-insensitive substring of the order number, the notes or the "
                                         "contact's name.")] = None
    contact_id: Annotated[Id | None, Meta(description="Only this contact's orders; null or absent for every "
                                                      "contact.")] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.q = clean_text(self.q, "q", MAX_QUERY) or None

    def statuses(self) -> list[str] | None:
        return None if self.status is None else [self.status] if isinstance(self.status, str) else list(self.status)


class OrdersGet(Params, kw_only=True):
    id: Id


class OrdersPlace(Params, kw_only=True):
    contact_id: Id
    items: OrderItems
    notes: Notes = ""

    def __post_init__(self) -> None:
        self.notes = clean_text(self.notes, "notes", MAX_TEXT["notes"])


class OrdersAmend(Params, kw_only=True):
    """Give items, notes or both. items replaces the whole list."""

    id: Id
    version: Version
    items: OrderItems | UnsetType = UNSET
    notes: Notes | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.notes is not UNSET:
            self.notes = clean_text(self.notes, "notes", MAX_TEXT["notes"])
        if self.items is UNSET and self.notes is UNSET:
            raise FieldError("items", "Nothing to change: give 'items', 'notes' or both.")


class OrderMove(Params, kw_only=True):
    id: Id
    version: Version


# -- pickups ----------------------------------------------------------------------------------------------


Day = Annotated[str | None, Meta(extra_json_schema={"pattern": DAY_RE.pattern})]


def clean_day(value: str | None, field: str) -> str | None:
    """A day as YYYY-MM-DD (a real date), or None."""
    if value is None:
        return None
    day = value.strip()
    try:
        if len(day) != 10:
            raise ValueError
        return date.fromisoformat(day).isoformat()
    except ValueError:
        raise FieldError(field, f"'{{f}}' must be a day as YYYY-MM-DD, for example 2026-03-14 (got {value!r}).") \
            from None


class PickupsList(Page, kw_only=True):
    pass


class PickupsBilling(Page, kw_only=True):
    since: Annotated[Day, Meta(description="Only orders that became ready on this day of the shop's calendar (its "
                                           "time zone) or later; null or absent from the first.")] = None
    until: Annotated[Day, Meta(description="Only orders that became ready on this day of the shop's calendar (its "
                                           "time zone) or earlier; not before since.")] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.since, self.until = clean_day(self.since, "since"), clean_day(self.until, "until")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise FieldError("until", f"'{{f}}' ({self.until}) is before 'since' ({self.since}).")


# -- notices ----------------------------------------------------------------------------------------------


class NoticesSettingsGet(Params, kw_only=True):
    role: NoticeRole


def _hhmm(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not HHMM_RE.match(value.strip()):
        raise FieldError(field, f"'{{f}}' must be a time of day as HH:MM, for example 07:30 (got {value!r}).")
    return value.strip()


class NoticesSettingsSet(Params, kw_only=True):
    """Fields left out keep their value. Refused with invalid when they do not fit together: email_enabled
    without an email, only one of the quiet hours, or equal quiet hours."""

    role: NoticeRole
    version: Annotated[int, Meta(ge=0, le=MAX_INT, description="The version you loaded; 0 when never saved.")]
    email_enabled: bool | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    quiet_start: Annotated[TimeOfDay | None, Meta(description="HH:MM local time; null together with quiet_end "
                                                              "for no quiet hours.")] | UnsetType = UNSET
    quiet_end: TimeOfDay | UnsetType | None = UNSET
    digest: bool | UnsetType = UNSET
    digest_at: TimeOfDay | UnsetType = UNSET
    timezone: Annotated[str, Meta(extra_json_schema={"maxLength": MAX_TIMEZONE, "pattern": TIMEZONE_RE.pattern},
                                  description="A time zone name such as Europe/London.")] | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.email is not UNSET:
            self.email = clean_text(self.email, "email", 254)
            if self.email and not EMAIL_RE.match(self.email):
                raise FieldError("email", f"'{{f}}' does not look like an e-mail address: {self.email!r}.")
        for field in ("quiet_start", "quiet_end", "digest_at"):
            if getattr(self, field) is not UNSET:
                setattr(self, field, _hhmm(getattr(self, field), field))
        if self.timezone is not UNSET:
            self.timezone = clean_timezone(self.timezone)

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.given().items() if k not in ("role", "version")}


def clean_timezone(value: str, field: str = "timezone") -> str:
    zone = clean_text(value, field, MAX_TIMEZONE, required=True)
    if not TIMEZONE_RE.match(zone):
        raise FieldError(field, f"'{{f}}' must be a time zone name such as Europe/London (got {zone!r}).")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError(field, f"'{{f}}' {zone!r} is not a time zone this computer knows (try Europe/London)."
                         ) from None
    return zone


# -- msgspec's refusals in plain words ----------------------------------------------------------------------

M = TypeVar("M", bound=Params)

_WHERE = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_KIND = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false",
         "array": "a list", "object": "an object", "null": "nothing (null)"}


def type_name(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "an object", type(None): "nothing (null)"}.get(type(value), type(value).__name__)


def decode(model: type[M], params: dict[str, Any]) -> M:
    """params (a JSON object already parsed) as the model, or InvalidError naming the field."""
    try:
        return msgspec.convert(params, model, strict=True)
    except msgspec.ValidationError as exc:
        raise translate(exc, model, params) from None


def translate(exc: msgspec.ValidationError, model: type[Params], params: Any) -> InvalidError:
    match = _WHERE.match(str(exc))
    assert match is not None
    msg, path = match.group("msg"), match.group("path") or ""
    cause = exc.__cause__
    if isinstance(cause, FieldError):
        field = join(path, cause.field)
        return InvalidError(cause.words.replace("{f}", field), field=field)
    owner, value = walk(model, params, path)
    field = path.lstrip(".")
    if m := re.match(r"Object missing required field `(\w+)`", msg):
        field = join(path, m.group(1))
        kind, _ = walk(model, params, f"{path}.{m.group(1)}")
        whole = " (a whole number)" if unwrap(kind, int) is int else ""
        return InvalidError(f"'{field}' is missing: it is required{whole}.", field=field)
    if m := re.match(r"Object contains unknown field `(.+)`", msg, re.S):
        field = join(path, m.group(1))
        allowed = ", ".join(sorted(owner.__struct_fields__)) if isinstance(owner, type) and \
            issubclass(owner, msgspec.Struct) else ""
        return InvalidError(f"'{field}' is not a field this call understands (allowed: {allowed}).", field=field)
    if m := re.match(r"Expected `([^`]+)`, got `(\w+)`", msg):
        if centimetres(owner):
            words = "a number of centimetres"
        else:
            words = " or ".join(_KIND.get(k.strip(), k.strip()) for k in m.group(1).split("|"))
        return InvalidError(f"'{field}' must be {words}, not {type_name(value)}.", field=field)
    if m := re.match(r"Expected `(?:int|float)` ([<>]=) (\S+)", msg):
        if centimetres(owner):
            return InvalidError(f"'{field}' must be between 10 and 400 cm (got {value}).", field=field)
        bound = m.group(2).removesuffix(".0")
        side = "at least" if m.group(1) == ">=" else "at most"
        return InvalidError(f"'{field}' must be {side} {bound} (got {value}).", field=field)
    if m := re.match(r"Expected `array` of length ([<>]=) (\d+)", msg):
        if m.group(1) == ">=":
            return InvalidError(f"'{field}' is empty: give at least {m.group(2)}.", field=field)
        return InvalidError(f"'{field}' has {len(value)} entries, at most {m.group(2)} are allowed.", field=field)
    if msg.startswith("Invalid enum value") and centimetres(owner):
        return InvalidError(f"'{field}' must be a number of centimetres, not {type_name(value)}.", field=field)
    if msg.startswith("Invalid enum value"):
        choices = ", ".join(get_args(literal(owner)) or ())
        return InvalidError(f"'{field}' must be one of {choices} (got {value!r}).", field=field)
    return InvalidError(f"'{field or 'the request'}' is not right: {msg}.", field=field or None)


def join(path: str, name: str) -> str:
    return f"{path}.{name}".lstrip(".") if name else path.lstrip(".")


def walk(model: Any, params: Any, path: str) -> tuple[Any, Any]:
    """(the annotation, the value sent) at path, e.g. `.items[0].quantity`."""
    kind, value = model, params
    for name, index in _PART.findall(path):
        kind = unwrap(kind, list if index else msgspec.Struct)
        if index:
            kind = get_args(kind)[0] if get_args(kind) else Any
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            hints = typing.get_type_hints(kind, include_extras=True) if isinstance(kind, type) else {}
            kind = hints.get(name, Any)
            value = value.get(name) if isinstance(value, dict) else None
    return unwrap(kind, msgspec.Struct), value


def unwrap(kind: Any, want: Any) -> Any:
    """The part of an annotation (through Annotated and unions) that is a `want` (a list or a Struct)."""
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if get_origin(kind) in (Union, types.UnionType):
        for arg in get_args(kind):
            inner = unwrap(arg, want)
            if (want is list and get_origin(inner) is list) or (isinstance(inner, type) and issubclass(inner, want)):
                return inner
    return kind


def centimetres(kind: Any) -> bool:
    return kind == Centimetres or Centimetres in get_args(kind)


def literal(kind: Any) -> Any:
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if get_origin(kind) is Literal:
        return kind
    for arg in get_args(kind):
        found = literal(arg)
        if found is not None:
            return found
    return None
