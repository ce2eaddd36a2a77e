"""Sales: the customer list (search, sort), one customer's form with inline checks, and their orders.

Layout and signals only; app/client/presenters/sales.py holds which contact is in the form, its version, the
field-level merge of a save that lost a race (only a field both changed is asked about, theirs vs mine) and
the words for what would be lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.presenters.sales import SalesPresenter
from app.client.role_session import RoleSession
from ui.partials.changed_bar import ChangedBar
from ui.partials.contact_form import NOTE_STYLE, ContactForm
from ui.partials.contact_orders import ContactOrdersTable
from ui.partials.contact_save import save_form
from ui.partials.contacts_table import ContactsTable
from ui.partials.duplicates_button import DuplicatesButton
from ui.partials.questions import drop_edits
from ui.views.conflict_dialog import ConflictDialog, when
from ui.views.role_view import RoleView
from ui.views.text import html_text


class SalesView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        self.p = SalesPresenter(session)
        self.conflict_dialog: ConflictDialog | None = None
        self.discard_box: QMessageBox | None = None  # "drop your unsaved changes?" while it is open

        # -- the list ---------------------------------------------------------------------------
        self.table = ContactsTable(session.contacts)
        self.model, self.proxy = self.table.source, self.table.proxy
        self.search = QLineEdit()
        self.search.setObjectName("contactSearch")
        self.search.setPlaceholderText("Search name, e-mail, phone, address…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.new_button = QPushButton("New contact")
        self.new_button.setObjectName("newContactButton")
        self.new_button.setToolTip("Start a new contact (Ctrl+N)")
        self.new_button.clicked.connect(self.new_contact)
        self.duplicates_button = DuplicatesButton(session, self)  # "Possible duplicates (N)": review and merge
        self.duplicates_button.merged_away.connect(self._merged_away)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.count_label = QLabel()
        self.count_label.setStyleSheet(NOTE_STYLE)

        # -- the form ---------------------------------------------------------------------------
        self.form_title = QLabel()
        self.form_title.setObjectName("formTitle")
        self.form_title.setTextFormat(Qt.TextFormat.RichText)
        self.form_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.form_subtitle = QLabel()
        self.form_subtitle.setObjectName("formSubtitle")
        self.form_subtitle.setStyleSheet(NOTE_STYLE)
        # Two fixed lines (see SalesPresenter.subtitle) that never widen the pane nor change its height.
        self.form_subtitle.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.changed_bar = ChangedBar()
        self.changed_bar.reload.connect(self.reload_from_elsewhere)
        self.changed_bar.keep.connect(lambda: self.save(force=True))
        self.form = ContactForm(with_notes=True)
        self.form.edited.connect(self._form_edited)
        self.form_message = QLabel()
        self.form_message.setObjectName("formMessage")
        self.form_message.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveButton")
        self.save_button.setToolTip("Save this contact (Ctrl+S)")
        self.save_button.clicked.connect(lambda: self.save())
        self.orders_table = ContactOrdersTable()
        self.no_orders = QLabel("No orders yet.")
        self.no_orders.setStyleSheet(NOTE_STYLE)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
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
        for widget in (self.form_title, self.form_subtitle, self.changed_bar, self.form):
            right_layout.addWidget(widget)
        save_row = QHBoxLayout()
        save_row.addWidget(self.form_message, 1)
        save_row.addWidget(self.save_button)
        right_layout.addLayout(save_row)
        right_layout.addSpacing(8)
        right_layout.addWidget(QLabel("<b>Orders</b>"))
        right_layout.addWidget(self.no_orders)
        right_layout.addWidget(self.orders_table, 1)
        right_layout.addStretch(1)
        scroll = QScrollArea()  # a long note or a bar never squashes the form nor grows the window
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(right)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([520, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.new_action = self._action("&New contact", self.new_contact, QKeySequence.StandardKey.New)
        self.save_action = self._action("&Save contact", lambda: self.save(), QKeySequence.StandardKey.Save)
        self.find_action = self._action("&Find contact", self.focus_search, QKeySequence.StandardKey.Find)
        self.keep_button = self.changed_bar.keep_button
        self.reload_button = self.changed_bar.reload_button
        self.changed_label = self.changed_bar.label
        self.service_widgets = [self.save_button, self.save_action, self.keep_button]

        session.contacts.listen(MirrorListener(reset=self._contacts_reset, upsert=self._contact_upserted))
        session.orders.listen(MirrorListener(
            reset=self.refresh_orders, remove=lambda _id: self.refresh_orders(),
            upsert=lambda order, _p, _e: self.refresh_orders() if order["contact_id"] == self.editing_id else None,
        ))
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.model.modelReset):
            signal.connect(lambda *_: self._update_count())
        self._update_count()
        if self.proxy.rowCount() > 0:
            self.table.selectRow(0)
        else:
            self.new_contact()
        self.update_enabled()

    def _action(self, text: str, slot: Callable[[], Any], key: Any) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        return action

    def view_actions(self) -> list[QAction]:
        return [self.new_action, self.save_action, self.find_action]

    @property
    def editing_id(self) -> int | None:
        return self.p.edit.contact_id

    @property
    def editing_version(self) -> int | None:
        return self.p.edit.version

    def allowed(self, widget: Any) -> bool:
        if widget is self.keep_button:
            return not self.p.edit.saving and self.form.is_valid()
        return self.p.may_save(self.form.is_dirty(), self.form.is_valid(), online=True)

    def unsaved_changes(self) -> str | None:
        """What a role switch or closing the window would lose, as a sentence; None when nothing."""
        return self.p.unsaved_changes(self.form.is_dirty())

    def _form_edited(self) -> None:
        self.update_enabled()

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.count_label.setText(f"{total} contacts" if total == shown else f"{shown} of {total} contacts")

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def say(self, text: str) -> None:
        self.p.say(text)
        self.form_message.setText(self.p.message())

    # -- selection and loading ------------------------------------------------------------------

    def selected_id(self) -> int | None:
        return self.table.selected_id()

    def _selection_changed(self) -> None:
        contact_id = self.selected_id()
        # No selection (say, the search hid the row): keep the form as it is.
        if contact_id is None or contact_id == self.editing_id or self.discard_box is not None:
            return
        if self.editing_id is not None and self.editing_id not in self.session.contacts.items \
                and self.model.row_of(self.editing_id) is not None:
            return  # its row is leaving (merged away): the table picked a neighbour, not the person
        self._leave_then(lambda: self.select_contact(contact_id))

    def _leave_then(self, then: Callable[[], Any]) -> None:
        if self.form.is_dirty():
            self.run(self._ask_then(then))
        else:
            then()

    async def _ask_then(self, then: Callable[[], Any]) -> None:
        """The form has unsaved edits: ask before dropping them; "Keep editing" puts the selection back."""
        drop = await drop_edits(self, self.p.unsaved_changes(True) or "",
                                lambda box: setattr(self, "discard_box", box))
        if drop:
            then()
        elif self.editing_id is not None:
            self._select_row(self.editing_id)
        else:
            self.table.clearSelection()

    def _select_row(self, contact_id: int) -> None:
        self.table.select_id(contact_id)

    def select_contact(self, contact_id: int) -> bool:
        """Select a contact's row (when the search shows it) and load it into the form."""
        self._select_row(contact_id)
        contact = self.session.contacts.items.get(contact_id)
        if contact is not None and (contact_id != self.editing_id or contact["version"] != self.editing_version):
            self.load_contact(contact)
        return contact is not None

    def load_contact(self, contact: Entity | None) -> None:
        self.p.load(contact)
        self.changed_bar.hide()
        self.form.load(contact)
        self.form_message.setText(self.p.message())  # "Saved at 18:05." belongs to the contact it was about
        self.form_title.setText(f"<h3>{html_text(self.p.title())}</h3>")
        self.form_subtitle.setText(self.p.subtitle())
        self.form_subtitle.setToolTip(self.p.subtitle())
        self.refresh_orders()
        self.update_enabled()

    def new_contact(self) -> None:
        if self.discard_box is None:
            self._leave_then(self._blank_form)

    def _blank_form(self) -> None:
        self.table.clearSelection()
        self.load_contact(None)
        self.form.focus_first()

    def _merged_away(self, gone: int, survivor: int) -> None:
        if gone == self.editing_id and not self.form.is_dirty():
            self.select_contact(survivor)

    # -- changes made elsewhere -----------------------------------------------------------------

    def _contact_upserted(self, contact: Entity, _previous: Entity | None, event: dict[str, Any] | None) -> None:
        if event is not None and contact["id"] == self.editing_id:
            self.changed_underneath(contact)

    def _contacts_reset(self) -> None:
        if (contact := self.p.edit.current()) is not None:
            self.changed_underneath(contact)
            self._select_row(contact["id"])  # a reload clears the table's selection

    def changed_underneath(self, contact: Entity) -> None:
        """A newer version of the contact in the form: reload quietly, or say so if the form has edits."""
        reaction = self.p.edit.arrived(contact, self.form.is_dirty())
        if reaction == "keep":
            self.changed_bar.say(f"Changed meanwhile by <b>{html_text(self.p.edit.changed_by())}</b> "
                                 f"({when(contact['updated_at'])}).")
        elif reaction == "reload":
            self.load_contact(contact)
        self.update_enabled()

    def reload_from_elsewhere(self) -> None:
        if (latest := self.p.edit.current()) is not None:
            self.load_contact(latest)
            self.say("Reloaded their version; your edits were dropped.")

    # -- saving ---------------------------------------------------------------------------------

    def save(self, force: bool = False) -> None:
        errors = self.form.refresh_errors(force=True)
        if errors or self.p.edit.saving or not self.online or not (force or self.form.is_dirty()):
            return
        self.run(self.save_contact())

    async def save_contact(self) -> Entity | None:
        """Send the form; a lost race merges field by field, and only fields both changed open the dialog."""
        created = self.editing_id is None
        self.changed_bar.hide()
        self.form_message.setText("Saving…")
        self.update_enabled()
        try:
            result = await save_form(self.form, self.p.edit, self, self._showing_conflict)
        finally:
            self.form_message.setText(self.p.message())
            self.update_enabled()
        if result.kind == "invalid":
            self.say("Not saved: please correct the field marked in red.")
        elif result.kind == "kept":
            self.say("Not saved. Save again to keep your changes over theirs.")
        elif result.contact is not None:
            self.load_contact(result.contact)
            if created:
                self._select_row(result.contact["id"])
            kept = f" Their change to {', '.join(result.took_theirs)} is kept." if result.took_theirs else ""
            self.say("Loaded their version." if result.kind == "theirs"
                     else f"Saved at {time.strftime('%H:%M')}.{kept}")
        return result.contact if result.kind == "saved" else None

    def _showing_conflict(self, dialog: ConflictDialog | None) -> None:
        self.conflict_dialog = dialog

    # -- the customer's orders ------------------------------------------------------------------

    def refresh_orders(self) -> None:
        orders = self.session.orders_of(self.editing_id) if self.editing_id is not None else []
        self.orders_table.show_orders(orders)
        self.orders_table.setVisible(bool(orders))
        self.no_orders.setVisible(not orders)
        self.no_orders.setText("No orders yet." if self.editing_id is not None else "")

    def order_rows(self) -> list[tuple[str, ...]]:
        """The orders list as shown: (number, status word, total, placed)."""
        return self.orders_table.rows()
