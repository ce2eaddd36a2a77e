"""Helpers for the sales and store window tests: a person's keys and clicks (QTest), never the view's methods.

Shortcuts go to the window the way a keyboard sends them (to the focused widget, through Qt's shortcut map),
so a test that presses Ctrl+N fails if the window would not react to Ctrl+N."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QApplication, QMessageBox, QWidget

from ui.main_window import RoleWindow
from ui.views.sales_view import SalesView
from ui.views.store_view import StoreView

MORAG = {"name": "Morag MacLeod", "email": "morag.macleod@example.co.uk", "phone": "01838 400200",
         "address": "3 Loch View\nTyndrum", "measurements": {"waist_cm": 86.0, "hip_cm": 98.0, "length_cm": 58.0}}
HAMISH = {"name": "Hamish Grant", "email": "hamish.grant@example.co.uk", "phone": "01838 400300",
          "address": "12 Station Road, Dalmally"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def sales_view(window: RoleWindow) -> SalesView:
    assert isinstance(window.view, SalesView)
    window.activateWindow()
    return window.view


def store_view(window: RoleWindow) -> StoreView:
    assert isinstance(window.view, StoreView)
    window.activateWindow()
    return window.view


def click(widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), f"{widget.objectName() or widget} cannot be clicked"
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def press(keys: str, widget: QWidget | None = None) -> None:
    """A key or chord ('Tab', 'Ctrl+N', 'Ctrl+Return') to the focused widget (or `widget`), as a keyboard would."""
    target = widget or focused()
    assert target is not None, "nothing has the keyboard focus"
    combo = QKeySequence(keys)[0]
    QTest.keyClick(target, combo.key(), combo.keyboardModifiers())


def type_text(text: str, widget: QWidget | None = None) -> None:
    target = widget or focused()
    assert target is not None, "nothing has the keyboard focus"
    QTest.keyClicks(target, text)


def retype(edit: QWidget, text: str) -> None:
    """Click into a field, select what is there and type over it."""
    click(edit)
    press("Ctrl+A", edit)
    if text:
        QTest.keyClicks(edit, text)
    else:
        press("Delete", edit)


def click_row(table: QAbstractItemView, row: int, column: int = 0) -> None:
    model = table.model()
    index: QModelIndex = model.index(row, column)
    table.scrollTo(index)
    rect = table.visualRect(index)
    assert rect.isValid(), f"row {row} is not shown"
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())


def click_row_with(table: QAbstractItemView, text: str, column: int = 0) -> None:
    model = table.model()
    rows = [r for r in range(model.rowCount()) if str(model.index(r, column).data()).startswith(text)]
    assert rows, f"no row starting with {text!r}"
    click_row(table, rows[0], column)


def answer(box: QMessageBox | None, text: str) -> None:
    """Click the button of a question box that reads `text`."""
    assert box is not None and box.isVisible(), "the question is not showing"
    button = next(b for b in box.buttons() if b.text().replace("&", "") == text)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(5, 5))


def back_to(view: QWidget) -> None:
    """The window active again after a question box closed, as the window manager would make it."""
    window = view.window()
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 2000)
    assert QApplication.activeWindow() is window, f"the active window is {QApplication.activeWindow()}"


def pick_customer(view: StoreView, name: str) -> None:
    """Type the customer's name into the picker (Ctrl+F goes there) and take the match with Enter."""
    back_to(view)
    press("Ctrl+F", focused() or view)
    assert focused() is view.picker, f"Ctrl+F went to {focused()}"
    press("Ctrl+A")
    type_text(name)
    popup = view.picker.completer().popup()
    for _ in range(100):
        if popup.isVisible():
            break
        QTest.qWait(20)
    assert popup.isVisible(), f"the matching names did not pop up for {view.picker.currentText()!r}"
    press("Down", popup)
    press("Return", popup)


def shoot(widget: QWidget, name: str) -> Path:
    """Save what the widget looks like: into docs/screenshots with KILTSHOP_SCREENSHOTS=1 (to refresh the
    committed ones), else into a temporary folder, so that a test run leaves the work tree as it was."""
    folder = SCREENSHOTS if os.environ.get("KILTSHOP_SCREENSHOTS") else Path(tempfile.gettempdir()) / "kiltshop-shots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert widget.grab().save(str(path))
    return path


def items_of(order: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(i["description"], i.get("tartan") or "", i["quantity"], i["unit_price_pence"]) for i in order["items"]]
