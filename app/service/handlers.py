"""One handler per contract method: check the parameters, then ask the store.

The table at the bottom is the service's routing; tests/test_contract_docs.py holds it against
app/contract.py and docs/."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from app.config import DEFAULT_TIMEZONE, shop_zone
from app.contract import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.domain.billing import clean_day_range
from app.domain.errors import ForbiddenError, InvalidError, ShopError, UnavailableError
from app.domain.notices import clean_settings_get, clean_settings_set
from app.domain.order_states import OrderStatus
from app.domain.roles import SERVICE_ROLE, authorize, role_for_user
from app.domain.validation import (
    CONTACT_FIELDS,
    as_int,
    as_text,
    clean_contact_fields,
    clean_items,
    clean_page,
    clean_query,
    reject_unknown,
    require_int,
)
from app.messaging.rpc_server import Call
from app.service.duplicate_handlers import DuplicateHandlers
from app.store.billing import billing_summary
from app.store.failures import is_transient
from app.store.notice_store import NoticeStore
from app.store.shop_store import ShopStore, Tx

PAGE_PARAMS = ("limit", "cursor")
STORE_UNAVAILABLE = ("The shop's records cannot be reached just now, so nothing was changed. "
                     "Please try again in a minute.")


class ShopHandlers:
    def __init__(self, store: ShopStore, namespace: str | None = None, dev_mode: bool = True,
                 timezone: str = DEFAULT_TIMEZONE) -> None:
        """With a namespace, every call is authorized by its caller's role (see app/domain/roles.py). The
        timezone is the shop's: the days of pickups.list and pickups.billing."""
        self.store = store
        self.namespace = namespace
        self.dev_mode = dev_mode
        self.zone = shop_zone(timezone)
        self.routes: dict[str, Callable[[Call], Awaitable[Any]]] = {
            "contacts.list": self.contacts_list,
            "contacts.get": self.contacts_get,
            "contacts.create": self.contacts_create,
            "contacts.update": self.contacts_update,
            "orders.list": self.orders_list,
            "orders.get": self.orders_get,
            "orders.place": self.orders_place,
            "orders.amend": self.orders_amend,
            "orders.cancel": self._move("cancel"),
            "orders.start": self._move("start"),
            "orders.complete": self._move("complete"),
            "orders.collect": self._move("collect"),
            "pickups.list": self.pickups_list,
            "pickups.billing": self.pickups_billing,
            "notices.settings.get": self.notices_settings_get,
            "notices.settings.set": self.notices_settings_set,
        }
        self.routes.update(DuplicateHandlers(self).routes)  # contacts.duplicates, ..., contacts.merge

    async def __call__(self, call: Call) -> Any:
        route = self.routes.get(call.method)
        if route is None:
            raise InvalidError(f"'{call.method}' is not a method of this service.", field="method")
        if self.namespace is not None:
            # A sealed dead letter sent back runs as its sender, but only the shop's operator sends them back.
            if call.replayed_by is not None and role_for_user(
                    call.replayed_by, self.namespace, self.dev_mode) not in (None, SERVICE_ROLE):
                raise ForbiddenError("Only the shop's operator (the service login) may send dead letters back.",
                                     {"replayed_by": call.replayed_by})
            authorize(role_for_user(call.user_id, self.namespace, self.dev_mode), call.method)
        try:
            return await route(call)
        except Exception as exc:
            if isinstance(exc, ShopError) or not is_transient(exc):
                raise
            # Nothing was changed and nothing is set aside: the caller may simply send it again.
            raise UnavailableError(STORE_UNAVAILABLE) from None

    def mutate(self, call: Call, change: Callable[[Tx], dict[str, Any]]) -> Awaitable[dict[str, Any]]:
        """Run a change once per (sender, message_id) through the store's requests ledger; every change handler,
        here and in DuplicateHandlers, goes through this."""
        assert call.message_id, "the RPC server refuses changes without a message_id"
        # The caller's app_id (e.g. kiltshop-import/sales) is kept in the history as `via`, and who sent it back
        # when an operator replayed it.
        via = call.app_id if call.replayed_by is None else f"{call.app_id or 'a request'}, sent again by " \
            f"{call.replayed_by}"
        return self.store.mutate(call.message_id, call.method, call.actor, change, via=via,
                                 digest=request_digest(call.method, call.params))

    # -- contacts -------------------------------------------------------------------------------

    async def contacts_list(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("q", "merged", *PAGE_PARAMS))
        limit, cursor = clean_page(call.params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        merged = call.params.get("merged", False)
        if not isinstance(merged, bool):
            raise InvalidError("'merged' must be true or false.", field="merged")
        return await self.store.list_contacts(clean_query(call.params), limit, cursor, merged)

    async def contacts_get(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("id",))
        return await self.store.get_contact(require_int(call.params, "id", 1))

    async def contacts_create(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, CONTACT_FIELDS)
        fields = clean_contact_fields(call.params, partial=False)
        return await self.mutate(call, lambda tx: self.store.create_contact(tx, fields))

    async def contacts_update(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("id", "version", *CONTACT_FIELDS))
        contact_id = require_int(call.params, "id", 1)
        version = require_int(call.params, "version", 1)
        fields = clean_contact_fields(call.params, partial=True)
        return await self.mutate(call, lambda tx: self.store.update_contact(tx, contact_id, version, fields))

    # -- orders ---------------------------------------------------------------------------------

    async def orders_list(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("status", "q", "contact_id", *PAGE_PARAMS))
        limit, cursor = clean_page(call.params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        contact_id = call.params.get("contact_id")
        return await self.store.list_orders(
            _statuses(call.params.get("status")),
            clean_query(call.params),
            None if contact_id is None else as_int(contact_id, "contact_id", 1),
            limit,
            cursor,
        )

    async def orders_get(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("id",))
        return await self.store.get_order(require_int(call.params, "id", 1))

    async def orders_place(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("contact_id", "items", "notes"))
        contact_id = require_int(call.params, "contact_id", 1)
        if "items" not in call.params:
            raise InvalidError("'items' is missing: an order needs at least one item.", field="items")
        items = clean_items(call.params["items"])
        notes = as_text(call.params.get("notes"), "notes", max_len=4000)
        return await self.mutate(call, lambda tx: self.store.place_order(tx, contact_id, items, notes))

    async def orders_amend(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("id", "version", "items", "notes"))
        order_id = require_int(call.params, "id", 1)
        version = require_int(call.params, "version", 1)
        fields: dict[str, Any] = {}
        if "items" in call.params:
            fields["items"] = clean_items(call.params["items"])
        if "notes" in call.params:
            fields["notes"] = as_text(call.params["notes"], "notes", max_len=4000)
        if not fields:
            raise InvalidError("Nothing to change: give 'items', 'notes' or both.", field="items")
        return await self.mutate(call, lambda tx: self.store.amend_order(tx, order_id, version, fields))

    def _move(self, action: str) -> Callable[[Call], Awaitable[dict[str, Any]]]:
        async def move(call: Call) -> dict[str, Any]:
            reject_unknown(call.params, ("id", "version"))
            order_id = require_int(call.params, "id", 1)
            version = require_int(call.params, "version", 1)
            return await self.mutate(call, lambda tx: self.store.move_order(tx, order_id, version, action))

        return move

    async def pickups_list(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, PAGE_PARAMS)
        limit, cursor = clean_page(call.params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        return await self.store.list_pickups(limit, cursor, self.zone)

    async def pickups_billing(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("since", "until", *PAGE_PARAMS))
        since, until = clean_day_range(call.params)
        limit, cursor = clean_page(call.params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        return await billing_summary(self.store, since, until, limit, cursor, self.zone)

    # -- notices: each caller's own settings, keyed by (user_id, role) ----------------------------------

    def _own_role(self, call: Call, role: str) -> None:
        """With logins per role, a person keeps the notice settings of their own role only."""
        if self.namespace is None:
            return
        caller = role_for_user(call.user_id, self.namespace, self.dev_mode)
        if caller is not None and caller != role:
            raise ForbiddenError(f"Your login is for {caller}, so it keeps notice settings for {caller} only.",
                                 {"role": caller, "asked": role})

    async def notices_settings_get(self, call: Call) -> dict[str, Any]:
        role = clean_settings_get(call.params)
        self._own_role(call, role)
        return await NoticeStore(self.store).get_settings(call.actor, role)

    async def notices_settings_set(self, call: Call) -> dict[str, Any]:
        role, version, fields = clean_settings_set(call.params)
        self._own_role(call, role)
        notices = NoticeStore(self.store)
        return await self.mutate(call, lambda tx: notices.set_settings(tx, call.actor, role, version, fields))


def request_digest(method: str, params: dict[str, Any]) -> str:
    """What a request asks for, as the ledger compares it: sha256 over the method and the parameters as canonical
    JSON (sorted keys, compact, ASCII only, so a lone surrogate is escaped rather than failing to encode)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method}\n{canonical}".encode("ascii")).hexdigest()


def _statuses(value: Any) -> list[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise InvalidError("'status' must be a status or a list of statuses.", field="status")
    known = {s.value for s in OrderStatus}
    for v in values:
        if v not in known:
            raise InvalidError(
                f"'status' {v!r} is not an order status (one of: {', '.join(sorted(known))}).", field="status"
            )
    return list(values)
