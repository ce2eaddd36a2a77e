"""The web store's customer: their details (merged field by field on a lost race, as for sales) and the order in
the editor: what it may do, and what happens to typed text when the workshop starts the order meanwhile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.client.live_mirror import Entity
from app.client.people import person_name
from app.client.presenters.contact_edit import ContactEdit
from app.client.role_session import RoleSession
from app.domain.order_states import OrderStatus

# Why an order that is no longer pending cannot be changed, in the customer's words.
LOCKED_WORDS = {
    OrderStatus.IN_PROGRESS: "is being made",
    OrderStatus.COMPLETED: "is finished and waiting to be collected",
    OrderStatus.COLLECTED: "has been collected",
    OrderStatus.CANCELLED: "was cancelled",
}


def locked_sentence(order: Entity) -> str:
    words = LOCKED_WORDS.get(OrderStatus(order["status"]), "is no longer pending")
    return f"Order {order['number']} {words}, so it can no longer be changed."


def not_sent_sentence(order: Entity) -> str:
    """The order was locked (the workshop started it, or it ended) while the customer was changing it."""
    if order["status"] == OrderStatus.IN_PROGRESS:
        what = f"The workshop started on order {order['number']}"
    else:
        what = f"Order {order['number']} {LOCKED_WORDS.get(OrderStatus(order['status']), 'is no longer pending')}"
    return (f"{what} while you were changing it, so your changes were not sent. What you typed is still "
            "shown here; to ask for it anyway, place a new order or tell the shop.")


@dataclass(frozen=True)
class Reaction:
    """What the editor does when the order in it changed elsewhere."""

    kind: str  # "ignore" | "reload" | "keep-typed" (locked, typed text stays) | "note" (still pending)
    sentence: str = ""


class StorePresenter:
    def __init__(self, session: RoleSession) -> None:
        self.session = session
        self.details = ContactEdit(session, with_notes=False)
        self.order_id: int | None = None  # the order in the editor; None: a new one
        self.order_version: int | None = None
        self.kept_typed = False  # the editor shows text that was not sent (the order was locked under it)
        self.busy = False

    @property
    def customer_id(self) -> int | None:
        return self.details.contact_id

    def customer(self) -> Entity | None:
        return self.details.current()

    def order(self) -> Entity | None:
        return self.session.orders.items.get(self.order_id) if self.order_id is not None else None

    def show_order(self, order: Entity | None) -> None:
        self.order_id = order["id"] if order else None
        self.order_version = order["version"] if order else None
        self.kept_typed = False

    def pending(self) -> bool:
        order = self.order()
        return order is not None and order["status"] == OrderStatus.PENDING and not self.kept_typed

    # -- what changed elsewhere does ----------------------------------------------------------------

    def order_arrived(self, order: Entity, dirty: bool) -> Reaction:
        if order["id"] != self.order_id or self.busy or order["version"] <= (self.order_version or 0):
            return Reaction("ignore")
        if not dirty:
            return Reaction("reload")
        self.order_version = order["version"]
        if order["status"] != OrderStatus.PENDING:
            self.kept_typed = True
            return Reaction("keep-typed", not_sent_sentence(order))
        return Reaction("note", f"{person_name(order.get('updated_by'))} changed this order just now. If you "
                                "save, you will be asked to make your change again on the latest version.")

    def refused(self, code: str, latest: Entity | None) -> Reaction:
        """The service said no to a change of the order in the editor (the workshop won the race)."""
        if latest is not None:
            self.session.orders.apply(latest)
            self.order_version = latest["version"]
        if code == "locked" or (latest is not None and latest["status"] != OrderStatus.PENDING):
            order = latest or self.order()
            self.kept_typed = True
            return Reaction("keep-typed", not_sent_sentence(order) if order else "Your changes were not sent.")
        if code == "conflict" and latest is not None:
            return Reaction("reload", f"Order {latest['number']} was changed by {person_name(latest.get('updated_by'))}"
                                      " while you were editing it, so your changes were not saved. Here it is as it "
                                      "is now; please make your change again.")
        return Reaction("ignore")

    # -- what the buttons may do ------------------------------------------------------------------

    def may(self, action: str, *, details_dirty: bool = False, details_valid: bool = True,
            editor_dirty: bool = False, items_ok: bool = True) -> bool:
        if self.busy or self.customer_id is None:
            return False
        if action == "save-details":
            return details_dirty and details_valid and not self.details.saving
        if action == "place":
            return self.order_id is None and items_ok
        if action == "save-order":
            return self.pending() and editor_dirty and items_ok
        if action == "cancel-order":
            return self.pending()
        return True

    def unsaved_changes(self, details_dirty: bool, editor_dirty: bool, editor_has_content: bool) -> str | None:
        """What a role switch or close would lose, in one sentence; None when nothing."""
        parts: list[str] = []
        if details_dirty:
            parts.append("your changes to your details")
        if editor_dirty and not self.kept_typed:
            order = self.order()
            if order is None:
                if editor_has_content:
                    parts.append("the new order you started")
            else:
                parts.append(f"your changes to order {order['number']}")
        if not parts:
            return None
        return "You have not saved " + " and ".join(parts) + "."

    def params(self, items: list[dict[str, Any]], notes: str) -> dict[str, Any]:
        return {"items": items, "notes": notes.strip()}
