"""One customer's orders as a table, newest first, following order events (the web store's "Your orders")."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QGroupBox, QHeaderView, QLabel, QTableView, QVBoxLayout

from app.client.live_mirror import Entity, Mirror
from app.client.presenters.words import local_date
from ui.partials.mirror_table_model import ENTITY_ROLE, ID_ROLE, SORT_ROLE, Column, MirrorTableModel
from ui.views.text import STATUS_WORDS, money

TOTAL_COLUMN = 4


def items_summary(order: Entity) -> str:
    return ", ".join(
        (f"{i['quantity']} × " if i["quantity"] != 1 else "") + i["description"] for i in order["items"]
    )


class CustomerOrdersProxy(QSortFilterProxyModel):
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


class CustomerOrdersTable(QTableView):
    def __init__(self, orders: Mirror, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("storeOrders")
        self.source = MirrorTableModel(orders, [
            Column("Order", lambda o: o["number"], lambda o: o["id"]),
            Column("Placed", lambda o: local_date(o["placed_at"]), lambda o: o["placed_at"]),
            Column("Items", items_summary),
            Column("Status", lambda o: STATUS_WORDS.get(o["status"], o["status"])),
            Column("Total", lambda o: money(o["total_pence"]), lambda o: o["total_pence"]),
        ], self)
        self.proxy = CustomerOrdersProxy(self)
        self.proxy.setSourceModel(self.source)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.setWordWrap(False)  # "£480.00" and names on one line, elided if they must be, never split
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def rows(self) -> list[tuple[str, ...]]:
        """(number, placed, items, status, total) as shown."""
        return [
            tuple(str(self.proxy.index(r, c).data()) for c in range(self.proxy.columnCount()))
            for r in range(self.proxy.rowCount())
        ]

    def selected_id(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        return int(rows[0].data(ID_ROLE)) if rows else None

    def select_id(self, order_id: int) -> bool:
        row = self.source.row_of(order_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.source.index(row, 0))
        if not index.isValid():
            return False
        self.selectRow(index.row())
        self.scrollTo(index)
        return True


class CustomerOrdersBox(QGroupBox):
    """"Your orders": the table, or a sentence while there are none."""

    def __init__(self, orders: Mirror, parent: Any = None) -> None:
        super().__init__("Your orders", parent)
        self.table = CustomerOrdersTable(orders)
        self.empty = QLabel("No orders yet — place your first one on the right.")
        self.empty.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        for signal in (self.table.proxy.rowsInserted, self.table.proxy.rowsRemoved, self.table.proxy.modelReset):
            signal.connect(lambda *_: self.refresh())

    def set_contact(self, contact_id: int | None) -> None:
        self.table.proxy.set_contact(contact_id)
        self.refresh()

    def refresh(self) -> None:
        has = self.table.proxy.rowCount() > 0
        self.empty.setVisible(not has and self.table.proxy.contact_id is not None)
        self.table.setVisible(has)
