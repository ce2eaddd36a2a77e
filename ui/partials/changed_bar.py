"""The yellow bar over a form: "Dougie (shipping) changed this contact just now", with Reload and Keep mine.
It takes its place in the layout whether shown or not, so the form under it never jumps or squashes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy

BAR_STYLE = "#changedBar { background: #fff3b0; border: 1px solid #e0c050; border-radius: 4px; }"


class ChangedBar(QFrame):
    reload = Signal()
    keep = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("changedBar")
        self.setStyleSheet(BAR_STYLE)
        self.label = QLabel()
        self.label.setObjectName("changedLabel")
        self.label.setWordWrap(True)
        self.reload_button = QPushButton("&Reload")
        self.reload_button.setObjectName("reloadButton")
        self.reload_button.setToolTip("Drop your edits and show their saved version")
        self.reload_button.clicked.connect(self.reload)
        self.keep_button = QPushButton("&Keep mine")
        self.keep_button.setObjectName("keepButton")
        self.keep_button.setToolTip("Save what you typed; fields only they changed keep their value")
        self.keep_button.clicked.connect(self.keep)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.reload_button)
        row.addWidget(self.keep_button)
        # Room for two lines of text, fixed: the form under it stays where it is whatever the sentence.
        lines = self.label.fontMetrics().lineSpacing() * 2
        self.setFixedHeight(max(lines, self.keep_button.sizeHint().height()) + 12)
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        policy.setVerticalPolicy(QSizePolicy.Policy.Fixed)
        self.setSizePolicy(policy)
        self.hide()

    def say(self, text: str) -> None:
        self.label.setText(text)
        self.show()
