"""The sales desk's contact list: every live contact, sorted and searched, one row per contact (names and times
on one line, never wrapped)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from app.client.live_mirror import Mirror
from app.client.presenters.words import short_time
from ui.partials.filter_proxy import SearchProxy
from ui.partials.mirror_table_model import ID_ROLE, Column, MirrorTableModel


def one_line(text: str | None) -> str:
    return ", ".join(part.strip() for part in (text or "").splitlines() if part.strip())


class ContactsTable(QTableView):
    def __init__(self, contacts: Mirror, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("contactsTable")
        self.source = MirrorTableModel(contacts, [
            Column("Name", lambda c: c["name"], lambda c: c["name"].casefold()),
            Column("E-mail", lambda c: c["email"], lambda c: (c["email"] or "").casefold()),
            Column("Phone", lambda c: c["phone"]),
            Column("Address", lambda c: one_line(c["address"]), lambda c: one_line(c["address"]).casefold()),
            Column("Updated", lambda c: short_time(c["updated_at"]), lambda c: c["updated_at"]),
        ], self)
        self.proxy = SearchProxy(self)
        self.proxy.setSourceModel(self.source)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 145), (1, 195), (2, 105), (4, 118)):
            self.setColumnWidth(column, width)

    def selected_id(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        return int(rows[0].data(ID_ROLE)) if rows else None

    def select_id(self, contact_id: int) -> None:
        """Select a contact's row when the search shows it."""
        row = self.source.row_of(contact_id)
        if row is not None:
            index = self.proxy.mapFromSource(self.source.index(row, 0))
            if index.isValid():
                self.selectRow(index.row())
                self.scrollTo(index)
