"""UI test harness: real widgets offscreen, a fresh qasync loop per test, a real service process.

A test is a plain (sync) function that drives the loop with `ui.run(coro)`; never call qtbot.waitSignal
inside a coroutine and never stop a loop shared across tests.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtWidgets import QApplication

from app.client.role_session import RoleSession
from app.client.shop_client import ShopClient
from app.config import Settings
from tests.conftest import BROKER_URL, delete_namespace, new_namespace
from tests.support import ServiceProcess
from ui.main_window import BrokerLogin, RoleWindow


class UiLoop:
    """A qasync loop for one test, with helpers to run coroutines and wait for conditions on it."""

    def __init__(self, app: QApplication) -> None:
        app.setQuitOnLastWindowClosed(False)  # as the app does; a closing dialog must not stop the loop
        self.loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(self.loop)
        self.windows: list[RoleWindow] = []

    def open_window(self, qtbot: Any, login: BrokerLogin, role: str) -> RoleWindow:
        """A real role window, shown and loaded; closed with the loop even if the test fails."""
        window = RoleWindow(login, role)
        # pytest-qt closes (and deletes) its widgets before fixtures are torn down: shut the window first.
        qtbot.addWidget(window, before_close_func=self._shut_window)
        window.show()
        self.windows.append(window)
        self.run(window.open())
        return window

    def _shut_window(self, window: Any) -> None:
        if window in self.windows and not self.loop.is_closed():
            self.windows.remove(window)
            try:
                self.run(window.shut(), 10)
            except Exception as exc:  # the test already failed; keep closing the rest
                print(f"closing a window failed: {exc!r}")

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        # Not loop.run_until_complete: qasync's ends with a processEvents() after it has unset the running
        # loop, and a task stepped there (aiormq's writer getting its next frame) dies with "Queue is bound
        # to a different event loop", which drops that window's broker connection.
        future = asyncio.ensure_future(asyncio.wait_for(coro, timeout), loop=self.loop)
        future.add_done_callback(lambda _f: self.loop.stop())
        self.loop.run_forever()
        if not future.done():
            raise RuntimeError("The event loop stopped before the coroutine finished.")
        return future.result()

    def wait_until(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
        async def poll() -> None:
            while not predicate():
                await asyncio.sleep(0.02)

        try:
            self.run(poll(), timeout)
        except TimeoutError:
            raise AssertionError(f"{what} not met within {timeout} s") from None

    def pump(self, seconds: float = 0.1) -> None:
        self.run(asyncio.sleep(seconds), seconds + 5)

    def close(self) -> None:
        for window in self.windows:
            try:
                self.run(window.shut(), 10)
            except Exception as exc:  # the test already failed; keep closing the rest
                print(f"closing a window failed: {exc!r}")
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        # Let aio-pika's own closing tasks finish and collect what they leave while the loop still runs;
        # left for interpreter shutdown, they crash it inside PySide6's finaliser.
        self.loop.run_until_complete(asyncio.sleep(0.05))
        gc.collect()
        self.loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def ui_settings(tmp_path: Path) -> Iterator[Settings]:
    namespace = new_namespace()
    yield Settings(broker_url=BROKER_URL, namespace=namespace,
                   database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    asyncio.run(delete_namespace(BROKER_URL, namespace))


@pytest.fixture
def shop_service(ui_settings: Settings, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The real shop service as its own process, answering before the test starts."""
    proc = ServiceProcess(ui_settings, tmp_path / "service.log")
    proc.start()

    async def ping() -> None:
        async with ShopClient(ui_settings.broker_url, ui_settings.namespace) as client:
            for _ in range(100):
                try:
                    await client.call("contacts.list", {"limit": 1}, timeout=1)
                    return
                except Exception:
                    await asyncio.sleep(0.1)
            raise RuntimeError("service did not answer")

    asyncio.run(ping())
    yield proc
    proc.terminate()


@pytest.fixture
def ui(qapp: QApplication, shop_service: ServiceProcess) -> Iterator[UiLoop]:
    loop = UiLoop(qapp)
    yield loop
    loop.close()


@pytest.fixture
def login(ui_settings: Settings) -> BrokerLogin:
    return BrokerLogin(ui_settings.broker_url, ui_settings.namespace, ui_settings.broker_address, "guest")


@pytest.fixture
def other(ui: UiLoop, ui_settings: Settings) -> Iterator[ShopClient]:
    """Another program acting on the shop (say, another role), on the test's loop."""
    client = ShopClient(ui_settings.broker_url, ui_settings.namespace, app_id="test-other")
    ui.run(client.connect())
    yield client
    ui.run(client.close())


def open_session(ui: UiLoop, settings: Settings, role: str) -> RoleSession:
    client = ShopClient(settings.broker_url, settings.namespace, app_id=f"test-{role}")
    ui.run(client.connect())
    session = RoleSession(client, role)
    ui.run(session.start())
    return session


def press(qtbot: Any, window: Any, widget: Any, key: Any, modifier: Any = None) -> None:
    """A key press as a person makes it: into the active window, on the widget that has the focus."""
    from PySide6.QtCore import Qt

    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5000)
    widget.setFocus()
    qtbot.keyClick(widget, key, modifier if modifier is not None else Qt.KeyboardModifier.NoModifier)


def short_undo(window: Any, hold_s: float = 0.3) -> None:
    """Cut a view's Undo time short, so a test need not wait five seconds for each move to be sent."""
    presenter = getattr(window.view, "presenter", None)
    if presenter is not None:
        presenter.moves.hold_s = hold_s
