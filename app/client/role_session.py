"""What each role's window holds and may do, without any Qt: its mirrors, its live feed, its actions.

The windows in ui/ are thin: they show a RoleSession's mirrors and call its actions, so the logic here
is tested without a screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.client.live_mirror import LiveShop, Mirror
from app.client.shop_client import CallError, ServiceUnavailable, ShopClient
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
    """A sentence for a person; never a traceback, a method name or a login."""
    if isinstance(exc, ServiceUnavailable):
        if exc.lost or "broker" in exc.message:
            return ("The connection to the shop is down. Nothing you typed is lost: try again once the "
                    "banner at the top says it is back.")
        return ("The shop service is not answering. Nothing you typed is lost: try again once the banner "
                "at the top says it is back.")
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
        self.merged_into: dict[int, int] = {}  # contacts merged away (seen in events) -> where they went
        self.contacts = Mirror("contact", "contacts.list", include=self._live_contact)
        statuses = ORDER_FILTERS[role]
        self.orders = Mirror(
            "order",
            "orders.list",
            {"status": sorted(statuses)} if statuses else {},
            include=(lambda o: o["status"] in statuses) if statuses else (lambda _o: True),
        )
        # The sales desk also follows the queue of possible duplicates (only it may read it).
        self.duplicates: Mirror | None = (
            Mirror("duplicate", "contacts.duplicates", include=lambda p: p["status"] == "open")
            if role == "sales" else None
        )
        self.live = LiveShop(client, [self.contacts, self.orders, *([self.duplicates] if self.duplicates else [])])

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
        # No message_id of our own: ShopClient gives a repeat of a change that got no answer the first one's.
        result: dict[str, Any] = await self.client.call(method, params, message_id=message_id)
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

    # -- merged contacts and possible duplicates ------------------------------------------------

    def _live_contact(self, contact: dict[str, Any]) -> bool:
        """The contacts mirror holds live contacts only; one merged away leaves it (and we remember where to)."""
        if contact.get("merged_into"):
            self.merged_into[int(contact["id"])] = int(contact["merged_into"])
            return False
        return True

    def survivor_of(self, contact_id: int) -> int:
        """The contact that a merged one became part of (itself when it was not merged)."""
        seen = {contact_id}
        while contact_id in self.merged_into and self.merged_into[contact_id] not in seen:
            contact_id = self.merged_into[contact_id]
            seen.add(contact_id)
        return contact_id

    async def merge_contacts(self, keep: dict[str, Any], merge: dict[str, Any],
                             fields: dict[str, Any]) -> dict[str, Any]:
        """Merge `merge` into `keep` (each at the version shown), keep taking `fields`; applied at once."""
        result: dict[str, Any] = await self.client.call("contacts.merge", {
            "keep_id": keep["id"], "keep_version": keep["version"],
            "merge_id": merge["id"], "merge_version": merge["version"], **fields,
        })
        for order in result["orders"]:
            self.orders.apply(order)
        self.contacts.apply(result["contact"])
        self.contacts.apply(result["merged"])
        if self.duplicates is not None:
            for pair in result["pairs"]:
                self.duplicates.apply(pair)
        return result

    async def keep_apart(self, pair: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.call(
            "contacts.keep_apart", {"id": pair["id"], "version": pair["version"]}
        )
        if self.duplicates is not None:
            self.duplicates.apply(result)
        return result
