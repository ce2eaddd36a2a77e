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
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.presenters.contact_edit import flat
from app.client.presenters.store import Reaction, StorePresenter, locked_sentence
from app.client.presenters.words import local_date
from app.client.role_session import RoleSession
from app.client.shop_client import CallError
from app.domain.order_states import OrderStatus
from app.domain.validation import clean_items
from ui.partials.contact_form import NOTE_STYLE, ContactForm, plain_message
from ui.partials.customer_orders import CustomerOrdersTable
from ui.partials.customer_picker import CustomerPicker
from ui.partials.order_editor import OrderEditor
from ui.partials.tasks import run_dialog
from ui.views.conflict_dialog import OVERWRITE, USE_THEIRS, ConflictDialog
from ui.views.role_view import RoleView
from ui.views.text import STATUS_WORDS, ask_to_drop, html_text, money

LOCKED_STYLE = "background: #eef3fb; border: 1px solid #9fb7dd; border-radius: 4px; padding: 6px;"
MESSAGE_STYLE = "background: #fff3b0; border: 1px solid #e0c050; border-radius: 4px; padding: 6px;"


def note(name: str, style: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.hide()
    return label


def scrolled(widget: QWidget) -> QScrollArea:
    """A pane whose content keeps its size when a note appears: it scrolls rather than squash or grow."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


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
        self.details = ContactForm(with_notes=False)
        self.details.edited.connect(self._details_edited)
        self.details_message = note("detailsMessage", MESSAGE_STYLE)
        self.details_save = QPushButton("Save my details")
        self.details_save.setObjectName("saveDetailsButton")
        self.details_save.setToolTip("Save your details (Ctrl+Shift+S)")
        self.details_save.clicked.connect(self.save_details)
        details_box = QGroupBox("Your details")
        details_layout = QVBoxLayout(details_box)
        details_layout.addWidget(self.details)
        details_layout.addWidget(self.details_message)
        details_layout.addWidget(self.details_save, 0, Qt.AlignmentFlag.AlignRight)
        details_layout.addStretch(1)

        # -- your orders --------------------------------------------------------------------------
        self.orders_table = CustomerOrdersTable(session.orders)
        self.orders_model = self.orders_table.source
        self.orders_proxy = self.orders_table.proxy
        self.orders_table.selectionModel().selectionChanged.connect(lambda *_: self._order_selected())
        self.no_orders = QLabel("No orders yet — place your first one on the right.")
        self.no_orders.setStyleSheet(NOTE_STYLE)
        orders_box = QGroupBox("Your orders")
        orders_layout = QVBoxLayout(orders_box)
        orders_layout.addWidget(self.no_orders)
        orders_layout.addWidget(self.orders_table, 1)

        # -- the order editor ---------------------------------------------------------------------
        self.editor_title = QLabel()
        self.editor_title.setObjectName("editorTitle")
        self.locked_label = note("lockedLabel", LOCKED_STYLE)
        self.editor = OrderEditor()
        self.editor.changed.connect(self.update_enabled)
        self.editor_message = note("editorMessage", MESSAGE_STYLE)
        self.editor_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.new_order_button = self._button("New order", "newOrderButton", "Start a new order (Ctrl+N)",
                                             lambda: self.new_order(focus=True))
        self.place_button = self._button("Place order", "placeButton", "Place this order (Ctrl+Enter)", self.place)
        self.save_order_button = self._button("Save changes", "saveOrderButton",
                                              "Save the changes to this order (Ctrl+S)", self.save_order)
        self.cancel_order_button = self._button("Cancel order", "cancelOrderButton", "Cancel this order",
                                                self.cancel_order)
        editor_box = QGroupBox("Order")
        editor_layout = QVBoxLayout(editor_box)
        editor_layout.addWidget(self.editor_title)
        editor_layout.addWidget(self.locked_label)
        editor_layout.addWidget(self.editor, 1)
        editor_layout.addWidget(self.editor_message)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_order_button)
        buttons.addStretch(1)
        for button in (self.cancel_order_button, self.save_order_button, self.place_button):
            buttons.addWidget(button)
        editor_layout.addLayout(buttons)

        top = QHBoxLayout()
        customer_label = QLabel("&Customer:")
        customer_label.setBuddy(self.picker)
        top.addWidget(customer_label)
        top.addWidget(self.picker)
        top.addSpacing(12)
        top.addWidget(self.greeting, 1)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(scrolled(details_box))
        left.addWidget(orders_box)
        left.setStretchFactor(0, 0)
        left.setStretchFactor(1, 1)
        left.setSizes([details_box.sizeHint().height() + 4, 200])
        body = QSplitter()
        body.addWidget(left)
        body.addWidget(scrolled(editor_box))
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
                                             remove=lambda _id: self._update_no_orders()))
        self.orders_proxy.rowsInserted.connect(lambda *_: self._update_no_orders())
        self.orders_proxy.rowsRemoved.connect(lambda *_: self._update_no_orders())
        self.orders_proxy.modelReset.connect(self._update_no_orders)
        self.picker.fill(None)
        self.set_customer(self.picker.chosen())

    def _button(self, text: str, name: str, tip: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

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
        return self.locked_label.text() if not self.locked_label.isHidden() else ""

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
        self.confirm_box = ask_to_drop(self, self.unsaved_changes() or "")
        try:
            await run_dialog(self.confirm_box)
            drop = self.confirm_box.buttonRole(self.confirm_box.clickedButton()) == \
                QMessageBox.ButtonRole.DestructiveRole
        finally:
            self.confirm_box.deleteLater()
            self.confirm_box = None
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
        self.orders_table.proxy.set_contact(self.customer_id)
        self._update_no_orders()
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

    def _details_edited(self) -> None:
        self.details_message.hide()
        self.details_message.clear()
        self.update_enabled()

    def show_details_message(self, text: str, ok: bool = False) -> None:
        self.details_message.setText(text)
        self.details_message.setStyleSheet("color: #1b5e20;" if ok else MESSAGE_STYLE)
        self.details_message.show()

    def save_details(self) -> None:
        if not self.details.refresh_errors(force=True) and self.online and self.allowed(self.details_save):
            self.run(self.save_customer_details())

    async def save_customer_details(self, fields: dict[str, Any] | None = None) -> Entity | None:
        """Send the details; a race lost to sales merges field by field, and only a field both changed asks."""
        fields = fields or self.details.clean()
        with self._busy_while():
            outcome = await self.p.details.save(fields)
        if outcome.kind == "invalid" and outcome.error is not None:
            self.details.show_error(str(outcome.error.details.get("field", "")).split(".")[0],
                                    plain_message(outcome.error))
            return None
        if outcome.kind == "conflict" and outcome.merge is not None:
            merge = outcome.merge
            self.details.load(merge.theirs)
            self.details.fill(merge.fields)  # mine on top of theirs: nothing typed disappears
            self.conflict_dialog = ConflictDialog(merge.theirs, merge.conflicts, outcome.took_theirs, self,
                                                  mine_word="Mine (what you typed)")
            self.conflict_dialog.setWindowTitle("Your details were changed meanwhile")
            try:
                choice = await run_dialog(self.conflict_dialog)
            finally:
                self.conflict_dialog.deleteLater()
                self.conflict_dialog = None
            if choice not in (USE_THEIRS, OVERWRITE):
                self.show_details_message("Not saved yet: what you typed is still here. Save again when ready.")
                return None
            chosen = merge.resolved(keep_mine=choice == OVERWRITE)
            if all(flat(merge.theirs).get(k) == v for k, v in flat(chosen).items()):
                self.details.load(merge.theirs)
                self.show_details_message("Their version is kept; nothing else to save.", ok=True)
                return merge.theirs
            return await self.save_customer_details(chosen)
        saved = outcome.contact
        assert saved is not None
        self.details.load(saved)
        kept = f" {', '.join(outcome.took_theirs)} changed by the shop meanwhile is kept." if outcome.took_theirs \
            and "Notes" not in outcome.took_theirs else ""
        self.show_details_message("Your details are saved." + kept, ok=True)
        self.update_enabled()
        return saved

    # -- the orders list ------------------------------------------------------------------------

    def _update_no_orders(self) -> None:
        has = self.orders_proxy.rowCount() > 0
        self.no_orders.setVisible(not has and self.customer_id is not None)
        self.orders_table.setVisible(has)

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
        self._update_no_orders()

    def react(self, reaction: Reaction, order: Entity | None) -> None:
        """Show what a change made elsewhere (or a refusal) means for the order in the editor."""
        if reaction.kind == "reload" and order is not None:
            self.show_order(order)
        elif reaction.kind == "keep-typed" and order is not None:
            self.show_locked(locked_sentence(order))  # read-only, the typed text left as it is
        if reaction.sentence:
            self.show_editor_message(reaction.sentence)
        self.update_enabled()

    # -- the order editor -----------------------------------------------------------------------

    def new_order(self, focus: bool = False) -> None:
        """A fresh order; asked for (Ctrl+N), its first item cell takes the focus so typing goes there."""
        self.orders_table.clearSelection()
        self.p.show_order(None)
        contact = self.p.customer()
        self.editor_title.setText(f"<h3>New order</h3>for {html_text(contact['name'])}" if contact
                                  else "<h3>New order</h3>")
        self.editor.fill([], "", editable=contact is not None)
        self.editor.add_item()
        self.editor.mark_loaded()
        self.locked_label.hide()
        self.editor_message.hide()
        self.place_button.show()
        self.save_order_button.hide()
        self.cancel_order_button.hide()
        self.new_order_button.hide()
        self.update_enabled()
        if focus and contact is not None:
            self.editor.focus_first_item()

    def show_order(self, order: Entity) -> None:
        """Put an order in the editor: editable while pending, read-only with a true sentence after that."""
        self.p.show_order(order)
        pending = order["status"] == OrderStatus.PENDING
        status = STATUS_WORDS.get(order["status"], order["status"])
        self.editor_title.setText(f"<h3>Order {html_text(order['number'])} · {status}</h3>"
                                  f"placed {local_date(order['placed_at'])}")
        self.editor.fill(order["items"], order.get("notes") or "", editable=pending)
        self.editor_message.hide()
        self.place_button.hide()
        self.new_order_button.show()
        if pending:
            self.locked_label.hide()
            self.save_order_button.show()
            self.cancel_order_button.show()
        else:
            self.show_locked(locked_sentence(order))
        self.update_enabled()

    def show_locked(self, sentence: str) -> None:
        self.locked_label.setText(sentence)
        self.locked_label.show()
        self.editor.set_editable(False)
        self.save_order_button.hide()
        self.cancel_order_button.hide()
        self.update_enabled()

    def show_editor_message(self, text: str) -> None:
        self.editor_message.setText(text)
        self.editor_message.show()

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
        box = QMessageBox(QMessageBox.Icon.Question, "Cancel order",
                          f"Cancel order {order['number']} ({money(order['total_pence'])})?\n\n"
                          "This cannot be undone.", parent=self)
        box.setObjectName("confirmCancelBox")
        yes = box.addButton("Cancel the order", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole))
        self.confirm_box = box
        try:
            await run_dialog(box)
            chosen = box.clickedButton() is yes
        finally:
            self.confirm_box = None
            box.deleteLater()
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
