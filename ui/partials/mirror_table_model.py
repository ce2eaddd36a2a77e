"""A QAbstractTableModel over a live Mirror: one event touches one row (insert, change, remove), never
a reset; changed rows glow for a moment, and rows can stay marked until the user has looked at them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont

from app.client.live_mirror import Entity, Mirror, MirrorListener

ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
ENTITY_ROLE = Qt.ItemDataRole.UserRole + 3
HIGHLIGHT_SECONDS = 2.0
HIGHLIGHT = QColor("#fff3b0")
MARKED = QColor("#dcefff")

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Entity], Any]
    sort: Callable[[Entity], Any] | None = None


class MirrorTableModel(QAbstractTableModel):
    def __init__(self, mirror: Mirror, columns: list[Column], parent: Any = None) -> None:
        super().__init__(parent)
        self.mirror = mirror
        self.columns = columns
        self._ids: list[int] = []
        self._row_of: dict[int, int] = {}
        self._glow_until: dict[int, float] = {}
        self.marked: set[int] = set()
        self.mark_changes = False  # workshop: keep changed rows marked until looked at
        self._glow_timer = QTimer(self)
        self._glow_timer.setSingleShot(True)
        self._glow_timer.timeout.connect(self._fade)
        mirror.listen(MirrorListener(reset=self._reset, upsert=self._upsert, remove=self._remove))
        self._reset()

    # -- Qt model API ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entity_id = self._ids[index.row()]
        entity = self.mirror.items.get(entity_id)
        if entity is None:
            return None
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = column.text(entity)
            return "" if value is None else str(value)
        if role == SORT_ROLE:
            return (column.sort or column.text)(entity)
        if role == ID_ROLE:
            return entity_id
        if role == ENTITY_ROLE:
            return entity
        if role == Qt.ItemDataRole.BackgroundRole:
            if self._glow_until.get(entity_id, 0) > time.monotonic():
                return QBrush(HIGHLIGHT)
            if entity_id in self.marked:
                return QBrush(MARKED)
        if role == Qt.ItemDataRole.FontRole and entity_id in self.marked:
            font = QFont()
            font.setBold(True)
            return font
        return None

    # -- helpers for views ----------------------------------------------------------------------

    def row_of(self, entity_id: int) -> int | None:
        return self._row_of.get(entity_id)

    def entity_at(self, row: int) -> Entity | None:
        return self.mirror.items.get(self._ids[row]) if 0 <= row < len(self._ids) else None

    def is_glowing(self, entity_id: int) -> bool:
        return self._glow_until.get(entity_id, 0) > time.monotonic()

    def mark_seen(self, entity_id: int) -> None:
        if entity_id in self.marked:
            self.marked.discard(entity_id)
            self._row_changed(entity_id)

    def refresh_row(self, entity_id: int) -> None:
        self._row_changed(entity_id)

    # -- mirror listener ------------------------------------------------------------------------

    def _reset(self) -> None:
        self.beginResetModel()
        self._ids = sorted(self.mirror.items)
        self._row_of = {entity_id: row for row, entity_id in enumerate(self._ids)}
        self.marked &= set(self._ids)
        self.endResetModel()

    def _upsert(self, entity: Entity, previous: Entity | None, event: dict[str, Any] | None) -> None:
        entity_id = entity["id"]
        if event is not None:  # a change made elsewhere (our own replies come without an event)
            self._glow_until[entity_id] = time.monotonic() + HIGHLIGHT_SECONDS
            if self.mark_changes:
                self.marked.add(entity_id)
            self._glow_timer.start(int(HIGHLIGHT_SECONDS * 1000) + 50)
        row = self._row_of.get(entity_id)
        if row is None:
            row = len(self._ids)
            self.beginInsertRows(QModelIndex(), row, row)
            self._ids.append(entity_id)
            self._row_of[entity_id] = row
            self.endInsertRows()
        else:
            self._row_changed(entity_id)

    def _remove(self, entity_id: int) -> None:
        row = self._row_of.get(entity_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._ids[row]
        del self._row_of[entity_id]
        for later in self._ids[row:]:
            self._row_of[later] -= 1
        self.marked.discard(entity_id)
        self._glow_until.pop(entity_id, None)
        self.endRemoveRows()

    def _row_changed(self, entity_id: int) -> None:
        row = self._row_of.get(entity_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    def _fade(self) -> None:
        now = time.monotonic()
        faded = [i for i, until in self._glow_until.items() if until <= now]
        for entity_id in faded:
            del self._glow_until[entity_id]
            self._row_changed(entity_id)
        if self._glow_until:
            self._glow_timer.start(int((min(self._glow_until.values()) - now) * 1000) + 50)
