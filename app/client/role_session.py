"""What each role's window holds and may do, without any Qt: its mirrors, its live feed, its actions.

The windows in ui/ are thin: they show a RoleSession's mirrors and call its actions, so the logic here
is tested without a screen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.client.live_mirror import LiveShop, Mirror
from app.client.shop_client import CallError, ShopClient
from app.domain.order_states import OPEN_STATUSES, OrderStatus

ROLES: tuple[str, ...] = ("sales", "workshop", "shipping", "store")


@dataclass(frozen=True)
class RoleInfo:
    name: str
    title: str
    purpose: str


ROLE_INFO: dict[str, RoleInfo] = {
    "sales": RoleInfo("sales", "Contacts", "Keep the customer list: search, edit, see each customer's orders."),
    "workshop": RoleInfo("workshop", "Order board", "Every open order in full; start work and mark it completed."),
    "shipping": RoleInfo("shipping", "Pickups", "Completed kilts waiting for collection, with what to bill."),
    "store": RoleInfo("store", "Web store", "A customer's view: their details, their orders, placing and changing."),
}

# Orders each role keeps a live copy of.
ORDER_FILTERS: dict[str, frozenset[str] | None] = {
    "sales": None,  # all: the contact form lists every order of the customer
    "workshop": frozenset(s.value for s in OPEN_STATUSES),
    "shipping": frozenset({OrderStatus.COMPLETED.value}),
    "store": None,
}


def friendly_error(exc: BaseException) -> str:
    """A sentence for a person; never a traceback."""
    if isinstance(exc, CallError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return "The shop service did not answer in time. Please try again."
    return f"Something went wrong: {exc}" if str(exc) else "Something went wrong. Please try again."


class RoleSession:
    """One role's live view of the shop over one ShopClient."""

    def __init__(self, client: ShopClient, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.client = client
        self.role = role
        self.info = ROLE_INFO[role]
        self.contacts = Mirror("contact", "contacts.list")
        statuses = ORDER_FILTERS[role]
        self.orders = Mirror(
            "order",
            "orders.list",
            {"status": sorted(statuses)} if statuses else {},
            include=(lambda o: o["status"] in statuses) if statuses else (lambda _o: True),
        )
        self.live = LiveShop(client, [self.contacts, self.orders])

    async def start(self, progress: Callable[[str, int], None] | None = None) -> None:
        self.live.progress = progress
        await self.live.start()

    # -- reading --------------------------------------------------------------------------------

    def contact_name(self, contact_id: int) -> str:
        return self.known_contact_name(contact_id) or f"Customer {contact_id}"

    def known_contact_name(self, contact_id: int) -> str | None:
        contact = self.contacts.items.get(contact_id)
        return str(contact["name"]) if contact else None

    def orders_of(self, contact_id: int) -> list[dict[str, Any]]:
        return sorted((o for o in self.orders.items.values() if o["contact_id"] == contact_id),
                      key=lambda o: o["id"], reverse=True)

    async def order_details(self, order_id: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.call("orders.get", {"id": order_id})
        return result

    async def contact_details(self, contact_id: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.call("contacts.get", {"id": contact_id})
        return result

    # -- acting ---------------------------------------------------------------------------------

    async def act(self, method: str, params: dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
        """Make a change; the reply's entity is applied at once so the window need not wait for the event."""
        result: dict[str, Any] = await self.client.call(method, params, message_id=message_id or str(uuid.uuid4()))
        mirror = self.contacts if method.startswith("contacts.") else self.orders
        mirror.apply(result)
        return result

    async def save_contact(self, fields: dict[str, Any], contact_id: int | None = None,
                           version: int | None = None) -> dict[str, Any]:
        if contact_id is None:
            return await self.act("contacts.create", fields)
        return await self.act("contacts.update", {"id": contact_id, "version": version, **fields})

    async def move_order(self, order_id: int, action: str) -> dict[str, Any]:
        order = self.orders.items.get(order_id)
        if order is None:
            order = await self.order_details(order_id)
        return await self.act(f"orders.{action}", {"id": order_id, "version": order["version"]})

    async def place_order(self, contact_id: int, items: list[dict[str, Any]], notes: str = "") -> dict[str, Any]:
        return await self.act("orders.place", {"contact_id": contact_id, "items": items, "notes": notes})

    async def amend_order(self, order_id: int, version: int, items: list[dict[str, Any]] | None = None,
                          notes: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"id": order_id, "version": version}
        if items is not None:
            params["items"] = items
        if notes is not None:
            params["notes"] = notes
        return await self.act("orders.amend", params)

    async def pickups(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.call("pickups.list", {"limit": 500})
        return result
