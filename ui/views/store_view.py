"""The web store's stand-in: one customer at a time sees and edits their details, places orders, and
changes or cancels an order while it is still pending. Once the workshop starts an order it is read-only."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.role_session import RoleSession
from app.client.shop_client import CallError
from app.domain.errors import InvalidError
from app.domain.order_states import OrderStatus
from app.domain.validation import MAX_QUANTITY, MAX_UNIT_PRICE_PENCE, clean_items, total_pence
from ui.partials.mirror_table_model import ENTITY_ROLE, ID_ROLE, SORT_ROLE, Column, MirrorTableModel
from ui.partials.tasks import run_dialog
from ui.views.role_view import RoleView
from ui.views.sales_view import ERROR_STYLE, NOTE_STYLE, ContactForm, plain_message
from ui.views.text import STATUS_WORDS, local_time, money

LOCKED_STYLE = "background: #eef3fb; border: 1px solid #9fb7dd; border-radius: 4px; padding: 6px;"
MESSAGE_STYLE = "background: #fff3b0; border: 1px solid #e0c050; border-radius: 4px; padding: 6px;"

TOTAL_COLUMN = 4
NOTES_HINT = "Anything the workshop should know (dates, pleating, fittings)…"

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


def local_date(iso: str) -> str:
    at = local_time(iso)
    return at.strftime("%Y-%m-%d") if at else iso[:10]


def items_summary(order: Entity) -> str:
    return ", ".join(
        (f"{i['quantity']} × " if i["quantity"] != 1 else "") + i["description"] for i in order["items"]
    )


def item_message(exc: InvalidError) -> str:
    """"'items[0].description' is required…" -> "Item 1: description is required…"."""
    field = str(exc.details.get("field", ""))
    if field.startswith("items[") and "]." in field:
        number = int(field[6:field.index("]")]) + 1
        part = field.split("].", 1)[1].replace("unit_price_pence", "price").replace("_", " ")
        return exc.message.replace(f"'{field}'", f"Item {number}: {part}")
    if field == "items":
        return "Add at least one item to the order."
    return exc.message


class CustomerOrdersProxy(QSortFilterProxyModel):
    """One customer's orders, newest first."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.contact_id: int | None = None
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_contact(self, contact_id: int | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+
            self.beginFilterChange()
            self.contact_id = contact_id
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.contact_id = contact_id
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        entity = self.sourceModel().index(row, 0, parent).data(ENTITY_ROLE)
        return entity is not None and entity["contact_id"] == self.contact_id

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == TOTAL_COLUMN:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return super().data(index, role)


@dataclass
class ItemRow:
    description: QLineEdit
    tartan: QLineEdit
    quantity: QSpinBox
    price: QDoubleSpinBox  # pounds
    amount: QLabel
    remove: QToolButton

    def value(self) -> dict[str, Any]:
        return {
            "description": self.description.text(),
            "tartan": self.tartan.text(),
            "quantity": self.quantity.value(),
            "unit_price_pence": round(self.price.value() * 100),
        }


class StoreView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        self.customer_id: int | None = None
        self.customer_version: int | None = None
        self.order_id: int | None = None  # the order in the editor; None: a new one
        self.order_version: int | None = None
        self.item_rows: list[ItemRow] = []
        self._loaded_order: tuple[list[dict[str, Any]], str] = ([], "")
        self._loading = False
        self._busy = False
        self.confirm_box: QMessageBox | None = None

        # -- customer picker --------------------------------------------------------------------
        self.picker = QComboBox()
        self.picker.setObjectName("customerPicker")
        self.picker.setEditable(True)
        self.picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.picker.setMinimumWidth(320)
        completer = QCompleter(self.picker.model(), self.picker)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.picker.setCompleter(completer)
        picker_edit = self.picker.lineEdit()
        assert picker_edit is not None
        picker_edit.setPlaceholderText("Type a customer's name…")
        self.picker.currentIndexChanged.connect(lambda _i: self._picked())
        self.greeting = QLabel()
        self.greeting.setObjectName("greeting")

        # -- your details -----------------------------------------------------------------------
        self.details = ContactForm(with_notes=False)
        self.details.edited.connect(self._details_edited)
        self.details_message = QLabel()
        self.details_message.setObjectName("detailsMessage")
        self.details_message.setWordWrap(True)
        self.details_message.hide()
        self.details_save = QPushButton("Save my details")
        self.details_save.setObjectName("saveDetailsButton")
        self.details_save.setToolTip("Save your details (Ctrl+Shift+S)")
        self.details_save.clicked.connect(self.save_details)
        details_box = QGroupBox("Your details")
        details_layout = QVBoxLayout(details_box)
        details_layout.addWidget(self.details)
        details_buttons = QHBoxLayout()
        details_buttons.addWidget(self.details_message, 3)
        details_buttons.addStretch(1)
        details_buttons.addWidget(self.details_save, 0, Qt.AlignmentFlag.AlignTop)
        details_layout.addLayout(details_buttons)
        details_layout.addStretch(1)

        # -- your orders ------------------------------------------------------------------------
        self.orders_model = MirrorTableModel(session.orders, [
            Column("Order", lambda o: o["number"], lambda o: o["id"]),
            Column("Placed", lambda o: local_date(o["placed_at"]), lambda o: o["placed_at"]),
            Column("Items", items_summary),
            Column("Status", lambda o: STATUS_WORDS.get(o["status"], o["status"])),
            Column("Total", lambda o: money(o["total_pence"]), lambda o: o["total_pence"]),
        ], self)
        self.orders_proxy = CustomerOrdersProxy(self)
        self.orders_proxy.setSourceModel(self.orders_model)
        self.orders_table = QTableView()
        self.orders_table.setObjectName("storeOrders")
        self.orders_table.setModel(self.orders_proxy)
        self.orders_table.setSortingEnabled(True)
        self.orders_table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.orders_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.orders_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.orders_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.orders_table.verticalHeader().hide()
        self.orders_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.orders_table.setWordWrap(False)
        self.orders_table.setAlternatingRowColors(True)
        orders_header = self.orders_table.horizontalHeader()
        orders_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        orders_header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.orders_table.selectionModel().selectionChanged.connect(lambda *_: self._order_selected())
        self.no_orders = QLabel("No orders yet — place your first one on the right.")
        self.no_orders.setStyleSheet(NOTE_STYLE)
        orders_box = QGroupBox("Your orders")
        orders_layout = QVBoxLayout(orders_box)
        orders_layout.addWidget(self.no_orders)
        orders_layout.addWidget(self.orders_table, 1)

        # -- the order editor -------------------------------------------------------------------
        self.editor_title = QLabel()
        self.editor_title.setObjectName("editorTitle")
        self.locked_label = QLabel()
        self.locked_label.setObjectName("lockedLabel")
        self.locked_label.setWordWrap(True)
        self.locked_label.setStyleSheet(LOCKED_STYLE)
        self.locked_label.hide()
        self.items_table = QTableWidget(0, 6)
        self.items_table.setObjectName("itemsTable")
        self.items_table.setHorizontalHeaderLabels(["Item", "Tartan", "Qty", "Price each", "Amount", ""])
        self.items_table.verticalHeader().hide()
        self.items_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.items_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.items_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column, width in ((2, 64), (3, 110), (4, 90), (5, 34)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.items_table.setColumnWidth(column, width)
        self.items_table.verticalHeader().setDefaultSectionSize(32)
        self.add_item_button = QPushButton("Add item")
        self.add_item_button.setObjectName("addItemButton")
        self.add_item_button.setToolTip("Add another item (Ctrl+I)")
        self.add_item_button.clicked.connect(lambda: self.add_item(focus=True))
        self.total_label = QLabel()
        self.total_label.setObjectName("orderTotal")
        self.items_error = QLabel()
        self.items_error.setObjectName("itemsError")
        self.items_error.setStyleSheet(ERROR_STYLE)
        self.items_error.setWordWrap(True)
        self.items_error.hide()
        self.notes = QPlainTextEdit()
        self.notes.setObjectName("orderNotes")
        self.notes.setPlaceholderText(NOTES_HINT)
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.notes.textChanged.connect(self._editor_changed)
        self.editor_message = QLabel()
        self.editor_message.setObjectName("editorMessage")
        self.editor_message.setWordWrap(True)
        self.editor_message.setStyleSheet(MESSAGE_STYLE)
        self.editor_message.hide()
        self.new_order_button = QPushButton("New order")
        self.new_order_button.setObjectName("newOrderButton")
        self.new_order_button.setToolTip("Start a new order (Ctrl+N)")
        self.new_order_button.clicked.connect(self.new_order)
        self.place_button = QPushButton("Place order")
        self.place_button.setObjectName("placeButton")
        self.place_button.setToolTip("Place this order (Ctrl+Enter)")
        self.place_button.clicked.connect(self.place)
        self.save_order_button = QPushButton("Save changes")
        self.save_order_button.setObjectName("saveOrderButton")
        self.save_order_button.setToolTip("Save the changes to this order (Ctrl+S)")
        self.save_order_button.clicked.connect(self.save_order)
        self.cancel_order_button = QPushButton("Cancel order")
        self.cancel_order_button.setObjectName("cancelOrderButton")
        self.cancel_order_button.clicked.connect(self.cancel_order)

        editor_box = QGroupBox("Order")
        editor_layout = QVBoxLayout(editor_box)
        editor_layout.addWidget(self.editor_title)
        editor_layout.addWidget(self.locked_label)
        editor_layout.addWidget(self.items_table, 1)
        items_row = QHBoxLayout()
        items_row.addWidget(self.add_item_button)
        items_row.addWidget(self.items_error, 1)
        items_row.addStretch(0)
        items_row.addWidget(self.total_label)
        editor_layout.addLayout(items_row)
        editor_layout.addWidget(QLabel("Notes"))
        editor_layout.addWidget(self.notes)
        editor_layout.addWidget(self.editor_message)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_order_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_order_button)
        buttons.addWidget(self.save_order_button)
        buttons.addWidget(self.place_button)
        editor_layout.addLayout(buttons)

        # -- layout -----------------------------------------------------------------------------
        top = QHBoxLayout()
        top.addWidget(QLabel("Customer:"))
        top.addWidget(self.picker)
        top.addSpacing(12)
        top.addWidget(self.greeting, 1)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(details_box)
        left.addWidget(orders_box)
        left.setStretchFactor(0, 0)
        left.setStretchFactor(1, 1)
        body = QSplitter()
        body.addWidget(left)
        body.addWidget(editor_box)
        body.setStretchFactor(0, 1)
        body.setStretchFactor(1, 1)
        body.setSizes([460, 540])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(body, 1)

        # -- actions ----------------------------------------------------------------------------
        self.place_action = QAction("&Place order", self)
        self.place_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.place_action.triggered.connect(self.place)
        self.save_order_action = QAction("&Save changes to the order", self)
        self.save_order_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_order_action.triggered.connect(self.save_order)
        self.cancel_order_action = QAction("&Cancel the order…", self)
        self.cancel_order_action.triggered.connect(self.cancel_order)
        self.new_order_action = QAction("&New order", self)
        self.new_order_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_order_action.triggered.connect(self.new_order)
        self.add_item_action = QAction("Add &item", self)
        self.add_item_action.setShortcut(QKeySequence("Ctrl+I"))
        self.add_item_action.triggered.connect(lambda: self.add_item(focus=True))
        self.save_details_action = QAction("Save my &details", self)
        self.save_details_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_details_action.triggered.connect(self.save_details)
        self.pick_action = QAction("Choose &customer", self)
        self.pick_action.setShortcut(QKeySequence.StandardKey.Find)
        self.pick_action.triggered.connect(self.focus_picker)
        self.service_widgets = [
            self.place_button, self.place_action, self.save_order_button, self.save_order_action,
            self.cancel_order_button, self.cancel_order_action, self.details_save, self.save_details_action,
        ]

        session.contacts.listen(MirrorListener(reset=self._contacts_reset, upsert=self._contact_upserted,
                                               remove=self._contact_removed))
        session.orders.listen(MirrorListener(
            reset=self._orders_reset, upsert=self._order_upserted, remove=lambda _id: self._update_no_orders(),
        ))
        self.orders_proxy.rowsInserted.connect(lambda *_: self._update_no_orders())
        self.orders_proxy.rowsRemoved.connect(lambda *_: self._update_no_orders())
        self.orders_proxy.modelReset.connect(self._update_no_orders)
        self.fill_picker()
        if self.customer_id is None:
            self.set_customer(None)
        self.update_enabled()

    def view_actions(self) -> list[QAction]:
        return [self.place_action, self.save_order_action, self.cancel_order_action, self.new_order_action,
                self.add_item_action, self.save_details_action, self.pick_action]

    def focus_picker(self) -> None:
        self.picker.setFocus()
        if (edit := self.picker.lineEdit()) is not None:
            edit.selectAll()

    # -- what the buttons may do ----------------------------------------------------------------

    def current_order(self) -> Entity | None:
        return self.session.orders.items.get(self.order_id) if self.order_id is not None else None

    def order_is_pending(self) -> bool:
        order = self.current_order()
        return order is not None and order["status"] == OrderStatus.PENDING and self.locked_label.isHidden()

    def allowed(self, widget: Any) -> bool:
        if self._busy or self.customer_id is None:
            return False
        if widget in (self.details_save, self.save_details_action):
            return self.details.is_dirty() and self.details.is_valid()
        if widget in (self.place_button, self.place_action):
            return self.order_id is None and self.items_problem() is None
        if widget in (self.save_order_button, self.save_order_action):
            return self.order_is_pending() and self.editor_dirty() and self.items_problem() is None
        if widget in (self.cancel_order_button, self.cancel_order_action):
            return self.order_is_pending()
        return True

    # -- the customer ---------------------------------------------------------------------------

    @staticmethod
    def picker_text(contact: Entity) -> str:
        return f"{contact['name']} ({contact['email']})" if contact.get("email") else contact["name"]

    def fill_picker(self) -> None:
        """All contacts by name; keeps the chosen one."""
        contacts = sorted(self.session.contacts.items.values(), key=lambda c: (c["name"].casefold(), c["id"]))
        self.picker.blockSignals(True)
        try:
            self.picker.clear()
            for contact in contacts:
                self.picker.addItem(self.picker_text(contact), contact["id"])
            index = self.picker.findData(self.customer_id) if self.customer_id is not None else -1
            self.picker.setCurrentIndex(index if index >= 0 else (0 if contacts else -1))
        finally:
            self.picker.blockSignals(False)
        self._picked()

    def _contact_upserted(self, contact: Entity, _previous: Entity | None, _event: dict[str, Any] | None) -> None:
        index = self.picker.findData(contact["id"])
        text = self.picker_text(contact)
        if index >= 0:
            if self.picker.itemText(index) != text:
                self.picker.setItemText(index, text)
        else:
            key = contact["name"].casefold()
            at = next((i for i in range(self.picker.count()) if self.picker.itemText(i).casefold() > key),
                      self.picker.count())
            self.picker.insertItem(at, text, contact["id"])
            if self.picker.currentIndex() < 0:
                self.picker.setCurrentIndex(at)
        if contact["id"] == self.customer_id:
            self._customer_changed_elsewhere(contact)

    def _contact_removed(self, contact_id: int) -> None:
        """A contact merged into another leaves the picker; acting as it, act as the one it became part of."""
        index = self.picker.findData(contact_id)
        if index >= 0:
            self.picker.blockSignals(True)
            try:
                self.picker.removeItem(index)
            finally:
                self.picker.blockSignals(False)
        if contact_id == self.customer_id:
            at = self.picker.findData(self.session.survivor_of(contact_id))
            self.picker.setCurrentIndex(at if at >= 0 else (0 if self.picker.count() else -1))
            self._picked()

    def _contacts_reset(self) -> None:
        self.fill_picker()
        contact = self.session.contacts.items.get(self.customer_id) if self.customer_id is not None else None
        if contact is not None:
            self._customer_changed_elsewhere(contact)

    def _picked(self) -> None:
        data = self.picker.currentData()
        contact_id = int(data) if data is not None else None
        if contact_id != self.customer_id:
            self.set_customer(contact_id)

    def set_customer(self, contact_id: int | None) -> None:
        """Act as this customer: their details, their orders, a fresh order editor."""
        contact = self.session.contacts.items.get(contact_id) if contact_id is not None else None
        self.customer_id = contact["id"] if contact else None
        self.customer_version = contact["version"] if contact else None
        self.details.load(contact)
        self.details_message.hide()
        self.details.setEnabled(contact is not None)
        self.greeting.setText(
            f"Signed in as <b>{html.escape(contact['name'])}</b>" if contact
            else "No customers yet: add one in the Contacts view."
        )
        self.orders_proxy.set_contact(self.customer_id)
        self._update_no_orders()
        self.new_order()

    def _customer_changed_elsewhere(self, contact: Entity) -> None:
        self.greeting.setText(f"Signed in as <b>{html.escape(contact['name'])}</b>")
        if contact["version"] > (self.customer_version or 0) and not self._busy and not self.details.is_dirty():
            self.customer_version = contact["version"]
            self.details.load(contact)
            self.update_enabled()

    def _details_edited(self) -> None:
        self.details_message.hide()
        self.update_enabled()

    def save_details(self) -> None:
        if self.details.refresh_errors(force=True) or not self.allowed(self.details_save) or not self.online:
            return
        self.run(self.save_customer_details())

    @contextmanager
    def _busy_while(self) -> Iterator[None]:
        """Buttons off while a change is on its way, and back as they should be however it ends."""
        self._busy = True
        self.update_enabled()
        try:
            yield
        finally:
            self._busy = False
            self.update_enabled()

    async def save_customer_details(self) -> Entity | None:
        assert self.customer_id is not None
        fields = self.details.clean()
        with self._busy_while():
            try:
                saved = await self.session.save_contact(fields, self.customer_id, self.customer_version)
            except CallError as exc:
                if exc.code == "conflict" and isinstance(exc.details.get("current"), dict):
                    current: Entity = exc.details["current"]
                    self.session.contacts.apply(current)
                    self.customer_version = current["version"]
                    self.details.load(current)
                    self.show_details_message(
                        f"Your details were changed by {current['updated_by']} while you were editing them, so "
                        "your changes were not saved. Here are the details as they are now; please make your "
                        "change again."
                    )
                    return None
                if exc.code == "invalid":
                    key = str(exc.details.get("field", "")).split(".")[0]
                    self.details.show_error(key, plain_message(exc))
                    return None
                raise
        self.customer_version = saved["version"]
        self.details.load(saved)
        self.show_details_message("Your details are saved.", ok=True)
        self.update_enabled()
        return saved

    def show_details_message(self, text: str, ok: bool = False) -> None:
        self.details_message.setText(text)
        self.details_message.setStyleSheet("color: #1b5e20;" if ok else MESSAGE_STYLE)
        self.details_message.show()

    # -- the orders list ------------------------------------------------------------------------

    def _update_no_orders(self) -> None:
        has = self.orders_proxy.rowCount() > 0
        self.no_orders.setVisible(not has and self.customer_id is not None)
        self.orders_table.setVisible(has)

    def order_rows(self) -> list[tuple[str, ...]]:
        """The customer's orders as the list shows them: (number, placed, items, status, total)."""
        return [
            tuple(str(self.orders_proxy.index(r, c).data()) for c in range(self.orders_proxy.columnCount()))
            for r in range(self.orders_proxy.rowCount())
        ]

    def selected_order_id(self) -> int | None:
        rows = self.orders_table.selectionModel().selectedRows()
        return int(rows[0].data(ID_ROLE)) if rows else None

    def select_order(self, order_id: int) -> None:
        row = self.orders_model.row_of(order_id)
        if row is not None:
            index = self.orders_proxy.mapFromSource(self.orders_model.index(row, 0))
            if index.isValid():
                self.orders_table.selectRow(index.row())
                self.orders_table.scrollTo(index)
                return
        order = self.session.orders.items.get(order_id)
        if order is not None:
            self.show_order(order)

    def _order_selected(self) -> None:
        order_id = self.selected_order_id()
        if order_id is not None and order_id != self.order_id:
            order = self.session.orders.items.get(order_id)
            if order is not None:
                self.show_order(order)

    def _order_upserted(self, order: Entity, _previous: Entity | None, _event: dict[str, Any] | None) -> None:
        if order["id"] == self.order_id:
            self.order_changed_elsewhere(order)

    def _orders_reset(self) -> None:
        order = self.current_order()
        if order is not None:
            self.order_changed_elsewhere(order)
            self.select_order(order["id"])
        self._update_no_orders()

    def order_changed_elsewhere(self, order: Entity) -> None:
        """The order in the editor moved on: show its new state (a started order is read-only at once)."""
        if self._busy or order["version"] <= (self.order_version or 0):
            return
        if order["status"] != OrderStatus.PENDING or not self.editor_dirty():
            self.show_order(order)
        else:
            self.show_editor_message(
                f"{order['updated_by']} changed this order just now. If you save, you will be asked to "
                "make your change again on the latest version."
            )
        self.update_enabled()

    # -- the order editor -----------------------------------------------------------------------

    def new_order(self) -> None:
        self.orders_table.clearSelection()
        self.order_id = None
        self.order_version = None
        contact = self.session.contacts.items.get(self.customer_id) if self.customer_id is not None else None
        self.editor_title.setText(
            f"<h3>New order</h3>for {html.escape(contact['name'])}" if contact else "<h3>New order</h3>"
        )
        self._fill_editor([], "", editable=contact is not None)
        self.add_item()
        self._loaded_order = (self.editor_items(), self.notes.toPlainText())
        self.locked_label.hide()
        self.editor_message.hide()
        self.place_button.show()
        self.save_order_button.hide()
        self.cancel_order_button.hide()
        self.new_order_button.setVisible(False)
        self._refresh_editor()

    def show_order(self, order: Entity) -> None:
        """Put an order in the editor: editable while pending, read-only with a sentence after that."""
        self.order_id = order["id"]
        self.order_version = order["version"]
        pending = order["status"] == OrderStatus.PENDING
        status = STATUS_WORDS.get(order["status"], order["status"])
        self.editor_title.setText(f"<h3>Order {html.escape(order['number'])} · {status}</h3>"
                                  f"placed {local_date(order['placed_at'])}")
        self._fill_editor(order["items"], order.get("notes") or "", editable=pending)
        self._loaded_order = (self.editor_items(), self.notes.toPlainText())
        self.editor_message.hide()
        if pending:
            self.locked_label.hide()
        else:
            self.show_locked(locked_sentence(order))
        self.place_button.hide()
        self.save_order_button.setVisible(pending)
        self.cancel_order_button.setVisible(pending)
        self.new_order_button.show()
        self._refresh_editor()

    def show_locked(self, sentence: str) -> None:
        """The order cannot be changed any more (the workshop started it, or it ended)."""
        self.locked_label.setText(sentence)
        self.locked_label.show()
        self._set_editable(False)
        self.save_order_button.hide()
        self.cancel_order_button.hide()
        self.update_enabled()

    def show_editor_message(self, text: str) -> None:
        self.editor_message.setText(text)
        self.editor_message.show()

    def locked_text(self) -> str:
        return self.locked_label.text() if not self.locked_label.isHidden() else ""

    def _fill_editor(self, items: list[dict[str, Any]], notes: str, editable: bool) -> None:
        self._loading = True
        try:
            self.items_table.setRowCount(0)
            self.item_rows = []
            for item in items:
                self.add_item(item)
            self.notes.setPlainText(notes)
        finally:
            self._loading = False
        self._set_editable(editable)

    def add_item(self, item: dict[str, Any] | None = None, focus: bool = False) -> ItemRow:
        item = item or {}
        row = ItemRow(QLineEdit(item.get("description", "")), QLineEdit(item.get("tartan", "")), QSpinBox(),
                      QDoubleSpinBox(), QLabel(), QToolButton())
        row.description.setPlaceholderText("e.g. Eight-yard kilt")
        row.tartan.setPlaceholderText("e.g. MacGregor")
        row.quantity.setRange(1, MAX_QUANTITY)
        row.quantity.setValue(int(item.get("quantity", 1)))
        row.price.setRange(0, MAX_UNIT_PRICE_PENCE / 100)
        row.price.setDecimals(2)
        row.price.setPrefix("£")
        row.price.setGroupSeparatorShown(True)
        row.price.setValue(item.get("unit_price_pence", 0) / 100)
        row.amount.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.amount.setContentsMargins(0, 0, 6, 0)
        row.remove.setText("✕")
        row.remove.setToolTip("Remove this item")
        row.remove.setAutoRaise(True)
        row.remove.clicked.connect(lambda: self.remove_item(row))
        for spin in (row.quantity, row.price):
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        for edit in (row.description, row.tartan):
            edit.textChanged.connect(self._editor_changed)
        row.quantity.valueChanged.connect(self._editor_changed)
        row.price.valueChanged.connect(self._editor_changed)
        at = self.items_table.rowCount()
        self.items_table.insertRow(at)
        for column, widget in enumerate((row.description, row.tartan, row.quantity, row.price, row.amount,
                                         row.remove)):
            self.items_table.setCellWidget(at, column, widget)
        self.item_rows.append(row)
        if focus:
            row.description.setFocus()
        self._editor_changed()
        return row

    def remove_item(self, row: ItemRow) -> None:
        if row in self.item_rows:
            at = self.item_rows.index(row)
            self.item_rows.pop(at)
            self.items_table.removeRow(at)
            self._editor_changed()

    def _set_editable(self, editable: bool) -> None:
        for row in self.item_rows:
            for edit in (row.description, row.tartan):
                edit.setReadOnly(not editable)
                edit.setFrame(editable)  # read-only rows read as text, not as boxes to type in
            for spin in (row.quantity, row.price):
                spin.setReadOnly(not editable)
                spin.setFrame(editable)
                spin.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.UpDownArrows if editable
                                      else QAbstractSpinBox.ButtonSymbols.NoButtons)
            row.remove.setVisible(editable)
        self.notes.setReadOnly(not editable)
        self.notes.setPlaceholderText(NOTES_HINT if editable else "No notes.")
        self.add_item_button.setVisible(editable)
        self.add_item_action.setEnabled(editable)
        self.items_table.setColumnHidden(5, not editable)

    def editor_editable(self) -> bool:
        return not self.notes.isReadOnly()

    def editor_items(self) -> list[dict[str, Any]]:
        return [row.value() for row in self.item_rows]

    def editor_dirty(self) -> bool:
        return (self.editor_items(), self.notes.toPlainText()) != self._loaded_order

    def items_problem(self) -> str | None:
        """Why the items cannot be sent as they are, in plain words; None when they can."""
        try:
            clean_items(self.editor_items())
        except InvalidError as exc:
            return item_message(exc)
        return None

    def _editor_changed(self) -> None:
        if self._loading:
            return
        self._refresh_editor()
        self.update_enabled()

    def _refresh_editor(self) -> None:
        for row in self.item_rows:
            value = row.value()
            row.amount.setText(money(value["quantity"] * value["unit_price_pence"]))
        self.total_label.setText(f"<b>Total {money(total_pence(self.editor_items()))}</b>")
        problem = self.items_problem() if self.editor_editable() and self.editor_dirty() else None
        self.items_error.setText(problem or "")
        self.items_error.setVisible(bool(problem))
        self.update_enabled()

    # -- placing, changing, cancelling ----------------------------------------------------------

    def place(self) -> None:
        if self.online and self.allowed(self.place_button):
            self.run(self.place_order())

    async def place_order(self) -> Entity:
        assert self.customer_id is not None
        items = clean_items(self.editor_items())
        with self._busy_while():
            order = await self.session.place_order(self.customer_id, items, self.notes.toPlainText().strip())
        self.select_order(order["id"])
        self.show_order(order)
        self.show_editor_message(
            f"Thank you! Order {order['number']} is placed. You can still change or cancel it until the "
            "workshop starts on it."
        )
        self.update_enabled()
        return order

    def save_order(self) -> None:
        if self.online and self.allowed(self.save_order_button):
            self.run(self.amend())

    async def amend(self) -> Entity | None:
        assert self.order_id is not None and self.order_version is not None
        items = clean_items(self.editor_items())
        notes = self.notes.toPlainText().strip()
        with self._busy_while():
            try:
                order = await self.session.amend_order(self.order_id, self.order_version, items, notes)
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
        order = self.current_order()
        if order is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Question, "Cancel order",
                          f"Cancel order {order['number']} ({money(order['total_pence'])})?\n\n"
                          "This cannot be undone.", parent=self)
        box.setObjectName("confirmCancelBox")
        yes = box.addButton("Cancel the order", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
        self.confirm_box = box
        try:
            await run_dialog(box)
            chosen = box.clickedButton() is yes
        finally:
            self.confirm_box = None
            box.deleteLater()
        if not chosen:
            return None
        return await self.cancel_now(order["id"])

    async def cancel_now(self, order_id: int) -> Entity | None:
        with self._busy_while():
            try:
                order = await self.session.move_order(order_id, "cancel")
            except CallError as exc:
                self._refused(exc)
                return None
        self.show_order(order)
        self.show_editor_message(f"Order {order['number']} is cancelled.")
        return order

    def _refused(self, exc: CallError) -> None:
        """The service said no to a change of the order in the editor: say why in the editor itself."""
        latest = exc.details.get("current") if isinstance(exc.details.get("current"), dict) else None
        if exc.code == "locked":
            self.show_locked(exc.message)
            return None
        if exc.code == "conflict" and latest is not None:
            self.session.orders.apply(latest)
            if latest["status"] == OrderStatus.PENDING:
                self.show_order(latest)
                self.show_editor_message(
                    f"Order {latest['number']} was changed by {latest['updated_by']} while you were editing it, "
                    "so your changes were not saved. Here it is as it is now; please make your change again."
                )
            else:
                self.show_order(latest)
            return None
        if exc.code == "invalid":
            self.items_error.setText(plain_message(exc))
            self.items_error.show()
            return None
        raise exc
