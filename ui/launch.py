"""`kiltshop app`: start Qt and the qasync loop, ask for a login when needed, open the windows.

PySide6 is imported before qasync, and every connection is closed inside main() before it returns
(both known traps of qasync on Python 3.11)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from urllib.parse import quote, urlsplit, urlunsplit

import qasync
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication

from app.client.role_session import ROLES
from app.config import Settings
from ui.app_settings import AppSettings
from ui.application import KiltshopApplication, MissingResource
from ui.main_window import BrokerLogin, RoleWindow
from ui.partials.tasks import run_dialog, spawn


class _Closed(QObject):
    closed = Signal()


class AppWindow(RoleWindow):
    """A RoleWindow that tells main() when it is closed."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.signals = _Closed()

    def closeEvent(self, event: QCloseEvent) -> None:
        super().closeEvent(event)
        self.signals.closed.emit()


def login_from_settings(settings: Settings) -> BrokerLogin:
    return BrokerLogin(settings.broker_url, settings.namespace, settings.broker_address, settings.broker_user)


def url_with_login(address: str, user: str, password: str, template: str) -> str:
    """amqp://user:password@host:port/vhost from what a person typed (host:port or a full URL)."""
    base = urlsplit(address if "://" in address else f"{urlsplit(template).scheme}://{address}")
    host = base.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{base.port}" if base.port else "")
    return urlunsplit((base.scheme, netloc, base.path or "/", base.query, ""))


async def ask_login(settings: Settings, app_settings: AppSettings) -> tuple[BrokerLogin, str] | None:
    # Imported here: a window opened for a given role (the common start) never needs the sign-in dialog.
    from app.security.secrets import load_password, save_password
    from ui.start_dialog import StartDialog

    address = app_settings.broker_address or settings.broker_address
    user = app_settings.broker_user or settings.broker_user
    stored = await load_password(user, address)
    dialog = StartDialog(address, user, app_settings.role, stored.password, stored.problem)
    if await run_dialog(dialog) != StartDialog.DialogCode.Accepted:
        return None
    address, user, password = dialog.address.text().strip(), dialog.user.text().strip(), dialog.password.text()
    role = dialog.chosen_role()
    app_settings.broker_address, app_settings.broker_user, app_settings.role = address, user, role
    if dialog.remember.isChecked():
        await save_password(user, address, password)  # a failure only means asking again next time
    url = url_with_login(address, user, password, settings.broker_url)
    return BrokerLogin(url, settings.namespace, address, user), role


def tile(windows: list[AppWindow]) -> None:
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    cols = 2 if len(windows) > 1 else 1
    rows = (len(windows) + cols - 1) // cols
    width, height = area.width() // cols, area.height() // rows
    for i, window in enumerate(windows):
        window.setGeometry(area.x() + (i % cols) * width, area.y() + (i // cols) * height, width - 8, height - 40)


async def main(settings: Settings, role: str | None, all_roles: bool, app_settings: AppSettings | None = None) -> int:
    app_settings = app_settings or AppSettings()
    if all_roles:
        login = login_from_settings(settings)
        windows = [AppWindow(login, r, app_settings) for r in ROLES]
        tile(windows)
    else:
        if role is None:
            chosen = await ask_login(settings, app_settings)
            if chosen is None:
                return 0
            login, role = chosen
        else:
            login = login_from_settings(settings)
            app_settings.role = role
        windows = [AppWindow(login, role, app_settings)]
    open_windows = set(windows)
    all_closed = asyncio.Event()

    def closed(window: AppWindow) -> None:
        open_windows.discard(window)
        if not open_windows:
            all_closed.set()

    for window in windows:
        window.signals.closed.connect(lambda w=window: closed(w))
        window.show()
        task = spawn(window.open(), window._error)
        if os.environ.get("KILTSHOP_COLD_START_T0"):
            _report_cold_start(window, task)
    await all_closed.wait()
    for window in windows:
        await window.shut()
    app_settings.sync()
    return 0


def _report_cold_start(window: AppWindow, opening: asyncio.Task[None]) -> None:
    """bench/cold_start.py: print when the window first painted and when its data showed, then close."""
    started = float(os.environ["KILTSHOP_COLD_START_T0"])  # the bench's clock when it started this process

    def mark(what: str) -> None:
        print(f"cold-start {what} {time.time() - started:.3f}", flush=True)

    QTimer.singleShot(0, lambda: mark("first_paint"))  # runs once the shown window's first events are done

    def opened(_task: asyncio.Task[None]) -> None:
        def shown() -> None:
            mark("data_shown")
            window.close()
        QTimer.singleShot(0, shown)

    opening.add_done_callback(opened)


def run_app(settings: Settings, role: str | None = None, all_roles: bool = False) -> int:
    """`kiltshop app` (registered as the kiltshop.commands entry point `app`, see pyproject.toml)."""
    if os.environ.get("KILTSHOP_COLD_START_T0"):
        print(f"cold-start run_app {time.time() - float(os.environ['KILTSHOP_COLD_START_T0']):.3f}", flush=True)
    try:
        KiltshopApplication(sys.argv)
    except MissingResource as exc:
        print(f"kiltshop: {exc}", file=sys.stderr)
        return 1
    result: int = qasync.run(main(settings, role, all_roles))
    return result
