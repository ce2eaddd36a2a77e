"""The store's "Your details": the contact form without Notes (the customer does not see them), a note under
it, and Save."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QPushButton, QVBoxLayout

from ui.partials.contact_form import ContactForm
from ui.partials.order_pane import MESSAGE_STYLE, note


class DetailsBox(QGroupBox):
    def __init__(self, parent: Any = None) -> None:
        super().__init__("Your details", parent)
        self.form = ContactForm(with_notes=False)
        self.message = note("detailsMessage", MESSAGE_STYLE)
        self.save_button = QPushButton("Save my details")
        self.save_button.setObjectName("saveDetailsButton")
        self.save_button.setToolTip("Save your details (Ctrl+Shift+S)")
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)
        self.form.edited.connect(self.quiet)

    def say(self, text: str, ok: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #1b5e20;" if ok else MESSAGE_STYLE)
        self.message.show()

    def quiet(self) -> None:
        self.message.hide()
        self.message.clear()
