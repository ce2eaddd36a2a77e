"""Possible duplicates, for the sales window: the pairs the importer (or anyone) queued, side by side field by
field, with "Merge" (choosing per field which value stays) and "Keep apart".

Live like the rest of the window: the list follows the shop's duplicate.* events (a pair resolved in another
window leaves it), and the comparison follows contact changes. The contact on the left (the older one) stays;
the other one's orders move to it and it leaves every list (app/client/role_session.py merge_contacts).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.presenters.duplicates import BOTH, FIELDS, LEFT, RIGHT, both_notes, empty, same, shown, value_of
from app.client.role_session import RoleSession
from app.client.shop_client import CallError
from app.domain.validation import MEASUREMENT_FIELDS
from ui.partials.tasks import spawn

NOTE_STYLE = "color: #555;"
ERROR_STYLE = "color: #b3261e;"

class DuplicatesPanel(QWidget):
    """The list of open pairs, and the selected pair field by field with a choice per field."""

    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(parent)
        assert session.duplicates is not None, "only the sales desk follows the duplicates"
        self.session = session
        self.pairs = session.duplicates
        self.pair_id: int | None = None
        self.choices: dict[str, QButtonGroup] = {}
        self._busy = False

        self.pair_list = QListWidget()
        self.pair_list.setObjectName("duplicatePairs")
        self.pair_list.currentItemChanged.connect(lambda *_: self._picked())
        self.empty_label = QLabel("No possible duplicates left to look at.")
        self.empty_label.setStyleSheet(NOTE_STYLE)
        self.title = QLabel()
        self.title.setObjectName("pairTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("pairFields")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.orders_label = QLabel()
        self.orders_label.setStyleSheet(NOTE_STYLE)
        self.orders_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("duplicatesMessage")
        self.message.setWordWrap(True)
        self.merge_button = QPushButton("Merge")
        self.merge_button.setObjectName("mergeButton")
        self.merge_button.setToolTip("Make them one contact with the values chosen above; all orders go to it")
        self.merge_button.clicked.connect(lambda: self._run(self.merge()))
        self.apart_button = QPushButton("Keep apart")
        self.apart_button.setObjectName("keepApartButton")
        self.apart_button.setToolTip("They are two different people: do not ask again")
        self.apart_button.clicked.connect(lambda: self._run(self.keep_apart()))

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Possible duplicates</b>"))
        left_layout.addWidget(self.pair_list, 1)
        left_layout.addWidget(self.empty_label)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.table, 1)
        right_layout.addWidget(self.orders_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.apart_button)
        buttons.addWidget(self.merge_button)
        right_layout.addLayout(buttons)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([260, 640])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self._listening = [
            (self.pairs, MirrorListener(reset=self.refresh, upsert=lambda *_: self.refresh(),
                                        remove=lambda _id: self.refresh())),
            (session.contacts, MirrorListener(reset=self.refresh, upsert=self._contact_changed,
                                              remove=lambda _id: self.refresh())),
            (session.orders, MirrorListener(upsert=lambda *_: self._show_orders())),
        ]
        for mirror, listener in self._listening:
            mirror.listen(listener)
        self.refresh()

    def detach(self) -> None:
        """Stop following the shop (the dialog is closing; the window and its mirrors go on)."""
        for mirror, listener in self._listening:
            mirror.unlisten(listener)
        self._listening = []

    # -- the list ---------------------------------------------------------------------------------

    def open_pairs(self) -> list[Entity]:
        """The open pairs whose two contacts this window knows, oldest first."""
        contacts = self.session.contacts.items
        return sorted((p for p in self.pairs.items.values()
                       if p["first_id"] in contacts and p["second_id"] in contacts), key=lambda p: p["id"])

    def pair_text(self, pair: Entity) -> str:
        first, second = (self.session.contacts.items[pair[k]] for k in ("first_id", "second_id"))
        return f"{first['name']}  ↔  {second['name']}"

    def refresh(self) -> None:
        """Rebuild the list (a few dozen rows at most), keeping the selected pair when it is still open."""
        pairs = self.open_pairs()
        keep = self.pair_id if any(p["id"] == self.pair_id for p in pairs) else (pairs[0]["id"] if pairs else None)
        self.pair_list.blockSignals(True)
        try:
            self.pair_list.clear()
            for pair in pairs:
                item = QListWidgetItem(self.pair_text(pair))
                item.setData(Qt.ItemDataRole.UserRole, pair["id"])
                item.setToolTip(pair["reason"])
                self.pair_list.addItem(item)
                if pair["id"] == keep:
                    self.pair_list.setCurrentItem(item)
        finally:
            self.pair_list.blockSignals(False)
        self.empty_label.setVisible(not pairs)
        if keep != self.pair_id:
            self.show_pair(keep)
        else:
            self._enable()

    def _picked(self) -> None:
        item = self.pair_list.currentItem()
        self.show_pair(int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None)
        self.message.clear()

    def select_pair(self, pair_id: int) -> None:
        for row in range(self.pair_list.count()):
            item = self.pair_list.item(row)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == pair_id:
                self.pair_list.setCurrentItem(item)

    # -- the comparison ---------------------------------------------------------------------------

    def current(self) -> tuple[Entity, Entity, Entity] | None:
        """(pair, the contact that stays, the one merged into it) as this window holds them now."""
        pair = self.pairs.items.get(self.pair_id) if self.pair_id is not None else None
        if pair is None:
            return None
        first = self.session.contacts.items.get(pair["first_id"])
        second = self.session.contacts.items.get(pair["second_id"])
        return (pair, first, second) if first is not None and second is not None else None

    def show_pair(self, pair_id: int | None) -> None:
        self.pair_id = pair_id
        found = self.current()
        self.choices = {}
        self.table.setRowCount(0)
        if found is None:
            self.pair_id = None
            self.title.setText("")
            self.orders_label.clear()
            self._enable()
            return
        pair, left, right = found
        self.title.setText(
            f"<b>{html.escape(left['name'])}</b> (#{left['id']}) and <b>{html.escape(right['name'])}</b> "
            f"(#{right['id']}): {html.escape(pair['reason'] or 'queued for review')}. Choose what stays; "
            f"#{left['id']} keeps its number and gets the orders of both."
        )
        self.table.setHorizontalHeaderLabels(["", f"#{left['id']} (stays)", f"#{right['id']}", ""])
        self.table.setRowCount(len(FIELDS))
        for row, (field, label) in enumerate(FIELDS):
            a, b = value_of(left, field), value_of(right, field)
            self.table.setItem(row, 0, QTableWidgetItem(label))
            group = QButtonGroup(self.table)
            options = [(LEFT, shown(field, a)), (RIGHT, shown(field, b))]
            if field == "notes" and a and b and a.strip() != b.strip():
                options.append((BOTH, "Both"))
            for choice, text in options:
                button = QRadioButton(text.replace("\n", ", "))
                button.setObjectName(f"{field}Choice{choice}")
                button.setToolTip(text)
                group.addButton(button, choice)
                self.table.setCellWidget(row, 1 + choice, button)
            default = BOTH if len(options) == 3 else (RIGHT if empty(a) and not empty(b) else LEFT)
            checked = group.button(default)
            if checked is not None:
                checked.setChecked(True)
            alike = same(field, a, b)
            for choice_button in group.buttons():
                choice_button.setEnabled(not alike)
            self.choices[field] = group
        self.table.resizeRowsToContents()
        self._show_orders()
        self._enable()

    def _show_orders(self) -> None:
        found = self.current()
        if found is None:
            return
        _pair, left, right = found
        ours, theirs = len(self.session.orders_of(left["id"])), len(self.session.orders_of(right["id"]))
        self.orders_label.setText(
            f"Orders: {ours} of #{left['id']}, {theirs} of #{right['id']}; after merging all {ours + theirs} "
            f"are #{left['id']}'s."
        )

    def choose(self, field: str, choice: int) -> None:
        button = self.choices[field].button(choice)
        assert button is not None, f"{field} has no choice {choice}"
        button.setChecked(True)

    def chosen(self) -> dict[str, Any]:
        """The values the contact that stays takes, as contacts.merge wants them."""
        found = self.current()
        assert found is not None
        _pair, left, right = found
        fields: dict[str, Any] = {}
        measurements: dict[str, Any] = {}
        for field, _label in FIELDS:
            group = self.choices.get(field)
            choice = group.checkedId() if group is not None else LEFT
            a, b = value_of(left, field), value_of(right, field)
            value = both_notes(a, b) if choice == BOTH else (b if choice == RIGHT else a)
            if field in MEASUREMENT_FIELDS:
                measurements[field] = value
            else:
                fields[field] = value
        fields["measurements"] = measurements
        return fields

    def _contact_changed(self, contact: Entity, _previous: Entity | None, _event: Any) -> None:
        found = self.current()
        if found is not None and contact["id"] in (found[1]["id"], found[2]["id"]) and not self._busy:
            self.show_pair(self.pair_id)  # the values moved under us: show the new ones
            self.message.setText(f"{contact['name']} was just changed; the comparison shows the new values.")
        self.refresh()

    # -- acting -----------------------------------------------------------------------------------

    def _enable(self) -> None:
        usable = self.current() is not None and not self._busy
        self.merge_button.setEnabled(usable)
        self.apart_button.setEnabled(usable)

    def _run(self, coro: Any) -> None:
        def failed(text: str) -> None:
            self.message.setStyleSheet(ERROR_STYLE)
            self.message.setText(text)

        spawn(coro, failed)

    async def merge(self) -> Entity | None:
        found = self.current()
        if found is None or self._busy:
            return None
        _pair, left, right = found
        fields = self.chosen()
        self._busy = True
        self._enable()
        self.message.setStyleSheet("")
        self.message.setText("Merging…")
        try:
            result = await self.session.merge_contacts(left, right, fields)
        except CallError as exc:
            if exc.code != "conflict":
                raise
            self.message.setText("One of them was changed meanwhile. The comparison shows the new values now: "
                                 "check your choices and merge again.")
            return None
        finally:
            self._busy = False
            self.refresh()
        self.message.setText(f"Merged: {right['name']} (#{right['id']}) is now part of {left['name']} "
                             f"(#{left['id']}).")
        contact: Entity = result["contact"]
        return contact

    async def keep_apart(self) -> Entity | None:
        found = self.current()
        if found is None or self._busy:
            return None
        pair, left, right = found
        self._busy = True
        self._enable()
        self.message.setStyleSheet("")
        try:
            result = await self.session.keep_apart(pair)
        except CallError as exc:
            if exc.code not in ("conflict", "invalid"):
                raise
            self.message.setText("Someone else has just dealt with this pair.")
            return None
        finally:
            self._busy = False
            self.refresh()
        self.message.setText(f"Kept apart: {left['name']} and {right['name']} are two people.")
        return result


class DuplicatesDialog(QDialog):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicatesDialog")
        self.setWindowTitle("Possible duplicates")
        self.panel = DuplicatesPanel(session, self)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel, 1)
        layout.addLayout(row)
        self.resize(980, 520)
