"""The choice a person gets when their save lost a race: what the other person saved next to what they typed.

Opened with `await run_dialog(dialog)` (never exec()); the result is USE_THEIRS, OVERWRITE or 0 (closed).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.validation import CONTACT_TEXT_FIELDS, MEASUREMENT_FIELDS
from ui.views.text import local_time

USE_THEIRS = 10
OVERWRITE = 11

FIELD_LABELS = {
    "name": "Name",
    "email": "E-mail",
    "phone": "Phone",
    "address": "Address",
    "notes": "Notes",
    "measurements": "Measurements",
    "measurements.waist_cm": "Waist",
    "measurements.hip_cm": "Hip",
    "measurements.length_cm": "Length",
}


def centimetres(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{float(value):g} cm"


def contact_differences(theirs: dict[str, Any], mine: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, theirs, mine) for every field of `mine` that the saved contact `theirs` holds differently."""
    rows: list[tuple[str, str, str]] = []
    for field in CONTACT_TEXT_FIELDS:
        if field in mine and (theirs.get(field) or "") != (mine[field] or ""):
            rows.append((FIELD_LABELS[field], theirs.get(field) or "", mine[field] or ""))
    if "measurements" in mine:
        their_m = theirs.get("measurements") or {}
        for field in MEASUREMENT_FIELDS:
            a, b = their_m.get(field), (mine["measurements"] or {}).get(field)
            if (None if a is None else float(a)) != (None if b is None else float(b)):
                rows.append((FIELD_LABELS[f"measurements.{field}"], centimetres(a), centimetres(b)))
    return rows


def when(iso: str) -> str:
    """'2025-03-01T14:32:10.123Z' -> '14:32' in this computer's time zone."""
    moment = local_time(iso)
    if moment is not None:
        return moment.strftime("%H:%M")
    return iso[11:16] if len(iso) >= 16 else iso


class ConflictDialog(QDialog):
    def __init__(self, theirs: dict[str, Any], mine: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self.setWindowTitle("Someone else changed this contact")
        self.setModal(True)
        self.theirs = theirs
        self.mine = mine
        self.differences = contact_differences(theirs, mine)

        who = theirs.get("updated_by") or "someone"
        intro = QLabel(
            f"<b>{who}</b> saved a change to <b>{theirs.get('name', 'this contact')}</b> at "
            f"{when(str(theirs.get('updated_at', '')))} while you were editing it, so your changes were "
            "<b>not</b> saved yet."
        )
        intro.setWordWrap(True)
        hint = QLabel(
            "These fields differ:" if self.differences
            else "Their saved version already matches what you typed."
        )
        self.table = QTableWidget(len(self.differences), 3)
        self.table.setObjectName("conflictTable")
        self.table.setHorizontalHeaderLabels(["Field", f"Theirs ({who})", "Mine"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(True)
        for row, (label, their_text, my_text) in enumerate(self.differences):
            for column, text in enumerate((label, their_text, my_text)):
                item = QTableWidgetItem(text)
                if column == 0:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.resizeRowsToContents()
        self.table.setVisible(bool(self.differences))

        self.use_theirs_button = QPushButton("Use theirs")
        self.use_theirs_button.setObjectName("useTheirsButton")
        self.use_theirs_button.setToolTip("Drop what you typed and load their saved version into the form.")
        self.use_theirs_button.clicked.connect(lambda: self.done(USE_THEIRS))
        self.overwrite_button = QPushButton("Overwrite with mine")
        self.overwrite_button.setObjectName("overwriteButton")
        self.overwrite_button.setToolTip("Save what you typed over their version.")
        self.overwrite_button.clicked.connect(lambda: self.done(OVERWRITE))
        self.use_theirs_button.setDefault(True)  # the safe choice on Enter; Escape closes and keeps the form

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.use_theirs_button)
        buttons.addWidget(self.overwrite_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(620, 160 + 34 * max(1, len(self.differences)))

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows, for tests and for reading aloud."""
        rows: list[tuple[str, str, str]] = []
        for r in range(self.table.rowCount()):
            label, theirs, mine = (item.text() if (item := self.table.item(r, c)) else "" for c in range(3))
            rows.append((label, theirs, mine))
        return rows
