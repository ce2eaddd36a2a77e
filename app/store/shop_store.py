"""Contacts and orders: every change, its history row and its event row in one transaction.

The store applies the shop's rules (app.domain) and writes the events it causes to the outbox; it never talks
to a broker. ShopStore is the one object the service holds: the transactions (app.store.transactions: engine,
run_read/run_write, the once-per-(sender, message_id) `mutate`, the dead-letter seal key) with the contacts,
orders and pickups/billing (app.store.contacts, .orders, .pickups) as methods. Mutations run once per
(sender, message_id): a retried call gets the reply it got the first time.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from app.domain.timestamps import now_iso
from app.store import contacts, orders, pickups
from app.store.contacts import contact_entity, refuse_merged
from app.store.orders import order_entity, order_number
from app.store.pickups import pickup_entity
from app.store.transactions import READER_THREADS, REUSED_MESSAGE_ID, SEAL_KEY, Transactions, Tx, seq_of

__all__ = [
    "READER_THREADS", "REUSED_MESSAGE_ID", "SEAL_KEY", "ShopStore", "Tx", "contact_entity", "now_iso",
    "order_entity", "order_number", "pickup_entity", "refuse_merged", "seq_of",
]


class ShopStore(Transactions):
    # -- contacts -------------------------------------------------------------------------------

    async def list_contacts(
        self, q: str | None, limit: int, cursor: int | None, merged: bool = False
    ) -> dict[str, Any]:
        return await self.run_read(lambda conn: contacts.list_contacts(conn, q, limit, cursor, merged))

    async def get_contact(self, contact_id: int) -> dict[str, Any]:
        return await self.run_read(lambda conn: contacts.get_contact(conn, contact_id))

    def create_contact(self, tx: Tx, fields: dict[str, Any]) -> dict[str, Any]:
        return contacts.create_contact(tx, fields)

    def update_contact(self, tx: Tx, contact_id: int, version: int, fields: dict[str, Any]) -> dict[str, Any]:
        return contacts.update_contact(tx, contact_id, version, fields)

    # -- orders ---------------------------------------------------------------------------------

    async def list_orders(
        self, statuses: list[str] | None, q: str | None, contact_id: int | None, limit: int, cursor: int | None
    ) -> dict[str, Any]:
        return await self.run_read(lambda conn: orders.list_orders(conn, statuses, q, contact_id, limit, cursor))

    async def get_order(self, order_id: int) -> dict[str, Any]:
        return await self.run_read(lambda conn: orders.get_order(conn, order_id))

    def place_order(self, tx: Tx, contact_id: int, items: list[dict[str, Any]], notes: str) -> dict[str, Any]:
        return orders.place_order(tx, contact_id, items, notes)

    def amend_order(self, tx: Tx, order_id: int, version: int, fields: dict[str, Any]) -> dict[str, Any]:
        return orders.amend_order(tx, order_id, version, fields)

    def move_order(self, tx: Tx, order_id: int, version: int, action: str) -> dict[str, Any]:
        return orders.move_order(tx, order_id, version, action)

    # -- pickups and billing --------------------------------------------------------------------

    async def list_pickups(self, limit: int, cursor: int | None, zone: ZoneInfo) -> dict[str, Any]:
        """Completed orders waiting for collection (app.store.pickups.list_pickups), in one snapshot."""
        return await self.run_read(lambda conn: pickups.list_pickups(conn, limit, cursor, zone))

    async def billing_summary(
        self, since: str | None, until: str | None, limit: int, cursor: int | None, zone: ZoneInfo
    ) -> dict[str, Any]:
        """What to bill (app.store.pickups.billing_summary), in one snapshot."""
        return await self.run_read(lambda conn: pickups.billing_summary(conn, since, until, limit, cursor, zone))
