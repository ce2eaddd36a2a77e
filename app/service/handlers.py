"""The service's calls: authorize, decode the parameters with the method's model, run its handler.

Each method is declared once in app/contract/methods.py (its model, whether it changes something, who may call
it); each handler says which method it serves with `@serves`. `ShopHandlers.routes` is derived from both, and
tests/test_contract_docs.py holds it against the registry and docs/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.config import DEFAULT_TIMEZONE, shop_zone
from app.contract.methods import REGISTRY
from app.domain import params as p
from app.domain.errors import ForbiddenError, InvalidError, ShopError, UnavailableError
from app.domain.roles import SERVICE_ROLE, authorize, role_for_user
from app.messaging.rpc_server import Call
from app.service import duplicate_handlers
from app.service.serving import HANDLERS, mutate, request_digest, serves
from app.store.billing import billing_summary
from app.store.duplicate_store import DuplicateStore
from app.store.failures import is_transient
from app.store.notice_store import NoticeStore
from app.store.shop_store import ShopStore

__all__ = ["STORE_UNAVAILABLE", "ShopHandlers", "request_digest"]

STORE_UNAVAILABLE = ("The shop's records cannot be reached just now, so nothing was changed. "
                     "Please try again in a minute.")

assert duplicate_handlers.__name__  # its handlers are bound by importing it


class ShopHandlers:
    def __init__(self, store: ShopStore, namespace: str | None = None, dev_mode: bool = True,
                 timezone: str = DEFAULT_TIMEZONE) -> None:
        """With a namespace, every call is authorized by its caller's role (see app/domain/roles.py). The
        timezone is the shop's: the days of pickups.list and pickups.billing."""
        self.store = store
        self.namespace = namespace
        self.dev_mode = dev_mode
        self.zone = shop_zone(timezone)
        self.duplicates = DuplicateStore(store)
        self.notices = NoticeStore(store)
        unserved = sorted(set(REGISTRY) - set(HANDLERS))
        if unserved:  # a declared method without a handler is a fault of this build: refuse to start
            raise RuntimeError(f"declared in app/contract/methods.py but without a handler: {', '.join(unserved)}")
        # method -> a callable taking the Call: decodes its params with the declared model, then the handler
        self.routes: dict[str, Callable[[Call], Awaitable[Any]]] = {name: self._route(name) for name in HANDLERS}

    def _route(self, name: str) -> Callable[[Call], Awaitable[Any]]:
        model, handler = REGISTRY[name].params, HANDLERS[name]

        async def route(call: Call) -> Any:
            return await handler(self, call, p.decode(model, call.params))

        return route

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

    def own_role(self, call: Call, role: str) -> None:
        """With logins per role, a person keeps the notice settings of their own role only."""
        if self.namespace is None:
            return
        caller = role_for_user(call.user_id, self.namespace, self.dev_mode)
        if caller is not None and caller != role:
            raise ForbiddenError(f"Your login is for {caller}, so it keeps notice settings for {caller} only.",
                                 {"role": caller, "asked": role})


# -- contacts -------------------------------------------------------------------------------------------


@serves("contacts.list")
async def contacts_list(shop: ShopHandlers, call: Call, q: p.ContactsList) -> dict[str, Any]:
    return await shop.store.list_contacts(q.q, q.limit, q.position(), q.merged)


@serves("contacts.get")
async def contacts_get(shop: ShopHandlers, call: Call, q: p.ContactsGet) -> dict[str, Any]:
    return await shop.store.get_contact(q.id)


@serves("contacts.create")
async def contacts_create(shop: ShopHandlers, call: Call, q: p.ContactsCreate) -> dict[str, Any]:
    fields = q.contact_fields()
    return await mutate(shop, call, lambda tx: shop.store.create_contact(tx, fields))


@serves("contacts.update")
async def contacts_update(shop: ShopHandlers, call: Call, q: p.ContactsUpdate) -> dict[str, Any]:
    fields = q.contact_fields()
    return await mutate(shop, call, lambda tx: shop.store.update_contact(tx, q.id, q.version, fields))


# -- orders -----------------------------------------------------------------------------------------------


@serves("orders.list")
async def orders_list(shop: ShopHandlers, call: Call, q: p.OrdersList) -> dict[str, Any]:
    return await shop.store.list_orders(q.statuses(), q.q, q.contact_id, q.limit, q.position())


@serves("orders.get")
async def orders_get(shop: ShopHandlers, call: Call, q: p.OrdersGet) -> dict[str, Any]:
    return await shop.store.get_order(q.id)


@serves("orders.place")
async def orders_place(shop: ShopHandlers, call: Call, q: p.OrdersPlace) -> dict[str, Any]:
    items = [item.plain() for item in q.items]
    return await mutate(shop, call, lambda tx: shop.store.place_order(tx, q.contact_id, items, q.notes or ""))


@serves("orders.amend")
async def orders_amend(shop: ShopHandlers, call: Call, q: p.OrdersAmend) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if isinstance(q.items, list):
        fields["items"] = [item.plain() for item in q.items]
    if isinstance(q.notes, str):
        fields["notes"] = q.notes
    return await mutate(shop, call, lambda tx: shop.store.amend_order(tx, q.id, q.version, fields))


@serves("orders.cancel", "orders.start", "orders.complete", "orders.collect")
async def orders_move(shop: ShopHandlers, call: Call, q: p.OrderMove) -> dict[str, Any]:
    action = call.method.split(".", 1)[1]
    return await mutate(shop, call, lambda tx: shop.store.move_order(tx, q.id, q.version, action))


# -- pickups ----------------------------------------------------------------------------------------------


@serves("pickups.list")
async def pickups_list(shop: ShopHandlers, call: Call, q: p.PickupsList) -> dict[str, Any]:
    return await shop.store.list_pickups(q.limit, q.position(), shop.zone)


@serves("pickups.billing")
async def pickups_billing(shop: ShopHandlers, call: Call, q: p.PickupsBilling) -> dict[str, Any]:
    return await billing_summary(shop.store, q.since, q.until, q.limit, q.position(), shop.zone)


# -- notices: each caller's own settings, keyed by (user_id, role) ------------------------------------------


@serves("notices.settings.get")
async def notices_settings_get(shop: ShopHandlers, call: Call, q: p.NoticesSettingsGet) -> dict[str, Any]:
    shop.own_role(call, q.role)
    return await shop.notices.get_settings(call.actor, q.role)


@serves("notices.settings.set")
async def notices_settings_set(shop: ShopHandlers, call: Call, q: p.NoticesSettingsSet) -> dict[str, Any]:
    shop.own_role(call, q.role)
    fields = q.settings()
    return await mutate(shop, call, lambda tx: shop.notices.set_settings(tx, call.actor, q.role, q.version, fields))
