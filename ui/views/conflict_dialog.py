"""The choice a person gets when their save lost a race on a field the other person changed too: theirs next to
mine, for those fields only (the others were merged: app/client/presenters/contact_edit.py).

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

from app.client.people import person_name
from app.client.presenters.contact_edit import Conflict
from app.client.presenters.words import local_time

USE_THEIRS = 10
OVERWRITE = 11


def when(iso: str) -> str:
    """'2025-03-01T14:32:10.123Z' -> '14:32' in this computer's time zone."""
    moment = local_time(iso)
    if moment is not None:
        return moment.strftime("%H:%M")
    return iso[11:16] if len(iso) >= 16 else iso


class ConflictDialog(QDialog):
    def __init__(self, theirs: dict[str, Any], conflicts: list[Conflict], merged: list[str] | None = None,
                 parent: QWidget | None = None, mine_word: str = "Mine") -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self.setWindowTitle("Someone else changed this contact")
        self.setModal(True)
        self.theirs = theirs
        self.conflicts = conflicts
        who = person_name(theirs.get("updated_by"))
        intro = QLabel(
            f"<b>{who[0].upper()}{who[1:]}</b> saved a change to <b>{theirs.get('name', 'this contact')}</b> at "
            f"{when(str(theirs.get('updated_at', '')))} while you were editing it, so your changes were "
            "<b>not</b> saved yet. You both changed the fields below: choose whose stay."
        )
        intro.setWordWrap(True)
        hint = QLabel(f"Their change to {', '.join(merged)} is kept with yours." if merged else "")
        hint.setObjectName("mergedHint")
        hint.setWordWrap(True)
        hint.setVisible(bool(merged))
        self.table = QTableWidget(len(conflicts), 3)
        self.table.setObjectName("conflictTable")
        self.table.setHorizontalHeaderLabels(["Field", f"Theirs ({who})", mine_word])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(True)
        for row, conflict in enumerate(conflicts):
            for column, text in enumerate((conflict.label, conflict.theirs, conflict.mine)):
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

        self.use_theirs_button = QPushButton("&Use theirs")
        self.use_theirs_button.setObjectName("useTheirsButton")
        self.use_theirs_button.setToolTip("Take their value for these fields; the rest of your changes are saved.")
        self.use_theirs_button.clicked.connect(lambda: self.done(USE_THEIRS))
        self.overwrite_button = QPushButton("&Keep mine")
        self.overwrite_button.setObjectName("overwriteButton")
        self.overwrite_button.setToolTip("Save what you typed in these fields over theirs.")
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
        self.resize(620, 190 + 34 * max(1, len(conflicts)))

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows, for tests and for reading aloud."""
        rows: list[tuple[str, str, str]] = []
        for r in range(self.table.rowCount()):
            label, theirs, mine = (item.text() if (item := self.table.item(r, c)) else "" for c in range(3))
            rows.append((label, theirs, mine))
        return rows
