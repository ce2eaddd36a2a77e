"""The orders under a contact in the sales form: number, status, total, placed; read-only, never wrapping."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from app.client.live_mirror import Entity
from app.client.presenters.words import local_date
from ui.views.text import STATUS_WORDS, money


class ContactOrdersTable(QTableWidget):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(0, 4, parent)
        self.setObjectName("customerOrders")
        self.setHorizontalHeaderLabels(["Order", "Status", "Total", "Placed"])
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setWordWrap(False)  # "£480.00" on one line
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    def show_orders(self, orders: list[Entity]) -> None:
        self.setRowCount(len(orders))
        for row, order in enumerate(orders):
            cells = (order["number"], STATUS_WORDS.get(order["status"], order["status"]),
                     money(order["total_pence"]), local_date(order["placed_at"]))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, column, item)

    def rows(self) -> list[tuple[str, ...]]:
        return [tuple(item.text() if (item := self.item(r, c)) else "" for c in range(self.columnCount()))
                for r in range(self.rowCount())]
