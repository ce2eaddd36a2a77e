"""Shipping's pickup list without Qt: the selected pickup, Mark collected with Undo, and the contact details
shown for each order, which follow contact.* events (a customer's new phone shows at once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.client.live_mirror import Entity, MirrorListener
from app.client.presenters.moves import HOLD_S, HeldMove, HoldsMoves, MoveHolder
from app.client.role_session import RoleSession
from app.domain.money import money
from app.domain.order_states import OrderStatus

NO_SELECTION_HINT = ("Select an order on the left to see where to collect it, whom to call and what to "
                     "bill. Mark collected (Ctrl+L) once the customer has it.")


class ShippingPresenter(HoldsMoves):
    def __init__(self, session: RoleSession, hold_s: float = HOLD_S) -> None:
        self.session = session
        self.moves = MoveHolder(session, hold_s)
        self.current_id: int | None = None
        self.online = True
        self.changed: Callable[[], None] = lambda: None
        # Called with the ids of orders whose contact changed, so their rows are drawn again.
        self.contact_rows_changed: Callable[[list[int]], None] = lambda _ids: None
        self.moves.changed = lambda: self.changed()
        session.contacts.listen(MirrorListener(upsert=self._contact_upsert, reset=self._contacts_reset))

    # -- reading --------------------------------------------------------------------------------

    def contact_of(self, order: Entity) -> dict[str, Any]:
        return self.session.contacts.items.get(order["contact_id"]) or {}

    def current_order(self) -> Entity | None:
        return self.session.orders.items.get(self.current_id) if self.current_id is not None else None

    def can_collect(self) -> bool:
        order = self.current_order()
        return (self.online and order is not None and order["status"] == OrderStatus.COMPLETED
                and not self.moves.is_held(order["id"]))

    def totals_text(self) -> str:
        orders = list(self.session.orders.items.values())
        due = sum(o["total_pence"] for o in orders)
        return f"{len(orders)} ready · {money(due)} to bill" if orders else "Nothing waiting"

    # -- selection and acting -------------------------------------------------------------------

    def select(self, order_id: int | None) -> None:
        if order_id is not None and order_id not in self.session.orders.items:
            order_id = None
        if order_id != self.current_id:
            self.current_id = order_id
            self.changed()

    def collect(self) -> HeldMove | None:
        """Mark the selected order collected (held for Undo); the selection stays on it."""
        if not self.can_collect():
            return None
        assert self.current_id is not None
        return self.moves.hold(self.current_id, "collect")

    def undo(self) -> HeldMove | None:
        move = self.moves.undo()
        if move is not None:
            self.current_id = move.order_id
            self.changed()
        return move

    def set_online(self, online: bool) -> None:
        self.online = online  # the window redraws its buttons itself

    # -- contacts -------------------------------------------------------------------------------

    def _contact_upsert(self, contact: Entity, _previous: Entity | None, _event: dict[str, Any] | None) -> None:
        ids = [o["id"] for o in self.session.orders.items.values() if o["contact_id"] == contact["id"]]
        if ids:
            self.contact_rows_changed(ids)
            if self.current_id in ids:
                self.changed()

    def _contacts_reset(self) -> None:
        self.contact_rows_changed(list(self.session.orders.items))
        self.changed()
