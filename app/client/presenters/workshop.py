"""The workshop's order board without Qt: which order is selected, what may be done to it, what happens next.

Rules a person relies on:
- the selection stays on the order he acted on, in whichever column it goes to; nothing else becomes
  selected under his finger, so pressing Start work (Ctrl+T) twice never starts a second customer's kilt;
- a move is held a few seconds with an Undo (see moves.py) and cannot be pressed again while it is held;
- the "N open orders" hint is counted when it is shown, never remembered.
"""

from __future__ import annotations

from collections.abc import Callable

from app.client.live_mirror import Entity
from app.client.presenters.moves import HOLD_S, HeldMove, HoldsMoves, MoveHolder
from app.client.role_session import RoleSession
from app.domain.order_states import OrderStatus

# The move each status allows on the board.
MOVE_FROM = {"start": OrderStatus.PENDING.value, "complete": OrderStatus.IN_PROGRESS.value}


class WorkshopPresenter(HoldsMoves):
    def __init__(self, session: RoleSession, hold_s: float = HOLD_S) -> None:
        self.session = session
        self.moves = MoveHolder(session, hold_s)
        self.current_id: int | None = None
        self.gone_number = ""  # the selected order left the board (collected or cancelled elsewhere)
        self.online = True
        self._number = ""  # the selected order's number, for when it has left the mirror
        self.needles: list[str] = []  # the board's search, word by word
        self.changed: Callable[[], None] = lambda: None
        self.moves.changed = lambda: self.changed()

    # -- reading --------------------------------------------------------------------------------

    def current_order(self) -> Entity | None:
        return self.session.orders.items.get(self.current_id) if self.current_id is not None else None

    def can(self, action: str) -> bool:
        """Whether the action's button and shortcut are enabled now."""
        order = self.current_order()
        return (self.online and order is not None and order["status"] == MOVE_FROM[action]
                and not self.moves.is_held(order["id"]))

    def search(self, text: str) -> None:
        self.needles = text.lower().split()

    def matches(self, order: Entity) -> bool:
        """Whether an order shows under the search: every word somewhere in its number, customer, notes, items."""
        if not self.needles:
            return True
        hay = " ".join([
            order["number"], self.session.contact_name(order["contact_id"]), order.get("notes") or "",
            *((i.get("tartan") or "") + " " + i.get("description", "") for i in order.get("items") or []),
        ]).lower()
        return all(needle in hay for needle in self.needles)

    def open_count_text(self) -> str:
        total = len(self.session.orders.items)
        return f"{total} open order{'s' if total != 1 else ''} on the board."

    # -- selection ------------------------------------------------------------------------------

    def select(self, order_id: int | None) -> bool:
        """He chose an order (or none); returns whether that changed the selection."""
        if order_id is not None and order_id not in self.session.orders.items:
            order_id = None
        if order_id == self.current_id:
            return False
        self.current_id = order_id
        self.gone_number = ""
        self._number = str(self.session.orders.items[order_id]["number"]) if order_id is not None else ""
        self.changed()
        return True

    def order_left(self, order_id: int) -> None:
        """An order left the board; if it was the selected one, say so instead of picking another."""
        if order_id == self.current_id:
            self.gone_number = self._number
            self.current_id = None
            self.changed()

    # -- acting ---------------------------------------------------------------------------------

    def act(self, action: str) -> HeldMove | None:
        """Start or complete the selected order (held for Undo); the selection stays on it."""
        if not self.can(action):
            return None
        assert self.current_id is not None
        return self.moves.hold(self.current_id, action)

    def undo(self) -> HeldMove | None:
        move = self.moves.undo()
        if move is not None and move.order_id in self.session.orders.items:
            self.current_id = move.order_id  # back on the order whose move he took back
            self.changed()
        return move

    def set_online(self, online: bool) -> None:
        self.online = online  # the window redraws its buttons itself
