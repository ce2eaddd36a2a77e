"""The window: a role's view, the broker's and the shop service's indicators, one banner, menus; "Switch role"
rebuilds the view in place. Each window has its own connection (in a real shop each person logs in as
themselves). Before a role switch or a close it asks the view for typed text it would lose."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.client.people import person_name
from app.client.presenters.health import Health, ServiceHealth
from app.client.role_session import ROLE_INFO, ROLES, RoleSession, friendly_error
from app.client.shop_client import ConnectionState, ShopClient
from ui.app_settings import AppSettings
from ui.partials.connection_status import ConnectionIndicator, OfflineBanner, ServiceIndicator
from ui.partials.tasks import run_dialog, spawn
from ui.views.role_view import RoleView

log = logging.getLogger(__name__)

VIEW_CLASSES = {
    "sales": "ui.views.sales_view:SalesView",
    "workshop": "ui.views.workshop_view:WorkshopView",
    "shipping": "ui.views.shipping_view:ShippingView",
    "store": "ui.views.store_view:StoreView",
}


def view_class(role: str) -> type[RoleView]:
    module, _, name = VIEW_CLASSES[role].partition(":")
    cls: type[RoleView] = getattr(importlib.import_module(module), name)
    return cls


@dataclass(frozen=True)
class BrokerLogin:
    url: str  # with credentials
    namespace: str
    address: str  # for people: host:port
    user: str


class RoleWindow(QMainWindow):
    def __init__(self, login: BrokerLogin, role: str, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.login = login
        self.role = role
        self.app_settings = settings
        self.client: ShopClient | None = None
        self.session: RoleSession | None = None
        self.view: RoleView | None = None
        self.health: ServiceHealth | None = None
        self._opened_at = 0.0
        self._closing_agreed = False
        self._asking: asyncio.Task[None] | None = None

        self.banner = OfflineBanner()
        self.indicator = ConnectionIndicator()
        self.service_indicator = ServiceIndicator()
        self.loading_label = QLabel("Connecting to the shop…")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        loading = QWidget()
        loading_layout = QVBoxLayout(loading)
        loading_layout.addStretch(1)
        loading_layout.addWidget(self.loading_label)
        loading_layout.addWidget(self.progress)
        loading_layout.addStretch(1)
        self.stack = QStackedWidget()
        self.stack.addWidget(loading)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.statusBar().addPermanentWidget(self.service_indicator)
        self.statusBar().addPermanentWidget(self.indicator)
        self._build_menus()
        self._show_title()
        if settings is not None and (geometry := settings.geometry(role)) is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1000, 640)

    # -- menus ----------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        shop = self.menuBar().addMenu("&Shop")
        switch = shop.addMenu("Switch &role")
        self.role_actions: dict[str, QAction] = {}
        self.role_group = QActionGroup(self)  # one role at a time: radio items, not check boxes
        self.role_group.setExclusive(True)
        for number, role in enumerate(ROLES, start=1):
            action = QAction(f"{ROLE_INFO[role].title} ({role})", self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.setCheckable(True)
            self.role_group.addAction(action)
            action.triggered.connect(lambda _checked=False, r=role: self.switch_role(r))
            switch.addAction(action)
            self.role_actions[role] = action
        self.reload_action = QAction("&Reload from the shop", self)
        self.reload_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.reload_action.triggered.connect(self.reload)
        shop.addAction(self.reload_action)
        shop.addSeparator()
        close = QAction("&Close window", self)
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)
        shop.addAction(close)
        self.actions_menu = self.menuBar().addMenu("&Actions")
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Kiltshop", self)
        about.setShortcut(QKeySequence.StandardKey.HelpContents)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def _show_title(self) -> None:
        # Qt adds the application's name ("— Kiltshop") itself: the title says only the role.
        info = ROLE_INFO[self.role]
        self.setWindowTitle(f"{info.title} ({self.role})")
        for role, action in self.role_actions.items():
            action.setChecked(role == self.role)

    # -- life -----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, load the role's snapshot with progress, then show its view."""
        self.stack.setCurrentIndex(0)
        self.loading_label.setText(f"Connecting to the shop at {self.login.address}…")
        self.client = ShopClient(self.login.url, self.login.namespace, app_id=f"kiltshop-app/{self.role}")
        self.client.on_state(self._on_state)
        try:
            await self.client.connect()
            self.session = RoleSession(self.client, self.role)
            self.loading_label.setText("Loading…")
            await self.session.start(progress=self._on_progress)
        except Exception as exc:
            self.loading_label.setText(friendly_error(exc) + "\n\nUse Shop › Reload (F5) to try again.")
            self.progress.hide()
            self._on_state(ConnectionState.OFFLINE)
            raise
        self.session.live.synced = self._on_synced
        self.health = ServiceHealth(self.client)
        self.health.on_change(self._on_health)
        self.view = view_class(self.role)(self.session, self)
        self.view.health = self.health
        await self.view.start()
        self.stack.addWidget(self.view)
        self.stack.setCurrentWidget(self.view)
        self.actions_menu.clear()
        for action in self.view.view_actions():
            self.actions_menu.addAction(action)
        self.view.set_online(self.client.state == ConnectionState.CONNECTED)
        self._opened_at = time.monotonic()
        self.health.state = Health.ANSWERING  # it has just answered the whole snapshot
        self._on_health(Health.ANSWERING)
        self.health.start()
        self.statusBar().showMessage("Up to date.", 3000)

    async def shut(self) -> None:
        """Close the role's connection (before the loop ends, as qasync requires), then drop the view."""
        health, self.health = self.health, None
        if health is not None:
            await health.stop()
        view = self.view
        if view is not None and shiboken6.isValid(view) and self.client is not None:
            try:
                await view.stop()  # moves held for Undo are sent; another window takes the notices over
            except Exception as exc:
                log.info("stopping the view failed: %r", exc)
        client, self.client, self.session = self.client, None, None
        if client is not None:
            await client.close()
        view, self.view = self.view, None
        if view is not None and shiboken6.isValid(view) and shiboken6.isValid(self.stack):
            self.stack.removeWidget(view)
            view.deleteLater()

    def switch_role(self, role: str) -> None:
        spawn(self._switch_if_agreed(role), self._error)

    async def _switch_if_agreed(self, role: str) -> None:
        if not await self.may_lose_typed_text("switch to " + ROLE_INFO[role].title.lower()):
            self._show_title()  # the radio item goes back to the role still shown
            return
        await self._switch(role)

    def unsaved_changes(self) -> str | None:
        """What the view would lose (typed, not saved), in its own words; None when nothing."""
        ask = getattr(self.view, "unsaved_changes", None)
        return ask() if callable(ask) else None

    async def may_lose_typed_text(self, doing: str) -> bool:
        """Ask the person before typed text is thrown away (opened, not exec'd); True when nothing is at risk."""
        unsaved = self.unsaved_changes()
        if not unsaved:
            return True
        box = QMessageBox(QMessageBox.Icon.Warning, "Not saved yet",
                          f"{unsaved}\n\nIt has not been sent to the shop. {doing.capitalize()} and lose it?",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("unsavedBox")
        keep = box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        lose = box.addButton("Lose it", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)
        self.unsaved_box = box
        await run_dialog(box)
        return box.clickedButton() is lose

    async def _switch(self, role: str) -> None:
        self._save_geometry()
        await self.shut()
        self.role = role
        if self.app_settings is not None:
            self.app_settings.role = role
        self._show_title()
        self.progress.show()
        await self.open()

    def reload(self) -> None:
        spawn(self._switch(self.role), self._error)

    def _error(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    def _on_progress(self, kind: str, count: int) -> None:
        self.loading_label.setText(f"Loading {kind}s… {count}")

    def _on_synced(self) -> None:
        if self.view is not None:
            self.view.synced()
        self.statusBar().showMessage("Up to date with the shop.", 3000)

    def _on_state(self, state: ConnectionState) -> None:
        self.indicator.show_state(state)
        self._show_banner()
        if self.view is not None:
            self.view.set_online(state == ConnectionState.CONNECTED)
        self.reload_action.setEnabled(state != ConnectionState.RECONNECTING)
        if self.health is not None and state == ConnectionState.CONNECTED:
            self.health.check_soon()

    def _on_health(self, health: Health) -> None:
        self.service_indicator.show_health(health)
        self._show_banner()
        if health == Health.ANSWERING and self.view is not None:
            self.view.service_answering()

    def _show_banner(self) -> None:
        broker = self.client.state if self.client is not None else ConnectionState.OFFLINE
        service = self.health.banner if self.health is not None else None
        self.banner.show_state(broker, service if broker == ConnectionState.CONNECTED else None)

    def show_about(self) -> None:
        state = self.client.state.value if self.client else "offline"
        seq = self.session.live.seq if self.session else 0
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "About Kiltshop",
            f"<b>Kiltshop {__version__}</b><br>MacGrudder's kilt shop, Glen Orchy.<br><br>"
            f"Role: {ROLE_INFO[self.role].title} ({self.role})<br>"
            f"Signed in as: {person_name(self.login.user)}<br>"
            f"Shop computer: {self.login.address}<br>"
            f"Shop namespace: {self.login.namespace}<br>"
            f"Connection: {state}<br>"
            f"Events applied up to: {seq}",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("aboutBox")
        box.open()
        if self.client is not None and self.client.state == ConnectionState.CONNECTED:
            spawn(self._service_status(box))

    async def _service_status(self, box: QMessageBox) -> None:
        assert self.client is not None
        started = time.perf_counter()
        try:
            await self.client.call("contacts.list", {"limit": 1}, timeout=3)
            status = f"answers ({(time.perf_counter() - started) * 1000:.0f} ms)"
        except Exception as exc:
            status = friendly_error(exc)
        box.setText(box.text() + f"<br>Shop service: {status}")

    def _save_geometry(self) -> None:
        if self.app_settings is not None:
            self.app_settings.set_geometry(self.role, self.saveGeometry())

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing_agreed and self.unsaved_changes():
            event.ignore()  # ask first (a dialog opened, not exec'd), then close again if he agrees
            if self._asking is None or self._asking.done():
                self._asking = spawn(self._close_if_agreed(), self._error)
            return
        self._save_geometry()
        super().closeEvent(event)

    async def _close_if_agreed(self) -> None:
        if await self.may_lose_typed_text("close the window"):
            self._closing_agreed = True
            self.close()
