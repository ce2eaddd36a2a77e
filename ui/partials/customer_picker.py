"""The store's "Customer:" box: every contact by name, typed to filter, following contact events."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QCompleter

from app.client.live_mirror import Entity, Mirror


def picker_text(contact: Entity) -> str:
    return f"{contact['name']} ({contact['email']})" if contact.get("email") else contact["name"]


class CustomerPicker(QComboBox):
    picked = Signal(object)  # the contact id chosen (None: nobody)

    def __init__(self, contacts: Mirror, parent: Any = None) -> None:
        super().__init__(parent)
        self.contacts = contacts
        self.setObjectName("customerPicker")
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMinimumWidth(320)
        completer = QCompleter(self.model(), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        edit = self.lineEdit()
        assert edit is not None
        edit.setPlaceholderText("Type a customer's name…")
        self.currentIndexChanged.connect(lambda _i: self.picked.emit(self.chosen()))

    def chosen(self) -> int | None:
        data = self.currentData()
        return int(data) if data is not None else None

    def show_id(self, contact_id: int | None) -> None:
        """Point at a contact without telling anyone (the view already acts as it)."""
        self.blockSignals(True)
        try:
            index = self.findData(contact_id) if contact_id is not None else -1
            self.setCurrentIndex(index)
            self.setEditText(self.itemText(index) if index >= 0 else "")  # what was typed goes too
        finally:
            self.blockSignals(False)

    def fill(self, keep: int | None) -> None:
        """All contacts by name; keeps the chosen one (or the first)."""
        contacts = sorted(self.contacts.items.values(), key=lambda c: (c["name"].casefold(), c["id"]))
        self.blockSignals(True)
        try:
            self.clear()
            for contact in contacts:
                self.addItem(picker_text(contact), contact["id"])
            index = self.findData(keep) if keep is not None else -1
            self.setCurrentIndex(index if index >= 0 else (0 if contacts else -1))
        finally:
            self.blockSignals(False)

    def upsert(self, contact: Entity) -> None:
        index = self.findData(contact["id"])
        text = picker_text(contact)
        if index >= 0:
            if self.itemText(index) != text:
                self.setItemText(index, text)
            return
        key = contact["name"].casefold()
        at = next((i for i in range(self.count()) if self.itemText(i).casefold() > key), self.count())
        self.blockSignals(True)
        try:
            self.insertItem(at, text, contact["id"])
        finally:
            self.blockSignals(False)
        if self.currentIndex() < 0:
            self.setCurrentIndex(at)

    def remove(self, contact_id: int) -> None:
        index = self.findData(contact_id)
        if index >= 0:
            self.blockSignals(True)
            try:
                self.removeItem(index)
            finally:
                self.blockSignals(False)
