"""Sales: the customer list (search, sort), one customer's form with inline checks, and their orders.

Saves send the version the form was loaded from; a change made elsewhere while the form has unsaved edits
shows a bar ("Changed by … just now"), and a save that lost the race opens the ConflictDialog.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.role_session import RoleSession
from app.client.shop_client import CallError
from app.domain.errors import InvalidError
from app.domain.validation import CONTACT_TEXT_FIELDS, MEASUREMENT_FIELDS, clean_contact_fields
from ui.partials.filter_proxy import SearchProxy
from ui.partials.mirror_table_model import ID_ROLE, Column, MirrorTableModel
from ui.partials.tasks import run_dialog
from ui.views.conflict_dialog import FIELD_LABELS, OVERWRITE, USE_THEIRS, ConflictDialog, when
from ui.views.duplicates_panel import DuplicatesButton
from ui.views.role_view import RoleView
from ui.views.text import STATUS_WORDS, local_time, money

ERROR_STYLE = "color: #b3261e;"
INVALID_STYLE = "border: 1px solid #b3261e; border-radius: 2px;"
BAR_STYLE = "#changedBar { background: #fff3b0; border: 1px solid #e0c050; border-radius: 4px; }"
NOTE_STYLE = "color: #555;"


def plain_message(exc: InvalidError | CallError) -> str:
    """The validator's sentence with the field's name in words: "'email' does not…" -> "E-mail does not…"."""
    field = str(exc.details.get("field", ""))
    label = FIELD_LABELS.get(field)
    if label is None and field.startswith("measurements."):
        label = field.split(".", 1)[1].replace("_cm", "").capitalize()
    return exc.message.replace(f"'{field}'", label) if label else exc.message


def one_line(text: str | None) -> str:
    return ", ".join(part.strip() for part in (text or "").splitlines() if part.strip())


def short_time(iso: str) -> str:
    at = local_time(iso)
    return at.strftime("%Y-%m-%d %H:%M") if at else iso[:16].replace("T", " ")


class ContactForm(QWidget):
    """The fields of a contact, each with a red sentence under it when it is wrong.

    Errors show once the form has been edited (a freshly loaded or blank form shows none); `errors()`
    always tells whether it could be saved."""

    edited = Signal()

    def __init__(self, with_notes: bool = True, parent: Any = None) -> None:
        super().__init__(parent)
        self.with_notes = with_notes
        self.name = QLineEdit()
        self.name.setPlaceholderText("Required")
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@example.co.uk")
        self.phone = QLineEdit()
        self.address = QPlainTextEdit()
        self.address.setTabChangesFocus(True)
        self.address.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.measure: dict[str, QLineEdit] = {}
        for field in MEASUREMENT_FIELDS:
            edit = QLineEdit()
            edit.setPlaceholderText("cm")
            edit.setMaximumWidth(70)
            self.measure[field] = edit
        for key, widget in self.field_widgets().items():
            widget.setObjectName(f"{key}Edit")

        self.error_labels: dict[str, QLabel] = {}
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._add_row("name", "&Name", self.name)
        self._add_row("email", "&E-mail", self.email)
        self._add_row("phone", "&Phone", self.phone)
        self._add_row("address", "&Address", self.address)
        sizes = QHBoxLayout()
        sizes.setContentsMargins(0, 0, 0, 0)
        for field, edit in self.measure.items():
            sizes.addWidget(QLabel(FIELD_LABELS[f"measurements.{field}"]))
            sizes.addWidget(edit)
        sizes.addWidget(QLabel("cm"))
        sizes.addStretch(1)
        sizes_box = QWidget()
        sizes_box.setLayout(sizes)
        self._add_row("measurements", "&Measurements", sizes_box)
        if with_notes:
            self._add_row("notes", "N&otes", self.notes)
        else:
            self.notes.hide()

        self.name.textChanged.connect(self._changed)
        self.email.textChanged.connect(self._changed)
        self.phone.textChanged.connect(self._changed)
        self.address.textChanged.connect(self._changed)
        self.notes.textChanged.connect(self._changed)
        for edit in self.measure.values():
            edit.textChanged.connect(self._changed)
        self._loading = False
        self._loaded = self.values()
        self.refresh_errors()

    def _add_row(self, key: str, label: str, widget: QWidget) -> None:
        title = QLabel(label)
        title.setBuddy(self.measure["waist_cm"] if key == "measurements" else widget)
        self.layout_.addRow(title, widget)
        error = QLabel()
        error.setObjectName(f"{key}Error")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        self.layout_.addRow("", error)
        self.layout_.setRowVisible(error, False)
        self.error_labels[key] = error

    def field_widgets(self) -> dict[str, QWidget]:
        widgets: dict[str, QWidget] = {
            "name": self.name, "email": self.email, "phone": self.phone, "address": self.address,
        }
        if self.with_notes:
            widgets["notes"] = self.notes
        widgets.update(self.measure)
        return widgets

    # -- values ---------------------------------------------------------------------------------

    def load(self, contact: Entity | None) -> None:
        """Show a saved contact (or a blank one) as the new unedited state."""
        contact = contact or {}
        self._loading = True
        try:
            self.name.setText(contact.get("name") or "")
            self.email.setText(contact.get("email") or "")
            self.phone.setText(contact.get("phone") or "")
            self.address.setPlainText(contact.get("address") or "")
            self.notes.setPlainText(contact.get("notes") or "")
            measurements = contact.get("measurements") or {}
            for field, edit in self.measure.items():
                value = measurements.get(field)
                edit.setText("" if value is None else f"{float(value):g}")
        finally:
            self._loading = False
        self._loaded = self.values()
        self.refresh_errors()

    def values(self) -> dict[str, Any]:
        """What the form holds, as typed."""
        out: dict[str, Any] = {
            "name": self.name.text(), "email": self.email.text(), "phone": self.phone.text(),
            "address": self.address.toPlainText(),
        }
        if self.with_notes:
            out["notes"] = self.notes.toPlainText()
        out["measurements"] = {field: edit.text().strip() for field, edit in self.measure.items()}
        return out

    def is_dirty(self) -> bool:
        return self.values() != self._loaded

    def clean(self) -> dict[str, Any]:
        """The fields to send; raises InvalidError (with details['field']) for the first wrong one."""
        raw = self.values()
        raw["measurements"] = {k: _centimetres(k, v) for k, v in raw["measurements"].items()}
        return clean_contact_fields(raw, partial=False)

    def errors(self) -> dict[str, str]:
        """Every wrong field -> a sentence about it (keys: name, email, phone, address, notes, measurements)."""
        raw = self.values()
        errors: dict[str, str] = {}
        for field in CONTACT_TEXT_FIELDS:
            if field in raw:
                try:
                    clean_contact_fields({field: raw[field]}, partial=field != "name")
                except InvalidError as exc:
                    errors[field] = plain_message(exc)
        problems = []
        for field, text in raw["measurements"].items():
            try:
                clean_contact_fields({"measurements": {field: _centimetres(field, text)}}, partial=True)
            except InvalidError as exc:
                problems.append(plain_message(exc))
        if problems:
            errors["measurements"] = " ".join(problems)
        return errors

    def is_valid(self) -> bool:
        return not self.errors()

    def error_text(self, key: str) -> str:
        label = self.error_labels.get(key)
        return label.text() if label is not None and not label.isHidden() else ""

    def refresh_errors(self, force: bool = False) -> dict[str, str]:
        """Show the current errors (once edited, or when forced); returns all of them."""
        errors = self.errors()
        shown = errors if (force or self.is_dirty()) else {}
        for key in self.error_labels:
            self.show_error(key, shown.get(key, ""))
        return errors

    def show_error(self, key: str, text: str) -> None:
        label = self.error_labels.get(key)
        if label is None:
            return
        label.setText(text)
        self.layout_.setRowVisible(label, bool(text))
        widgets = list(self.measure.values()) if key == "measurements" else [self.field_widgets().get(key)]
        for widget in widgets:
            if widget is not None:
                widget.setStyleSheet(INVALID_STYLE if text else "")

    def focus_first(self) -> None:
        self.name.setFocus()
        self.name.selectAll()

    def _changed(self) -> None:
        if self._loading:
            return
        self.refresh_errors()
        self.edited.emit()


def _centimetres(field: str, text: str) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidError(
            f"'measurements.{field}' must be a number of centimetres, not {text!r}.", field=f"measurements.{field}"
        ) from None


class SalesView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        self.editing_id: int | None = None  # None: a new contact
        self.editing_version: int | None = None
        self.changed_elsewhere: Entity | None = None  # a newer version that arrived while the form was edited
        self.conflict_dialog: ConflictDialog | None = None
        self.discard_box: QMessageBox | None = None  # "drop your unsaved changes?" while it is open
        self._saving = False

        # -- the list ---------------------------------------------------------------------------
        self.model = MirrorTableModel(session.contacts, [
            Column("Name", lambda c: c["name"], lambda c: c["name"].casefold()),
            Column("E-mail", lambda c: c["email"], lambda c: (c["email"] or "").casefold()),
            Column("Phone", lambda c: c["phone"]),
            Column("Address", lambda c: one_line(c["address"]), lambda c: one_line(c["address"]).casefold()),
            Column("Updated", lambda c: short_time(c["updated_at"]), lambda c: c["updated_at"]),
        ], self)
        self.proxy = SearchProxy(self)
        self.proxy.setSourceModel(self.model)
        self.search = QLineEdit()
        self.search.setObjectName("contactSearch")
        self.search.setPlaceholderText("Search name, e-mail, phone, address…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.new_button = QPushButton("New contact")
        self.new_button.setObjectName("newContactButton")
        self.new_button.setToolTip("Start a new contact (Ctrl+N)")
        self.new_button.clicked.connect(self.new_contact)
        self.table = QTableView()
        self.table.setObjectName("contactsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 145)
        self.table.setColumnWidth(1, 195)
        self.table.setColumnWidth(2, 105)
        self.table.setColumnWidth(4, 118)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.count_label = QLabel()
        self.count_label.setStyleSheet(NOTE_STYLE)

        # -- the form ---------------------------------------------------------------------------
        self.form_title = QLabel()
        self.form_title.setObjectName("formTitle")
        self.form_title.setTextFormat(Qt.TextFormat.RichText)
        self.form_subtitle = QLabel()
        self.form_subtitle.setStyleSheet(NOTE_STYLE)
        self.changed_bar = QFrame()
        self.changed_bar.setObjectName("changedBar")
        self.changed_bar.setStyleSheet(BAR_STYLE)
        self.changed_label = QLabel()
        self.changed_label.setObjectName("changedLabel")
        self.reload_button = QPushButton("Reload")
        self.reload_button.setObjectName("reloadButton")
        self.reload_button.setToolTip("Drop your edits and show their saved version")
        self.reload_button.clicked.connect(self.reload_from_elsewhere)
        self.keep_button = QPushButton("Keep my changes (overwrite)")
        self.keep_button.setObjectName("keepButton")
        self.keep_button.setToolTip("Save what you typed over their version")
        self.keep_button.clicked.connect(self.keep_mine)
        self.changed_label.setWordWrap(True)
        bar_layout = QVBoxLayout(self.changed_bar)
        bar_layout.setContentsMargins(8, 6, 8, 6)
        bar_layout.addWidget(self.changed_label)
        bar_buttons = QHBoxLayout()
        bar_buttons.addStretch(1)
        bar_buttons.addWidget(self.reload_button)
        bar_buttons.addWidget(self.keep_button)
        bar_layout.addLayout(bar_buttons)
        self.changed_bar.hide()
        self.form = ContactForm(with_notes=True)
        self.form.edited.connect(self._form_edited)
        self.form_message = QLabel()
        self.form_message.setObjectName("formMessage")
        self.form_message.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveButton")
        self.save_button.setToolTip("Save this contact (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        save_row = QHBoxLayout()
        save_row.addWidget(self.form_message, 1)
        save_row.addWidget(self.save_button)

        self.orders_title = QLabel("<b>Orders</b>")
        self.orders_table = QTableWidget(0, 4)
        self.orders_table.setObjectName("customerOrders")
        self.orders_table.setHorizontalHeaderLabels(["Order", "Status", "Total", "Placed"])
        self.orders_table.verticalHeader().hide()
        self.orders_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.orders_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.orders_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.orders_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.no_orders = QLabel("No orders yet.")
        self.no_orders.setStyleSheet(NOTE_STYLE)

        # -- layout -----------------------------------------------------------------------------
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        self.duplicates_button = DuplicatesButton(self)  # "Possible duplicates (N)": review and merge
        top.addWidget(self.duplicates_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.count_label)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        right_layout.addWidget(self.form_title)
        right_layout.addWidget(self.form_subtitle)
        right_layout.addWidget(self.changed_bar)
        right_layout.addWidget(self.form)
        right_layout.addLayout(save_row)
        right_layout.addSpacing(8)
        right_layout.addWidget(self.orders_title)
        right_layout.addWidget(self.no_orders)
        right_layout.addWidget(self.orders_table, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([700, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        # -- actions ----------------------------------------------------------------------------
        self.new_action = QAction("&New contact", self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.new_contact)
        self.save_action = QAction("&Save contact", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.save)
        self.find_action = QAction("&Find contact", self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self.focus_search)
        self.service_widgets = [self.save_button, self.save_action, self.keep_button]

        session.contacts.listen(MirrorListener(reset=self._contacts_reset, upsert=self._contact_upserted))
        session.orders.listen(MirrorListener(
            reset=self.refresh_orders,
            upsert=lambda order, _previous, _event: self._order_changed(order),
            remove=lambda _order_id: self.refresh_orders(),
        ))
        self.model.rowsInserted.connect(lambda *_: self._update_count())
        self.model.modelReset.connect(self._update_count)
        self.proxy.rowsInserted.connect(lambda *_: self._update_count())
        self.proxy.rowsRemoved.connect(lambda *_: self._update_count())
        self._update_count()
        if self.proxy.rowCount() > 0:
            self.table.selectRow(0)
        else:
            self.new_contact()
        self.update_enabled()

    def view_actions(self) -> list[QAction]:
        return [self.new_action, self.save_action, self.find_action]

    # -- state for the buttons ------------------------------------------------------------------

    def allowed(self, widget: Any) -> bool:
        if self._saving:
            return False
        if widget is self.keep_button:
            return self.form.is_valid()
        return self.form.is_dirty() and self.form.is_valid()

    def _form_edited(self) -> None:
        self.form_message.clear()
        self.update_enabled()

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.count_label.setText(f"{total} contacts" if total == shown else f"{shown} of {total} contacts")

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # -- selection and loading ------------------------------------------------------------------

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(rows[0].data(ID_ROLE)) if rows else None

    def _selection_changed(self) -> None:
        contact_id = self.selected_id()
        # No selection (say, the search hid the row): keep the form as it is.
        if contact_id is None or contact_id == self.editing_id or self.discard_box is not None:
            return
        if self.form.is_dirty():
            self.run(self._leave_form(lambda: self._open(contact_id)))
        else:
            self._open(contact_id)

    def _open(self, contact_id: int) -> None:
        contact = self.session.contacts.items.get(contact_id)
        if contact is not None:
            self.load_contact(contact)
            self._select_row(contact_id)

    async def _leave_form(self, then: Callable[[], None]) -> None:
        """The form has unsaved edits: ask before dropping them; "Keep editing" puts the selection back."""
        if await self.confirm_discard():
            then()
        elif self.editing_id is not None:
            self._select_row(self.editing_id)
        else:
            self.table.clearSelection()

    async def confirm_discard(self) -> bool:
        contact = self.session.contacts.items.get(self.editing_id) if self.editing_id is not None else None
        what = f"your changes to {contact['name']}" if contact else "the new contact you started"
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                          f"You have not saved {what}. Drop them?", parent=self)
        box.setObjectName("discardBox")
        discard = box.addButton("Drop my changes", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        self.discard_box = box
        try:
            await run_dialog(box)
            return box.clickedButton() is discard
        finally:
            self.discard_box = None
            box.deleteLater()

    def _select_row(self, contact_id: int) -> None:
        row = self.model.row_of(contact_id)
        if row is not None:
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid():
                self.table.selectRow(index.row())
                self.table.scrollTo(index)

    def select_contact(self, contact_id: int) -> bool:
        """Select a contact's row (when the search shows it) and load it into the form."""
        self._select_row(contact_id)
        contact = self.session.contacts.items.get(contact_id)
        if contact is not None and (contact_id != self.editing_id or contact["version"] != self.editing_version):
            self.load_contact(contact)
        return contact is not None

    def load_contact(self, contact: Entity) -> None:
        self.editing_id = contact["id"]
        self.editing_version = contact["version"]
        self.changed_elsewhere = None
        self.changed_bar.hide()
        self.form.load(contact)
        self._show_title()
        self.refresh_orders()
        self.update_enabled()

    def new_contact(self) -> None:
        if self.discard_box is not None:
            return
        if self.form.is_dirty():
            self.run(self._leave_form(self._blank_form))
        else:
            self._blank_form()

    def _blank_form(self) -> None:
        self.table.clearSelection()
        self.editing_id = None
        self.editing_version = None
        self.changed_elsewhere = None
        self.changed_bar.hide()
        self.form.load(None)
        self.form_message.clear()
        self._show_title()
        self.refresh_orders()
        self.update_enabled()
        self.form.focus_first()

    def _show_title(self) -> None:
        contact = self.session.contacts.items.get(self.editing_id) if self.editing_id is not None else None
        if contact is None:
            self.form_title.setText("<h3>New contact</h3>")
            self.form_subtitle.setText("Fill in at least a name, then Save (Ctrl+S).")
        else:
            self.form_title.setText(f"<h3>{_html(contact['name'])}</h3>")
            self.form_subtitle.setText(
                f"Customer since {contact['created_at'][:10]} · last changed by {contact['updated_by']} "
                f"on {short_time(contact['updated_at'])}"
            )

    # -- changes made elsewhere -----------------------------------------------------------------

    def _contact_upserted(self, contact: Entity, _previous: Entity | None, event: dict[str, Any] | None) -> None:
        if event is not None and contact["id"] == self.editing_id:
            self.changed_underneath(contact)

    def _contacts_reset(self) -> None:
        if self.editing_id is not None and (contact := self.session.contacts.items.get(self.editing_id)):
            self.changed_underneath(contact)
            self._select_row(self.editing_id)  # a reload clears the table's selection

    def changed_underneath(self, contact: Entity) -> None:
        """A newer version of the contact in the form: reload quietly, or ask if the form has edits."""
        if self._saving or contact["version"] <= (self.editing_version or 0):
            return  # our own save (its reply loads the form), or nothing new
        if self.form.is_dirty():
            self.changed_elsewhere = contact
            self.changed_label.setText(
                f"<b>Changed by {_html(contact['updated_by'])} just now</b> "
                f"({when(contact['updated_at'])}) while you were editing."
            )
            self.changed_bar.show()
        else:
            self.load_contact(contact)
        self.update_enabled()

    def reload_from_elsewhere(self) -> None:
        latest = self.session.contacts.items.get(self.editing_id) if self.editing_id is not None else None
        if latest is not None:
            self.load_contact(latest)
            self.form_message.setText("Reloaded their version; your edits were dropped.")

    def keep_mine(self) -> None:
        """Overwrite their version with the form as it is."""
        if self.changed_elsewhere is not None:
            self.editing_version = self.changed_elsewhere["version"]
        self.changed_elsewhere = None
        self.changed_bar.hide()
        self.save(force=True)

    # -- saving ---------------------------------------------------------------------------------

    def save(self, force: bool = False) -> None:
        errors = self.form.refresh_errors(force=True)
        if errors or self._saving or not self.online or not (force or self.form.is_dirty()):
            return
        self.run(self.save_contact())

    async def save_contact(self) -> Entity | None:
        """Send the form with the version it was loaded from; a lost race opens the ConflictDialog."""
        fields = self.form.clean()
        contact_id, version = self.editing_id, self.editing_version
        self._saving = True
        self.update_enabled()
        self.form_message.setText("Saving…")
        try:
            while True:
                try:
                    saved = await self.session.save_contact(fields, contact_id, version)
                    break
                except CallError as exc:
                    if exc.code == "conflict" and isinstance(exc.details.get("current"), dict):
                        theirs: Entity = exc.details["current"]
                        self.session.contacts.apply(theirs)  # no event: the row shows it, the form is ours
                        choice = await self.resolve_conflict(theirs, fields)
                        if choice == OVERWRITE:
                            version = theirs["version"]
                            continue
                        if choice == USE_THEIRS:
                            self.load_contact(theirs)
                            self.form_message.setText("Loaded their version.")
                        else:
                            self.editing_version = theirs["version"]
                            self.form_message.setText("Not saved. Save again to overwrite their version.")
                        return None
                    if exc.code == "invalid" and str(exc.details.get("field", "")).split(".")[0] in \
                            self.form.error_labels:
                        self.form.show_error(str(exc.details["field"]).split(".")[0], plain_message(exc))
                        self.form_message.setText("Not saved: please correct the field marked in red.")
                        return None
                    raise
        except BaseException:
            self.form_message.clear()
            raise
        finally:
            self._saving = False
            self.update_enabled()
        self.load_contact(saved)
        if contact_id is None:
            self.select_contact(saved["id"])
        self.form_message.setText(f"Saved at {time.strftime('%H:%M')}.")
        return saved

    async def resolve_conflict(self, theirs: Entity, mine: dict[str, Any]) -> int:
        self.changed_bar.hide()
        self.changed_elsewhere = None
        self.conflict_dialog = ConflictDialog(theirs, mine, self)
        try:
            return await run_dialog(self.conflict_dialog)
        finally:
            self.conflict_dialog.deleteLater()
            self.conflict_dialog = None

    # -- the customer's orders ------------------------------------------------------------------

    def _order_changed(self, order: Entity) -> None:
        if order["contact_id"] == self.editing_id:
            self.refresh_orders()

    def refresh_orders(self) -> None:
        orders = self.session.orders_of(self.editing_id) if self.editing_id is not None else []
        self.orders_table.setRowCount(len(orders))
        for row, order in enumerate(orders):
            cells = (order["number"], STATUS_WORDS.get(order["status"], order["status"]),
                     money(order["total_pence"]), short_time(order["placed_at"])[:10])
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.orders_table.setItem(row, column, item)
        self.orders_table.setVisible(bool(orders))
        self.no_orders.setVisible(not orders)
        self.no_orders.setText("No orders yet." if self.editing_id is not None else "")

    def order_rows(self) -> list[tuple[str, ...]]:
        """The orders list as shown: (number, status word, total, placed)."""
        return [
            tuple(_cell(self.orders_table, r, c) for c in range(self.orders_table.columnCount()))
            for r in range(self.orders_table.rowCount())
        ]


def _cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def _html(text: str) -> str:
    return html.escape(text or "")
