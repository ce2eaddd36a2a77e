"""The app around the views: start dialog and keyring, settings, switching role, all roles at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.config import Settings
from app.security.secrets import load_password, save_password
from tests.ui.conftest import UiLoop
from ui import launch
from ui.app_settings import AppSettings
from ui.main_window import BrokerLogin
from ui.start_dialog import StartDialog
from ui.views.shipping_view import ShippingView
from ui.views.workshop_view import WorkshopView


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in that keeps passwords in memory (the real one is absent on a test machine)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.saved: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.saved.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.saved[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.saved.pop((service, username), None)


@pytest.fixture
def app_settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "kiltshop.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def memory_keyring() -> Any:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def find_dialog() -> StartDialog | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, StartDialog) and widget.isVisible():
            return widget
    return None


@pytest.fixture
def no_keyring() -> Any:
    """As on a headless machine: no keyring backend at all."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_no_keyring_is_said_plainly_and_nothing_is_stored(no_keyring: None) -> None:
    result = asyncio.run(load_password("guest", "127.0.0.1:5672"))
    assert not result.ok and result.password is None
    assert "no password keyring" in result.problem and "asked for each time" in result.problem
    assert not asyncio.run(save_password("guest", "127.0.0.1:5672", "pw")).ok


def test_a_keyring_that_hangs_times_out_instead_of_freezing(memory_keyring: MemoryKeyring) -> None:
    import time

    memory_keyring.get_password = lambda *_a: time.sleep(2)  # type: ignore[method-assign]
    result = asyncio.run(load_password("guest", "host:5672", timeout=0.2))
    assert not result.ok and "did not answer" in result.problem


def test_start_dialog_asks_remembers_in_keyring_not_settings(
    ui: UiLoop, qtbot: Any, ui_settings: Settings, app_settings: AppSettings, memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    async def sign_in() -> Any:
        task = asyncio.ensure_future(launch.ask_login(ui_settings, app_settings))
        while (dialog := find_dialog()) is None:
            await asyncio.sleep(0.02)
        assert not dialog.keyring_note.isVisible()
        dialog.address.setText("127.0.0.1:5672")
        dialog.user.setText("guest")
        dialog.password.setText("")
        dialog.role.setCurrentIndex(dialog.role.findData("workshop"))
        dialog._check()  # the Open button's handler: refuses an empty password
        assert dialog.problem.text() == "Enter your password."
        dialog.password.setText("guest")
        dialog._check()
        return await task

    login, role = ui.run(sign_in())
    assert role == "workshop"
    assert login.url == "amqp://guest:guest@127.0.0.1:5672/"
    assert memory_keyring.saved == {("kiltshop", "guest@127.0.0.1:5672"): "guest"}
    assert app_settings.role == "workshop" and app_settings.broker_user == "guest"
    app_settings.sync()
    stored = (tmp_path / "kiltshop.ini").read_text()
    assert "guest:guest" not in stored and "password" not in stored.lower()

    async def second_time() -> Any:  # the password now comes from the keyring
        task = asyncio.ensure_future(launch.ask_login(ui_settings, app_settings))
        while (dialog := find_dialog()) is None:
            await asyncio.sleep(0.02)
        assert dialog.password.text() == "guest"
        assert dialog.chosen_role() == "workshop"
        dialog.reject()
        return await task

    assert ui.run(second_time()) is None


def test_start_dialog_without_keyring_says_so(
    ui: UiLoop, qtbot: Any, ui_settings: Settings, app_settings: AppSettings, no_keyring: None
) -> None:

    async def look() -> str:
        task = asyncio.ensure_future(launch.ask_login(ui_settings, app_settings))
        while (dialog := find_dialog()) is None:
            await asyncio.sleep(0.02)
        note = dialog.keyring_note.text() if dialog.keyring_note.isVisible() else ""
        assert not dialog.remember.isEnabled()
        dialog.reject()
        await task
        return note

    assert "no password keyring" in ui.run(look())


def test_switch_role_rebuilds_the_view_in_place(ui: UiLoop, qtbot: Any, login: BrokerLogin) -> None:
    window = ui.open_window(qtbot, login, "workshop")
    assert isinstance(window.view, WorkshopView)
    window.role_actions["shipping"].trigger()
    ui.wait_until(lambda: isinstance(window.view, ShippingView), what="shipping view after switch")
    assert "Pickups" in window.windowTitle()
    assert window.role_actions["shipping"].isChecked() and not window.role_actions["workshop"].isChecked()


def test_all_roles_open_side_by_side_and_close_cleanly(
    ui: UiLoop, qtbot: Any, ui_settings: Settings, app_settings: AppSettings
) -> None:
    async def scenario() -> list[str]:
        task = asyncio.ensure_future(launch.main(ui_settings, None, True, app_settings))
        windows: list[launch.AppWindow] = []
        while len(windows) < 4 or any(w.view is None for w in windows):
            windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, launch.AppWindow) and w.isVisible()]
            await asyncio.sleep(0.05)
        roles = sorted(w.role for w in windows)
        for window in windows:
            window.close()
        assert await task == 0
        assert all(w.client is None for w in windows)  # every connection closed before main() returned
        return roles

    assert ui.run(scenario()) == ["sales", "shipping", "store", "workshop"]
