"""The bar that says what was just done and offers a few seconds' Undo (Ctrl+Z)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


class UndoBar(QFrame):
    def __init__(self, undo: Callable[[], Any], parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("undoBar")
        self.setStyleSheet("#undoBar { background: #fff6d5; border: 1px solid #e0c060; border-radius: 4px; }")
        self.label = QLabel()
        self.label.setObjectName("undoText")
        self.button = QPushButton("Undo")
        self.button.setObjectName("undoButton")
        self.button.setToolTip("Take it back (Ctrl+Z); it is sent to the shop after a few seconds")
        self.button.clicked.connect(lambda: undo())
        self.action = QAction("&Undo", self)
        self.action.setShortcut(QKeySequence.StandardKey.Undo)
        self.action.triggered.connect(lambda: undo())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 4, 3)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.hide()

    def show_move(self, text: str | None, can_undo: bool) -> None:
        self.label.setText(text or "")
        self.button.setVisible(can_undo)
        self.action.setEnabled(can_undo)
        self.setVisible(text is not None)
