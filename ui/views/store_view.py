"""The web store's stand-in: one customer at a time sees and edits their details, places orders, and changes or
cancels an order while it is still pending. Layout and signals only: what it may do and what a change made
elsewhere does is app/client/presenters/store.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.presenters.store import Reaction, StorePresenter, locked_sentence
from app.client.role_session import RoleSession
from app.client.shop_client import CallError
from app.domain.validation import clean_items
from ui.partials.contact_form import plain_message
from ui.partials.contact_save import save_form
from ui.partials.customer_orders import CustomerOrdersBox
from ui.partials.customer_picker import CustomerPicker
from ui.partials.details_box import DetailsBox
from ui.partials.order_pane import OrderPane, scrolled
from ui.partials.questions import cancel_order, drop_edits
from ui.views.conflict_dialog import ConflictDialog
from ui.views.role_view import RoleView
from ui.views.text import html_text, money


class StoreView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        self.p = StorePresenter(session)
        self.confirm_box: QMessageBox | None = None
        self.conflict_dialog: ConflictDialog | None = None

        self.picker = CustomerPicker(session.contacts)
        self.picker.picked.connect(self._picked)
        self.greeting = QLabel()
        self.greeting.setObjectName("greeting")

        # -- your details -------------------------------------------------------------------------
        details_box = DetailsBox()
        self.details, self.details_message, self.details_save = (
            details_box.form, details_box.message, details_box.save_button)
        self.details.edited.connect(self.update_enabled)
        self.details_save.clicked.connect(self.save_details)
        self.show_details_message = details_box.say

        # -- your orders --------------------------------------------------------------------------
        self.orders_box = CustomerOrdersBox(session.orders)
        self.orders_table, self.no_orders = self.orders_box.table, self.orders_box.empty
        self.orders_model, self.orders_proxy = self.orders_table.source, self.orders_table.proxy
        self.orders_table.selectionModel().selectionChanged.connect(lambda *_: self._order_selected())

        # -- the order editor ---------------------------------------------------------------------
        self.pane = OrderPane()
        self.editor = self.pane.editor
        self.editor.changed.connect(self.update_enabled)
        self.editor_title, self.locked_label, self.editor_message = (
            self.pane.heading, self.pane.locked_label, self.pane.message)
        self.new_order_button, self.place_button = self.pane.new_button, self.pane.place_button
        self.save_order_button, self.cancel_order_button = self.pane.save_button, self.pane.cancel_button
        self.new_order_button.clicked.connect(lambda: self.new_order(focus=True))
        self.place_button.clicked.connect(self.place)
        self.save_order_button.clicked.connect(self.save_order)
        self.cancel_order_button.clicked.connect(self.cancel_order)

        top = QHBoxLayout()
        customer_label = QLabel("&Customer:")
        customer_label.setBuddy(self.picker)
        top.addWidget(customer_label)
        top.addWidget(self.picker)
        top.addSpacing(12)
        top.addWidget(self.greeting, 1)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(scrolled(details_box))
        left.addWidget(self.orders_box)
        left.setStretchFactor(0, 0)
        left.setStretchFactor(1, 1)
        left.setSizes([details_box.sizeHint().height() + 4, 200])
        body = QSplitter()
        body.addWidget(left)
        body.addWidget(scrolled(self.pane))
        body.setSizes([460, 560])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(body, 1)

        # -- actions ------------------------------------------------------------------------------
        self.place_action = self._action("&Place order", self.place, "Ctrl+Return", "Ctrl+Enter")
        self.save_order_action = self._action("&Save changes to the order", self.save_order,
                                              QKeySequence.StandardKey.Save)
        self.cancel_order_action = self._action("&Cancel the order…", self.cancel_order)
        self.new_order_action = self._action("&New order", lambda: self.new_order(focus=True),
                                            QKeySequence.StandardKey.New)
        self.add_item_action = self._action("Add &item", lambda: self.editor.add_item(focus=True), "Ctrl+I")
        self.save_details_action = self._action("Save my &details", self.save_details, "Ctrl+Shift+S")
        self.pick_action = self._action("Choose &customer", self.focus_picker, QKeySequence.StandardKey.Find)
        self.service_widgets = [
            self.place_button, self.place_action, self.save_order_button, self.save_order_action,
            self.cancel_order_button, self.cancel_order_action, self.details_save, self.save_details_action,
        ]

        session.contacts.listen(MirrorListener(reset=self._contacts_reset, upsert=self._contact_upserted,
                                               remove=self._contact_removed))
        session.orders.listen(MirrorListener(reset=self._orders_reset, upsert=self._order_upserted,
                                             remove=lambda _id: self.orders_box.refresh()))
        self.picker.fill(None)
        self.set_customer(self.picker.chosen())

    def _action(self, text: str, slot: Any, *keys: Any) -> QAction:
        action = QAction(text, self)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.triggered.connect(slot)
        return action

    def view_actions(self) -> list[QAction]:
        return [self.place_action, self.save_order_action, self.cancel_order_action, self.new_order_action,
                self.add_item_action, self.save_details_action, self.pick_action]

    def focus_picker(self) -> None:
        self.picker.setFocus()
        if (edit := self.picker.lineEdit()) is not None:
            edit.selectAll()

    # -- what may be done, what would be lost ---------------------------------------------------

    @property
    def customer_id(self) -> int | None:
        return self.p.customer_id

    @property
    def order_id(self) -> int | None:
        return self.p.order_id

    def allowed(self, widget: Any) -> bool:
        action = {self.details_save: "save-details", self.save_details_action: "save-details",
                  self.place_button: "place", self.place_action: "place",
                  self.save_order_button: "save-order", self.save_order_action: "save-order",
                  self.cancel_order_button: "cancel-order", self.cancel_order_action: "cancel-order"}.get(widget)
        return action is None or self.p.may(
            action, details_dirty=self.details.is_dirty(), details_valid=self.details.is_valid(),
            editor_dirty=self.editor.is_dirty(), items_ok=self.editor.problem() is None)

    def unsaved_changes(self) -> str | None:
        """What a role switch or closing the window would lose, as a sentence; None when nothing."""
        return self.p.unsaved_changes(self.details.is_dirty(), self.editor.is_dirty(), self.editor.has_content())

    def order_rows(self) -> list[tuple[str, ...]]:
        return self.orders_table.rows()

    def locked_text(self) -> str:
        return self.pane.locked_text()

    @contextmanager
    def _busy_while(self) -> Iterator[None]:
        self.p.busy = True
        self.update_enabled()
        try:
            yield
        finally:
            self.p.busy = False
            self.update_enabled()

    # -- the customer ---------------------------------------------------------------------------

    def _picked(self, contact_id: int | None) -> None:
        if contact_id == self.customer_id:
            return
        if self.unsaved_changes() is None:
            self.set_customer(contact_id)
            return
        self.picker.show_id(self.customer_id)  # until the person says so, still this customer
        self.run(self._switch_after_asking(contact_id))

    async def _switch_after_asking(self, contact_id: int | None) -> None:
        drop = await drop_edits(self, self.unsaved_changes() or "", lambda box: setattr(self, "confirm_box", box))
        self.picker.show_id(contact_id if drop else self.customer_id)
        if drop:
            self.set_customer(contact_id)

    def set_customer(self, contact_id: int | None) -> None:
        """Act as this customer: their details, their orders, a fresh order editor."""
        contact = self.session.contacts.items.get(contact_id) if contact_id is not None else None
        self.p.details.load(contact)
        self.details.load(contact)
        self.details_message.hide()
        self.details.setEnabled(contact is not None)
        self.greeting.setText(f"Signed in as <b>{html_text(contact['name'])}</b>" if contact
                              else "No customers yet: add one in the Contacts view.")
        self.orders_box.set_contact(self.customer_id)
        self.new_order()

    def _contact_upserted(self, contact: Entity, _previous: Entity | None, _event: Any) -> None:
        self.picker.upsert(contact)
        if self.customer_id is None and self.picker.chosen() is not None:
            self.set_customer(self.picker.chosen())
        elif contact["id"] == self.customer_id:
            self._customer_changed_elsewhere(contact)

    def _contact_removed(self, contact_id: int) -> None:
        """A contact merged into another leaves the picker; acting as it, act as the one it became part of."""
        self.picker.remove(contact_id)
        if contact_id == self.customer_id:
            survivor = self.session.survivor_of(contact_id)
            self.picker.fill(survivor)
            self.set_customer(self.picker.chosen())

    def _contacts_reset(self) -> None:
        self.picker.fill(self.customer_id)
        if self.picker.chosen() != self.customer_id:
            self.set_customer(self.picker.chosen())
        elif (contact := self.p.customer()) is not None:
            self._customer_changed_elsewhere(contact)

    def _customer_changed_elsewhere(self, contact: Entity) -> None:
        self.greeting.setText(f"Signed in as <b>{html_text(contact['name'])}</b>")
        if self.p.details.arrived(contact, self.details.is_dirty()) == "reload" and not self.p.busy:
            self.p.details.load(contact)
            self.details.load(contact)
            self.update_enabled()

    def save_details(self) -> None:
        if not self.details.refresh_errors(force=True) and self.online and self.allowed(self.details_save):
            self.run(self.save_customer_details())

    async def save_customer_details(self) -> Entity | None:
        """Send the details; a race lost to sales merges field by field, and only a field both changed asks."""
        with self._busy_while():
            result = await save_form(self.details, self.p.details, self, self._showing_conflict,
                                     mine_word="Mine (what you typed)")
        if result.kind == "kept":
            self.show_details_message("Not saved yet: what you typed is still here. Save again when ready.")
        elif result.kind == "theirs":
            self.show_details_message("Their version is kept; nothing else to save.", ok=True)
        elif result.kind == "saved":
            self.show_details_message("Your details are saved.", ok=True)
        self.update_enabled()
        return result.contact

    def _showing_conflict(self, dialog: ConflictDialog | None) -> None:
        self.conflict_dialog = dialog
        if dialog is not None:
            dialog.setWindowTitle("Your details were changed meanwhile")

    # -- the orders list ------------------------------------------------------------------------

    def selected_order_id(self) -> int | None:
        return self.orders_table.selected_id()

    def select_order(self, order_id: int) -> None:
        if not self.orders_table.select_id(order_id) and (order := self.session.orders.items.get(order_id)):
            self.show_order(order)

    def _order_selected(self) -> None:
        order_id = self.selected_order_id()
        if order_id is not None and order_id != self.order_id and (order := self.session.orders.items.get(order_id)):
            self.show_order(order)

    def _order_upserted(self, order: Entity, _previous: Entity | None, _event: Any) -> None:
        if order["id"] == self.order_id:
            self.react(self.p.order_arrived(order, self.editor.is_dirty()), order)

    def _orders_reset(self) -> None:
        if (order := self.p.order()) is not None:
            self.react(self.p.order_arrived(order, self.editor.is_dirty()), order)
            self.select_order(order["id"])
        self.orders_box.refresh()

    def react(self, reaction: Reaction, order: Entity | None) -> None:
        """Show what a change made elsewhere (or a refusal) means for the order in the editor."""
        if reaction.kind == "reload" and order is not None:
            self.show_order(order)
        elif reaction.kind == "keep-typed" and order is not None:
            self.pane.show_heading(order)
            self.show_locked(locked_sentence(order))  # read-only, the typed text left as it is
        if reaction.sentence:
            self.show_editor_message(reaction.sentence)
        self.update_enabled()

    # -- the order editor -----------------------------------------------------------------------

    def new_order(self, focus: bool = False) -> None:
        """A fresh order; asked for (Ctrl+N), its first item cell takes the focus so typing goes there."""
        self.orders_table.clearSelection()
        self.p.show_order(None)
        self.pane.show_new(self.p.customer())
        self.update_enabled()
        if focus and self.p.customer() is not None:
            self.editor.focus_first_item()

    def show_order(self, order: Entity) -> None:
        self.p.show_order(order)
        self.pane.show_order(order, locked_sentence(order))
        self.update_enabled()

    def show_locked(self, sentence: str) -> None:
        self.pane.show_locked(sentence)
        self.update_enabled()

    def show_editor_message(self, text: str) -> None:
        self.pane.say(text)

    # -- placing, changing, cancelling ----------------------------------------------------------

    def place(self) -> None:
        if self.online and self.allowed(self.place_button):
            self.run(self.place_order())

    async def place_order(self) -> Entity:
        assert self.customer_id is not None
        items = clean_items(self.editor.items())
        with self._busy_while():
            order = await self.session.place_order(self.customer_id, items, self.editor.notes_text().strip())
        self.select_order(order["id"])
        self.show_order(order)
        self.show_editor_message(f"Thank you! Order {order['number']} is placed. You can still change or cancel "
                                 "it until the workshop starts on it.")
        return order

    def save_order(self) -> None:
        if self.online and self.allowed(self.save_order_button):
            self.run(self.amend())

    async def amend(self) -> Entity | None:
        assert self.order_id is not None and self.p.order_version is not None
        items = clean_items(self.editor.items())
        with self._busy_while():
            try:
                order = await self.session.amend_order(self.order_id, self.p.order_version, items,
                                                       self.editor.notes_text().strip())
            except CallError as exc:
                self._refused(exc)
                return None
        self.show_order(order)
        self.show_editor_message(f"Your changes to order {order['number']} are saved.")
        return order

    def cancel_order(self) -> None:
        if self.online and self.allowed(self.cancel_order_button):
            self.run(self.confirm_and_cancel())

    async def confirm_and_cancel(self) -> Entity | None:
        order = self.p.order()
        if order is None:
            return None
        chosen = await cancel_order(self, order["number"], money(order["total_pence"]),
                                    lambda box: setattr(self, "confirm_box", box))
        if not chosen:
            return None
        with self._busy_while():
            try:
                cancelled = await self.session.move_order(order["id"], "cancel")
            except CallError as exc:
                self._refused(exc)
                return None
        self.show_order(cancelled)
        self.show_editor_message(f"Order {cancelled['number']} is cancelled.")
        return cancelled

    def _refused(self, exc: CallError) -> None:
        """The service said no to a change of the order in the editor: say why in the editor itself."""
        latest = exc.details.get("current") if isinstance(exc.details.get("current"), dict) else None
        if exc.code == "invalid":
            self.editor.show_problem(plain_message(exc))
            return
        if exc.code not in ("locked", "conflict"):
            raise exc
        self.react(self.p.refused(exc.code, latest), latest or self.p.order())
