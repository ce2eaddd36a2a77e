"""An order's items and notes, typed by a customer: one row per item (item, tartan, quantity, price, amount,
remove), the total, the first problem in plain words. Every control of a row is in the tab order, so an order
can be placed with the keyboard alone; long values read from their start and amounts never wrap."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import InvalidError
from app.domain.validation import MAX_QUANTITY, MAX_UNIT_PRICE_PENCE, clean_items, total_pence
from ui.partials.contact_form import ERROR_STYLE
from ui.views.text import money

NOTES_HINT = "Anything the workshop should know (dates, pleating, fittings)…"


def item_message(exc: InvalidError) -> str:
    """"'items[0].description' is required…" -> "Item 1: description is required…"."""
    field = str(exc.details.get("field", ""))
    if field.startswith("items[") and "]." in field:
        number = int(field[6:field.index("]")]) + 1
        part = field.split("].", 1)[1].replace("unit_price_pence", "price").replace("_", " ")
        return exc.message.replace(f"'{field}'", f"Item {number}: {part}")
    if field == "items":
        return "Add at least one item to the order."
    return exc.message


@dataclass
class ItemRow:
    box: QWidget
    description: QLineEdit
    tartan: QLineEdit
    quantity: QSpinBox
    price: QDoubleSpinBox  # pounds
    amount: QLabel
    remove: QToolButton

    def value(self) -> dict[str, Any]:
        return {
            "description": self.description.text(),
            "tartan": self.tartan.text(),
            "quantity": self.quantity.value(),
            "unit_price_pence": round(self.price.value() * 100),
        }

    def controls(self) -> list[QWidget]:
        return [self.description, self.tartan, self.quantity, self.price, self.remove]


class OrderEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        metrics = self.fontMetrics()
        # Widths from the widest value each column can hold, so "£480.00" or "12" never wrap or clip.
        self.widths = {
            "quantity": metrics.horizontalAdvance("9999") + 34,
            "price": metrics.horizontalAdvance("£99,999.99") + 34,
            "amount": metrics.horizontalAdvance("£999,999.99") + 10,
            "remove": 28,
        }
        self.rows: list[ItemRow] = []
        self._loading = False
        self._loaded: tuple[list[dict[str, Any]], str] = ([], "")
        self._editable = True

        self.rows_box = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(4)
        self.rows_layout.addWidget(self._header())
        self.rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("itemsArea")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        scroll.setWidget(self.rows_box)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.add_button = QPushButton("Add item")
        self.add_button.setObjectName("addItemButton")
        self.add_button.setToolTip("Add another item (Ctrl+I)")
        self.add_button.clicked.connect(lambda: self.add_item(focus=True))
        self.total_label = QLabel()
        self.total_label.setObjectName("orderTotal")
        self.error_label = QLabel()
        self.error_label.setObjectName("itemsError")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.notes = QPlainTextEdit()
        self.notes.setObjectName("orderNotes")
        self.notes.setPlaceholderText(NOTES_HINT)
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(metrics.lineSpacing() * 3 + 12)
        self.notes.textChanged.connect(self._changed)

        below = QHBoxLayout()
        self.add_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        below.addWidget(self.add_button)
        below.addWidget(self.error_label, 1)
        below.addStretch(0)
        below.addWidget(self.total_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(below)
        notes_label = QLabel("N&otes")
        notes_label.setBuddy(self.notes)
        layout.addWidget(notes_label)
        layout.addWidget(self.notes)

    def _header(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(4, 2, 4, 0)
        for title, width in (("Item", 0), ("Tartan", 0), ("Qty", self.widths["quantity"]),
                             ("Price each", self.widths["price"]), ("Amount", self.widths["amount"]),
                             ("", self.widths["remove"])):
            label = QLabel(f"<b>{title}</b>")
            if width:
                label.setFixedWidth(width)
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            row.addWidget(label, 0 if width else 2 if title == "Item" else 1)
        return box

    # -- rows ---------------------------------------------------------------------------------------

    def add_item(self, item: dict[str, Any] | None = None, focus: bool = False) -> ItemRow:
        item = item or {}
        box = QWidget()
        line = QHBoxLayout(box)
        line.setContentsMargins(4, 0, 4, 0)
        row = ItemRow(box, QLineEdit(item.get("description", "")), QLineEdit(item.get("tartan", "")), QSpinBox(),
                      QDoubleSpinBox(), QLabel(), QToolButton())
        row.description.setObjectName("itemDescription")
        row.description.setPlaceholderText("e.g. Eight-yard kilt")
        row.tartan.setPlaceholderText("e.g. MacGregor")
        for edit in (row.description, row.tartan):
            edit.setCursorPosition(0)  # read from the start: "Eight-yard casual kilt", not "ve-yard casual kilt"
            edit.textChanged.connect(self._changed)
        row.quantity.setRange(1, MAX_QUANTITY)
        row.quantity.setValue(int(item.get("quantity", 1)))
        row.price.setRange(0, MAX_UNIT_PRICE_PENCE / 100)
        row.price.setDecimals(2)
        row.price.setPrefix("£")
        row.price.setGroupSeparatorShown(True)
        row.price.setValue(item.get("unit_price_pence", 0) / 100)
        for spin in (row.quantity, row.price):
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        row.quantity.valueChanged.connect(self._changed)
        row.price.valueChanged.connect(self._changed)
        row.amount.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.amount.setObjectName("itemAmount")
        row.remove.setText("✕")
        row.remove.setObjectName("removeItemButton")
        row.remove.setToolTip("Remove this item")
        row.remove.setAccessibleName("Remove this item")
        row.remove.setAutoRaise(True)
        row.remove.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # reachable with Tab, pressed with Space
        row.remove.clicked.connect(lambda: self.remove_item(row))
        line.addWidget(row.description, 2)
        line.addWidget(row.tartan, 1)
        for key, widget in (("quantity", row.quantity), ("price", row.price), ("amount", row.amount),
                            ("remove", row.remove)):
            widget.setFixedWidth(self.widths[key])
            line.addWidget(widget)
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.rows_layout.insertWidget(self.rows_layout.count() - 1, box)
        box.setVisible(True)  # at once, not at the next event: Ctrl+N then typing must reach this row
        self.rows.append(row)
        self._apply_editable(row)
        self._retab()
        if focus:
            row.description.setFocus()
        self._changed()
        return row

    def remove_item(self, row: ItemRow) -> None:
        if row not in self.rows:
            return
        at = self.rows.index(row)
        self.rows.pop(at)
        row.box.hide()
        row.box.deleteLater()
        self._retab()
        if self.rows:  # the focus goes to the row that took its place, not off into the window
            self.rows[min(at, len(self.rows) - 1)].description.setFocus()
        else:
            self.add_button.setFocus()
        self._changed()

    def _retab(self) -> None:
        chain: list[QWidget] = [w for row in self.rows for w in row.controls()] + [self.add_button, self.notes]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def focus_first_item(self) -> None:
        if self.rows:
            self.rows[0].description.setFocus()
            self.rows[0].description.selectAll()

    # -- contents -----------------------------------------------------------------------------------

    def fill(self, items: list[dict[str, Any]], notes: str, editable: bool) -> None:
        """Show an order (or an empty one) as the new unedited state."""
        self._loading = True
        try:
            for row in self.rows:
                row.box.hide()
                row.box.deleteLater()
            self.rows = []
            self._editable = editable
            for item in items:
                self.add_item(item)
            self.notes.setPlainText(notes)
        finally:
            self._loading = False
        self.set_editable(editable)
        self.mark_loaded()

    def mark_loaded(self) -> None:
        self._loaded = (self.items(), self.notes.toPlainText())
        self.refresh()

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        for row in self.rows:
            self._apply_editable(row)
        self.notes.setReadOnly(not editable)
        self.notes.setPlaceholderText(NOTES_HINT if editable else "No notes.")
        self.add_button.setVisible(editable)
        self.refresh()

    def _apply_editable(self, row: ItemRow) -> None:
        editable = self._editable
        for edit in (row.description, row.tartan):
            edit.setReadOnly(not editable)
            edit.setFrame(editable)  # read-only rows read as text, not as boxes to type in
            edit.setCursorPosition(0)
        for spin in (row.quantity, row.price):
            spin.setReadOnly(not editable)
            spin.setFrame(editable)
            spin.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.UpDownArrows if editable
                                  else QAbstractSpinBox.ButtonSymbols.NoButtons)
        row.remove.setVisible(editable)

    def editable(self) -> bool:
        return self._editable

    def items(self) -> list[dict[str, Any]]:
        return [row.value() for row in self.rows]

    def notes_text(self) -> str:
        return self.notes.toPlainText()

    def is_dirty(self) -> bool:
        return (self.items(), self.notes.toPlainText()) != self._loaded

    def has_content(self) -> bool:
        return bool(self.notes.toPlainText().strip()) or any(
            row.description.text().strip() or row.price.value() for row in self.rows)

    def problem(self) -> str | None:
        """Why the items cannot be sent as they are, in plain words; None when they can."""
        try:
            clean_items(self.items())
        except InvalidError as exc:
            return item_message(exc)
        return None

    def show_problem(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _changed(self) -> None:
        if self._loading:
            return
        self.refresh()
        self.changed.emit()

    def refresh(self) -> None:
        for row in self.rows:
            value = row.value()
            row.amount.setText(money(value["quantity"] * value["unit_price_pence"]))
        self.total_label.setText(f"<b>Total {money(total_pence(self.items()))}</b>")
        problem = self.problem() if self._editable and self.is_dirty() else None
        self.show_problem(problem or "")
