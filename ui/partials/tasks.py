"""Running coroutines from Qt slots and showing dialogs from coroutines, without blocking the GUI.

asyncSlot-style tasks are kept here (asyncio holds only weak references to tasks), and modal dialogs are
opened with open() plus a future, never a nested exec() inside a coroutine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from app.client.role_session import friendly_error

log = logging.getLogger(__name__)

_tasks: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any], on_error: Callable[[str], None] | None = None) -> asyncio.Task[Any]:
    """Run coro on the loop, keep a reference until it ends, and turn any failure into a sentence."""
    task = asyncio.get_event_loop().create_task(coro)
    _tasks.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _tasks.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            log.info("task failed: %r", exc)
            if on_error is not None:
                on_error(friendly_error(exc))

    task.add_done_callback(done)
    return task


def running_tasks() -> int:
    return len(_tasks)


async def run_dialog(dialog: QDialog) -> int:
    """Show a modal dialog and wait for its answer without a nested event loop."""
    future: asyncio.Future[int] = asyncio.get_event_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    return await future


def show_error(parent: QWidget | None, text: str, title: str = "Kiltshop") -> QMessageBox:
    """A plain-words error box, opened (not exec'd) so nothing waits on it."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    box.open()
    return box
