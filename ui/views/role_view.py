"""What every role view offers its window."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.client.presenters.health import ServiceHealth
from app.client.role_session import RoleSession
from ui.partials.tasks import show_error, spawn


class RoleView(QWidget):
    """A role's panel. Subclasses list the widgets and actions that need the service in `service_widgets`."""

    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self.service_widgets: list[Any] = []  # QWidget or QAction: disabled while offline
        self.online = True
        self.health: ServiceHealth | None = None  # the window's watch on the shop service, set before start()

    async def start(self) -> None:
        """Anything the view must set up on the service before it counts as open (e.g. its notice queue)."""

    async def stop(self) -> None:
        """Anything to finish before the window's connection closes (moves held for Undo, the notice feed)."""

    def view_actions(self) -> list[QAction]:
        """Actions for the window's menu (with shortcuts)."""
        return []

    def set_online(self, online: bool) -> None:
        self.online = online
        for widget in self.service_widgets:
            widget.setEnabled(online and self.allowed(widget))

    def allowed(self, widget: Any) -> bool:
        """Whether a service widget is usable in the current selection (beyond being online)."""
        return True

    def update_enabled(self) -> None:
        self.set_online(self.online)

    def service_answering(self) -> None:
        """The shop service answers again (after not answering): send what it did not take before."""

    def no_answer(self, exc: BaseException) -> None:
        """A call of this view got no answer from the service: let the window's health watch know now."""
        if self.health is not None:
            self.health.call_failed(exc)

    def run(self, coro: Any) -> Any:
        """Run a coroutine for a button; failures show as a plain sentence."""
        return spawn(coro, self.error)

    def error(self, text: str) -> None:
        show_error(self, text)

    def synced(self) -> None:
        """Called after each snapshot (re)load."""
