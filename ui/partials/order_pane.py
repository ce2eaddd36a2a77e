"""The store's "Order" box: a title, why it is locked (when it is), the item editor, a note, and the buttons that
fit the order's state (Place for a new one; Save and Cancel while pending; New order once shown)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.client.live_mirror import Entity
from app.client.presenters.words import local_date
from app.domain.order_states import OrderStatus
from ui.partials.order_editor import OrderEditor
from ui.views.text import STATUS_WORDS, html_text

LOCKED_STYLE = "background: #eef3fb; border: 1px solid #9fb7dd; border-radius: 4px; padding: 6px;"
MESSAGE_STYLE = "background: #fff3b0; border: 1px solid #e0c050; border-radius: 4px; padding: 6px;"


def note(name: str, style: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def scrolled(widget: QWidget) -> QScrollArea:
    """A pane whose content keeps its size when a note appears: it scrolls rather than squash or grow."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


def button(text: str, name: str, tip: str) -> QPushButton:
    made = QPushButton(text)
    made.setObjectName(name)
    made.setToolTip(tip)
    return made


class OrderPane(QGroupBox):
    def __init__(self, parent: Any = None) -> None:
        super().__init__("Order", parent)
        self.heading = QLabel()
        self.heading.setObjectName("editorTitle")
        self.locked_label = note("lockedLabel", LOCKED_STYLE)
        self.editor = OrderEditor()
        self.message = note("editorMessage", MESSAGE_STYLE)
        self.new_button = button("New order", "newOrderButton", "Start a new order (Ctrl+N)")
        self.place_button = button("Place order", "placeButton", "Place this order (Ctrl+Enter)")
        self.save_button = button("Save changes", "saveOrderButton", "Save the changes to this order (Ctrl+S)")
        self.cancel_button = button("Cancel order", "cancelOrderButton", "Cancel this order")
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.locked_label)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        for each in (self.cancel_button, self.save_button, self.place_button):
            buttons.addWidget(each)
        layout.addLayout(buttons)

    def show_new(self, customer: Entity | None) -> None:
        self.heading.setText(f"<h3>New order</h3>for {html_text(customer['name'])}" if customer
                           else "<h3>New order</h3>")
        self.editor.fill([], "", editable=customer is not None)
        self.editor.add_item()
        self.editor.mark_loaded()
        self.locked_label.hide()
        self.message.hide()
        self.place_button.show()
        for each in (self.save_button, self.cancel_button, self.new_button):
            each.hide()

    def show_order(self, order: Entity, locked: str) -> None:
        """An order as it is: editable while pending, read-only with the true sentence `locked` after that."""
        pending = order["status"] == OrderStatus.PENDING
        self.show_heading(order)
        self.editor.fill(order["items"], order.get("notes") or "", editable=pending)
        self.message.hide()
        self.place_button.hide()
        self.new_button.show()
        if pending:
            self.locked_label.hide()
            self.save_button.show()
            self.cancel_button.show()
        else:
            self.show_locked(locked)

    def show_heading(self, order: Entity) -> None:
        status = STATUS_WORDS.get(order["status"], order["status"])
        self.heading.setText(f"<h3>Order {html_text(order['number'])} · {status}</h3>"
                             f"placed {local_date(order['placed_at'])}")

    def show_locked(self, sentence: str) -> None:
        """Read-only from now on; what is typed stays as it is."""
        self.locked_label.setText(sentence)
        self.locked_label.show()
        self.editor.set_editable(False)
        self.save_button.hide()
        self.cancel_button.hide()

    def say(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def locked_text(self) -> str:
        return self.locked_label.text() if not self.locked_label.isHidden() else ""
