"""A contact's fields, each with a red sentence under it when it is wrong (the sales form and the store's
"Your details" both use it)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QSizePolicy, QWidget

from app.client.live_mirror import Entity
from app.client.presenters.contact_edit import LABELS as FIELD_LABELS
from app.client.shop_client import CallError
from app.domain.errors import InvalidError
from app.domain.validation import CONTACT_TEXT_FIELDS, MEASUREMENT_FIELDS, clean_contact_fields

ERROR_STYLE = "color: #b3261e;"
INVALID_STYLE = "border: 1px solid #b3261e; border-radius: 2px;"
NOTE_STYLE = "color: #555;"


def plain_message(exc: InvalidError | CallError) -> str:
    """The validator's sentence with the field's name in words: "'email' does not…" -> "E-mail does not…"."""
    field = str(exc.details.get("field", ""))
    label = FIELD_LABELS.get(field)
    if label is None and field.startswith("measurements."):
        label = field.split(".", 1)[1].replace("_cm", "").capitalize()
    return exc.message.replace(f"'{field}'", label) if label else exc.message


class ContactForm(QWidget):
    """The fields of a contact, each with a red sentence under it when it is wrong.

    Errors show once the form has been edited (a freshly loaded or blank form shows none); `errors()`
    always tells whether it could be saved."""

    edited = Signal()

    def __init__(self, with_notes: bool = True, parent: Any = None) -> None:
        super().__init__(parent)
        self.with_notes = with_notes
        self.name = QLineEdit()
        self.name.setPlaceholderText("Required")
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@example.co.uk")
        self.phone = QLineEdit()
        self.address = QPlainTextEdit()
        self.address.setTabChangesFocus(True)
        self.address.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.measure: dict[str, QLineEdit] = {}
        for field in MEASUREMENT_FIELDS:
            edit = QLineEdit()
            edit.setPlaceholderText("cm")
            edit.setMaximumWidth(70)
            self.measure[field] = edit
        for key, widget in self.field_widgets().items():
            widget.setObjectName(f"{key}Edit")

        self.error_labels: dict[str, QLabel] = {}
        # As tall as its fields need, never more nor less: extra room in a pane goes below it, not between
        # the rows, and a note appearing above it cannot squash it.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._add_row("name", "&Name", self.name)
        self._add_row("email", "&E-mail", self.email)
        self._add_row("phone", "&Phone", self.phone)
        self._add_row("address", "&Address", self.address)
        sizes = QHBoxLayout()
        sizes.setContentsMargins(0, 0, 0, 0)
        for field, edit in self.measure.items():
            sizes.addWidget(QLabel(FIELD_LABELS[f"measurements.{field}"]))
            sizes.addWidget(edit)
        sizes.addWidget(QLabel("cm"))
        sizes.addStretch(1)
        sizes_box = QWidget()
        sizes_box.setLayout(sizes)
        self._add_row("measurements", "&Measurements", sizes_box)
        if with_notes:
            self._add_row("notes", "N&otes", self.notes)
        else:
            self.notes.hide()

        self.name.textChanged.connect(self._changed)
        self.email.textChanged.connect(self._changed)
        self.phone.textChanged.connect(self._changed)
        self.address.textChanged.connect(self._changed)
        self.notes.textChanged.connect(self._changed)
        for edit in self.measure.values():
            edit.textChanged.connect(self._changed)
        self._loading = False
        self._loaded = self.values()
        self.refresh_errors()

    def _add_row(self, key: str, label: str, widget: QWidget) -> None:
        title = QLabel(label)
        title.setBuddy(self.measure["waist_cm"] if key == "measurements" else widget)
        self.layout_.addRow(title, widget)
        error = QLabel()
        error.setObjectName(f"{key}Error")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        self.layout_.addRow("", error)
        self.layout_.setRowVisible(error, False)
        self.error_labels[key] = error

    def field_widgets(self) -> dict[str, QWidget]:
        widgets: dict[str, QWidget] = {
            "name": self.name, "email": self.email, "phone": self.phone, "address": self.address,
        }
        if self.with_notes:
            widgets["notes"] = self.notes
        widgets.update(self.measure)
        return widgets

    # -- values ---------------------------------------------------------------------------------

    def load(self, contact: Entity | None) -> None:
        """Show a saved contact (or a blank one) as the new unedited state."""
        self._loading = True
        try:
            self._put(contact or {})
        finally:
            self._loading = False
        self._loaded = self.values()
        self.refresh_errors()

    def fill(self, fields: dict[str, Any]) -> None:
        """Put values in as edits (after a merge: mine on top of their newer version)."""
        self._put(fields)
        self._changed()

    def _put(self, contact: dict[str, Any]) -> None:
        for key, edit in (("name", self.name), ("email", self.email), ("phone", self.phone)):
            edit.setText(contact.get(key) or "")
            edit.setCursorPosition(0)  # a long value reads from its start, not clipped at the left
        self.address.setPlainText(contact.get("address") or "")
        if self.with_notes:
            self.notes.setPlainText(contact.get("notes") or "")
        measurements = contact.get("measurements") or {}
        for field, edit in self.measure.items():
            value = measurements.get(field)
            edit.setText("" if value is None or value == "" else f"{float(value):g}")

    def values(self) -> dict[str, Any]:
        """What the form holds, as typed."""
        out: dict[str, Any] = {
            "name": self.name.text(), "email": self.email.text(), "phone": self.phone.text(),
            "address": self.address.toPlainText(),
        }
        if self.with_notes:
            out["notes"] = self.notes.toPlainText()
        out["measurements"] = {field: edit.text().strip() for field, edit in self.measure.items()}
        return out

    def is_dirty(self) -> bool:
        return self.values() != self._loaded

    def clean(self) -> dict[str, Any]:
        """The fields to send; raises InvalidError (with details['field']) for the first wrong one."""
        raw = self.values()
        raw["measurements"] = {k: _centimetres(k, v) for k, v in raw["measurements"].items()}
        return clean_contact_fields(raw, partial=False)

    def errors(self) -> dict[str, str]:
        """Every wrong field -> a sentence about it (keys: name, email, phone, address, notes, measurements)."""
        raw = self.values()
        errors: dict[str, str] = {}
        for field in CONTACT_TEXT_FIELDS:
            if field in raw:
                try:
                    clean_contact_fields({field: raw[field]}, partial=field != "name")
                except InvalidError as exc:
                    errors[field] = plain_message(exc)
        problems = []
        for field, text in raw["measurements"].items():
            try:
                clean_contact_fields({"measurements": {field: _centimetres(field, text)}}, partial=True)
            except InvalidError as exc:
                problems.append(plain_message(exc))
        if problems:
            errors["measurements"] = " ".join(problems)
        return errors

    def is_valid(self) -> bool:
        return not self.errors()

    def error_text(self, key: str) -> str:
        label = self.error_labels.get(key)
        return label.text() if label is not None and not label.isHidden() else ""

    def refresh_errors(self, force: bool = False) -> dict[str, str]:
        """Show the current errors (once edited, or when forced); returns all of them."""
        errors = self.errors()
        shown = errors if (force or self.is_dirty()) else {}
        for key in self.error_labels:
            self.show_error(key, shown.get(key, ""))
        return errors

    def show_error(self, key: str, text: str) -> None:
        label = self.error_labels.get(key)
        if label is None:
            return
        label.setText(text)
        self.layout_.setRowVisible(label, bool(text))
        widgets = list(self.measure.values()) if key == "measurements" else [self.field_widgets().get(key)]
        for widget in widgets:
            if widget is not None:
                widget.setStyleSheet(INVALID_STYLE if text else "")

    def focus_first(self) -> None:
        self.name.setFocus()
        self.name.selectAll()

    def _changed(self) -> None:
        if self._loading:
            return
        self.refresh_errors()
        self.edited.emit()


def _centimetres(field: str, text: str) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidError(
            f"'measurements.{field}' must be a number of centimetres, not {text!r}.", field=f"measurements.{field}"
        ) from None
