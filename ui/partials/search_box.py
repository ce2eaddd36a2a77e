"""Small widgets the workshop and shipping toolbars share: a search box with Ctrl+F, and a label whose width
does not change with its text (so the buttons beside it never move under the pointer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QFontMetrics, QKeySequence
from PySide6.QtWidgets import QLabel, QLineEdit


class SearchBox(QLineEdit):
    """Filters after a pause in typing (`delay_ms`), not once per key; `find_action` (Ctrl+F) focuses it."""

    def __init__(self, name: str, placeholder: str, on_search: Callable[[], Any], delay_ms: int = 150,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setPlaceholderText(f"{placeholder} (Ctrl+F)")
        self.setClearButtonEnabled(True)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(on_search)
        self.textChanged.connect(lambda _text: self.timer.start())
        self.find_action = QAction("&Find", self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self.focus_for_typing)

    def focus_for_typing(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.selectAll()


def steady_label(name: str, longest: str) -> QLabel:
    """A right-aligned label as wide as its longest text will ever be."""
    label = QLabel()
    label.setObjectName(name)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setFixedWidth(QFontMetrics(label.font()).horizontalAdvance(longest) + 12)
    return label
