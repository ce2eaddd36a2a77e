"""The method registry: every RPC method declared once, with its parameters model, whether it changes
something, who may call it, its one-line summary, the error codes it may answer with and the schema of its
result. The service's routes, METHODS, MUTATING_METHODS, PERMISSIONS and every per-method entry of
docs/asyncapi.yaml (channel, operation, reply, request and reply messages, Params schema) are derived from it.

Adding a method: declare it here (and its model in app/domain/params.py), write its handler with
`@serves("<name>")` in app/service/, and its prose in docs/contract.md; then
`python -m app.contract.asyncapi --write`. Only a method whose result is a new kind of entity also needs a
hand-written schema for it in docs/asyncapi.base.yaml (named by `result=`). tests/test_contract_docs.py fails
until all of that agrees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.contract.names import ERROR_CODES, Role
from app.domain import params as p

EVERYONE = frozenset(Role)
CUSTOMER_DESKS = frozenset({Role.SALES, Role.STORE})  # who changes a customer's details and orders
WORKSHOP = frozenset({Role.WORKSHOP})
SHIPPING = frozenset({Role.SHIPPING})
BOARD = frozenset({Role.WORKSHOP, Role.SHIPPING})  # the pickup list and billing
SALES = frozenset({Role.SALES})  # the possible-duplicates queue and merging contacts
# each caller reads and changes only their own notice settings (the service keys them by user_id)
NOTICE_ROLES = frozenset(Role(r) for r in p.NOTICE_ROLES)
SALES_ONLY = "Only the sales login may call it."


@dataclass(frozen=True)
class Method:
    name: str
    params: type[p.Params]
    mutating: bool
    roles: frozenset[Role]
    example: dict[str, Any] = field(default_factory=dict)  # one request that passes (docs/asyncapi.yaml)
    summary: str = ""  # one sentence: what it does and which events it emits
    errors: tuple[str, ...] = ()  # the codes it may refuse with, besides internal and unavailable (any call)
    result: str = ""  # the schema component (docs/asyncapi.base.yaml) of its result
    note: str = ""  # a sentence added to the operation's description in docs/asyncapi.yaml

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]


REGISTRY: dict[str, Method] = {}


def method(name: str, params: type[p.Params], *, mutating: bool, roles: Iterable[Role], summary: str,
           errors: Iterable[str], result: str, example: dict[str, Any] | None = None, note: str = "") -> Method:
    if name in REGISTRY:
        raise ValueError(f"{name} is declared twice")
    codes = tuple(errors)
    unknown = [code for code in codes if code not in ERROR_CODES]
    if unknown or not summary or not result:
        raise ValueError(f"{name} needs a summary, a result schema and known error codes (not {unknown})")
    declared = Method(name, params, mutating, frozenset(roles), dict(example or {}), summary, codes, result,
                      note)
    REGISTRY[name] = declared
    return declared


_ITEM = {"description": "Kilt, 8 yard", "tartan": "Campbell Ancient", "quantity": 1, "unit_price_pence": 45000}
_MEASUREMENTS = {"waist_cm": 86, "hip_cm": 98, "length_cm": 61.5}

# -- contacts ---------------------------------------------------------------------------------------------
method("contacts.list", p.ContactsList, mutating=False, roles=EVERYONE,
       example={"q": "campbell", "merged": False, "limit": 100, "cursor": None},
       summary="List contacts in ascending id order, one page at a time.",
       errors=("invalid",), result="ContactPage")
method("contacts.get", p.ContactsGet, mutating=False, roles=EVERYONE, example={"id": 1},
       summary="Get one contact with its history.",
       errors=("invalid", "not_found"), result="ContactDetail")
method("contacts.create", p.ContactsCreate, mutating=True, roles=CUSTOMER_DESKS,
       example={"name": "Morag Campbell", "email": "morag@example.org", "phone": "+44 131 555 0101",
                "address": "12 High St, Inverness", "notes": "Prefers fittings on Saturdays",
                "measurements": _MEASUREMENTS},
       summary="Create a contact. Emits contact.created.",
       errors=("invalid",), result="Contact")
method("contacts.update", p.ContactsUpdate, mutating=True, roles=CUSTOMER_DESKS,
       example={"id": 1, "version": 1, "name": "Morag Campbell", "email": "morag.campbell@example.org",
                "phone": "+44 131 555 0199", "address": "12 High St, Inverness", "notes": "",
                "measurements": {**_MEASUREMENTS, "waist_cm": 87}},
       summary="Change some fields of a contact. Emits contact.updated (unless nothing changed).",
       errors=("invalid", "not_found", "conflict"), result="Contact")
# the review queue of possible duplicates and merging (one word after the dot: the `contacts.*` binding)
method("contacts.duplicates", p.ContactsDuplicates, mutating=False, roles=SALES,
       example={"status": "open", "limit": 100, "cursor": None},
       summary="List the possible duplicates: pairs of contacts that are probably one person.",
       errors=("invalid",), result="DuplicatePage", note=SALES_ONLY)
method("contacts.flag_duplicate", p.ContactsFlagDuplicate, mutating=True, roles=SALES,
       example={"first_id": 3, "second_id": 17, "score": 90, "reason": "similar names (90%) and the same phone"},
       summary="Queue two contacts for review as a possible duplicate. Emits duplicate.queued (unless the pair is "
               "known).",
       errors=("invalid", "not_found"), result="DuplicatePair", note=SALES_ONLY)
method("contacts.keep_apart", p.ContactsKeepApart, mutating=True, roles=SALES, example={"id": 1, "version": 1},
       summary="Resolve an open pair as two different people. Emits duplicate.resolved.",
       errors=("invalid", "not_found", "conflict"), result="DuplicatePair", note=SALES_ONLY)
method("contacts.merge", p.ContactsMerge, mutating=True, roles=SALES,
       example={"keep_id": 3, "keep_version": 2, "merge_id": 17, "merge_version": 1, "name": "Mhairi Ó Briain",
                "email": "mhairi.obriain@example.ie", "phone": "07700 900461",
                "address": "4 Bridge Street, Dalmally", "notes": "Prefers ancient colours",
                "measurements": {"waist_cm": 74, "hip_cm": 96, "length_cm": 55}},
       summary="Merge one contact into another: orders move, the chosen values stay. Emits order.moved, "
               "contact.updated, contact.merged, duplicate.*.",
       errors=("invalid", "not_found", "conflict"), result="MergeResult", note=SALES_ONLY)

# -- orders -----------------------------------------------------------------------------------------------
method("orders.list", p.OrdersList, mutating=False, roles=EVERYONE,
       example={"status": ["pending", "in_progress"], "q": "K-00", "contact_id": 1, "limit": 50, "cursor": None},
       summary="List orders in ascending id order, one page at a time.",
       errors=("invalid",), result="OrderPage")
method("orders.get", p.OrdersGet, mutating=False, roles=EVERYONE, example={"id": 1},
       summary="Get one order with its contact and its history.",
       errors=("invalid", "not_found"), result="OrderDetail")
method("orders.place", p.OrdersPlace, mutating=True, roles=CUSTOMER_DESKS,
       example={"contact_id": 1, "items": [_ITEM], "notes": "Fitting on the 3rd"},
       summary="Place a new order (status pending). Emits order.placed.",
       errors=("invalid", "not_found"), result="Order")
method("orders.amend", p.OrdersAmend, mutating=True, roles=CUSTOMER_DESKS,
       example={"id": 1, "version": 1, "notes": "Fitting on the 4th",
                "items": [_ITEM, {"description": "Sporran", "tartan": "", "quantity": 1,
                                  "unit_price_pence": 12000}]},
       summary="Change the items or notes of a pending order. Emits order.amended (unless nothing changed).",
       errors=("invalid", "not_found", "locked", "conflict"), result="Order")
method("orders.cancel", p.OrderMove, mutating=True, roles=CUSTOMER_DESKS, example={"id": 1, "version": 1},
       summary="Cancel a pending order: pending -> cancelled. Emits order.cancelled.",
       errors=("invalid", "not_found", "locked", "conflict"), result="Order")
method("orders.start", p.OrderMove, mutating=True, roles=WORKSHOP, example={"id": 1, "version": 1},
       summary="Start making an order: pending -> in_progress. Emits order.started.",
       errors=("invalid", "not_found", "conflict"), result="Order")
method("orders.complete", p.OrderMove, mutating=True, roles=WORKSHOP, example={"id": 1, "version": 2},
       summary="The order is made: in_progress -> completed. Emits order.completed.",
       errors=("invalid", "not_found", "conflict"), result="Order")
method("orders.collect", p.OrderMove, mutating=True, roles=SHIPPING, example={"id": 1, "version": 3},
       summary="The customer collected the order: completed -> collected. Emits order.collected.",
       errors=("invalid", "not_found", "conflict"), result="Order")

# -- pickups ----------------------------------------------------------------------------------------------
method("pickups.list", p.PickupsList, mutating=False, roles=BOARD, example={"limit": 100, "cursor": None},
       summary="List the completed orders waiting to be collected, with contact details and the amount due.",
       errors=("invalid",), result="PickupPage")
method("pickups.billing", p.PickupsBilling, mutating=False, roles=BOARD,
       example={"since": "2026-03-01", "until": "2026-03-31", "limit": 100, "cursor": None},
       summary="The billing summary: ready and collected orders with what to bill, and totals per day.",
       errors=("invalid",), result="BillingPage")

# -- notices ----------------------------------------------------------------------------------------------
method("notices.settings.get", p.NoticesSettingsGet, mutating=False, roles=NOTICE_ROLES,
       example={"role": "shipping"},
       summary="Get your own notice settings for one role.",
       errors=("invalid", "forbidden"), result="NoticeSettings")
method("notices.settings.set", p.NoticesSettingsSet, mutating=True, roles=NOTICE_ROLES,
       example={"role": "shipping", "version": 0, "email_enabled": True, "email": "dougie@example.org",
                "quiet_start": "21:00", "quiet_end": "07:00", "digest": False, "digest_at": "08:00",
                "timezone": "Europe/London"},
       summary="Change your own notice settings for one role. Emits no event.",
       errors=("invalid", "conflict", "forbidden"), result="NoticeSettings")


# -- derived ------------------------------------------------------------------------------------------------

# Each method's routing key is its name; the first part picks the service queue it lands in.
METHODS: tuple[str, ...] = tuple(REGISTRY)
# Calls that change something: they must carry a message_id (the idempotency key).
MUTATING_METHODS: frozenset[str] = frozenset(m.name for m in REGISTRY.values() if m.mutating)
# method -> roles allowed to call it (enforced by the service and, through per-user permissions, by the broker)
PERMISSIONS: dict[str, frozenset[str]] = {m.name: frozenset(str(r) for r in m.roles) for m in REGISTRY.values()}


def methods_of(role: str) -> list[str]:
    return sorted(m for m, roles in PERMISSIONS.items() if role in roles)
