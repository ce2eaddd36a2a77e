"""Yes/no questions put to a person from a coroutine (opened, never exec'd): drop unsaved edits? cancel an
order? `showing` is told of the box while it is open (the view keeps it, and tests answer it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from ui.partials.tasks import run_dialog
from ui.views.text import ask_to_drop


async def ask(box: QMessageBox, showing: Callable[[Any], None]) -> bool:
    """True when the person chose the box's destructive button."""
    showing(box)
    try:
        await run_dialog(box)
        return box.buttonRole(box.clickedButton()) == QMessageBox.ButtonRole.DestructiveRole
    finally:
        showing(None)
        box.deleteLater()


async def drop_edits(parent: QWidget, sentence: str, showing: Callable[[Any], None]) -> bool:
    return await ask(ask_to_drop(parent, sentence), showing)


async def cancel_order(parent: QWidget, number: str, total: str, showing: Callable[[Any], None]) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, "Cancel order",
                      f"Cancel order {number} ({total})?\n\nThis cannot be undone.", parent=parent)
    box.setObjectName("confirmCancelBox")
    box.addButton("Cancel the order", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole))
    return await ask(box, showing)
