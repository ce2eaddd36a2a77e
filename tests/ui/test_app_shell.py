"""The app around the views: start dialog and keyring, settings, switching role, all roles at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from app.client.shop_client import ShopClient
from app.config import Settings
from app.security.secrets import load_password, save_password
from tests.support import ServiceProcess
from tests.ui.conftest import UiLoop, press, short_undo
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
    assert window.windowTitle().startswith("Pickups")
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


# -- the window shell (issue 12) -----------------------------------------------------------------------


def unsaved_box() -> QMessageBox | None:
    return next((w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMessageBox) and w.objectName() == "unsavedBox" and w.isVisible()), None)


def button(box: QMessageBox, text: str) -> Any:
    return next(b for b in box.buttons() if b.text() == text)


def test_titles_radio_roles_and_typed_text_kept_on_a_role_switch_or_close(
    ui: UiLoop, qtbot: Any, login: BrokerLogin
) -> None:
    window = ui.open_window(qtbot, login, "workshop")
    assert window.windowTitle() == "Order board (workshop)"  # Qt adds "— Kiltshop" once, itself
    group = window.role_actions["sales"].actionGroup()
    assert group is not None and group.isExclusive()  # radio items, not check boxes
    assert all(a.actionGroup() is group for a in window.role_actions.values())
    press(qtbot, window, window.view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)  # nothing typed: no question
    ui.wait_until(lambda: window.role == "sales" and window.view is not None, what="switched to sales")
    assert unsaved_box() is None

    # the sales desk starts a new contact and types a name, not saved yet
    view = window.view
    press(qtbot, window, view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(QApplication.focusWidget(), "Morag MacLeod")
    press(qtbot, window, view, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # to the workshop
    ui.wait_until(lambda: unsaved_box() is not None, what="asked before losing typed text")
    box = unsaved_box()
    assert box is not None and "new contact" in box.text()
    qtbot.mouseClick(button(box, "Keep editing"), Qt.MouseButton.LeftButton)
    ui.pump(0.3)
    assert window.view is view and window.role_actions["sales"].isChecked()
    assert view.form.name.text() == "Morag MacLeod"  # type: ignore[attr-defined]  # still there

    window.close()  # closing asks too
    ui.wait_until(lambda: unsaved_box() is not None, what="asked before closing")
    qtbot.mouseClick(button(unsaved_box(), "Keep editing"), Qt.MouseButton.LeftButton)
    ui.pump(0.3)
    assert window.isVisible()

    press(qtbot, window, window.view, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    ui.wait_until(lambda: unsaved_box() is not None, what="asked again")
    qtbot.mouseClick(button(unsaved_box(), "Lose it"), Qt.MouseButton.LeftButton)
    ui.wait_until(lambda: window.role == "workshop" and window.view is not None, what="switched to the workshop")
    assert isinstance(window.view, WorkshopView)
    assert window.role_actions["workshop"].isChecked() and not window.role_actions["sales"].isChecked()


def test_the_shop_service_down_with_the_broker_up_is_said_and_a_move_is_kept(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient, shop_service: ServiceProcess
) -> None:
    contact = ui.run(other.call("contacts.create", {"name": "Morag MacLeod"}))
    placed = ui.run(other.call("orders.place", {"contact_id": contact["id"], "items": [
        {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}]}))
    window = ui.open_window(qtbot, login, "workshop")
    view = window.view
    assert isinstance(view, WorkshopView)
    assert window.health is not None
    window.health.interval, window.health.timeout = 0.5, 1.0
    short_undo(window, 0.2)
    assert "answering" in window.service_indicator.text() and window.banner.isHidden()

    shop_service.terminate()  # the service stops; the broker stays up
    ui.wait_until(lambda: "not answering" in window.service_indicator.text(), what="the service indicator")
    assert window.banner.isVisible()
    assert "shop service is not answering" in window.banner.text()
    assert "Connected" in window.indicator.text()  # the broker's own indicator is a separate thing
    assert "." not in window.banner.text().split("answering")[0]  # no method names like contacts.list

    view.select_order(placed["id"])
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    ui.wait_until(lambda: "when the shop service answers again" in window.findChild(QLabel, "undoText").text(),
                  timeout=20, what="the move kept for later")
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert boxes == []  # no modal with an internal method name

    shop_service.start()
    ui.wait_until(lambda: view.session.orders.items[placed["id"]]["status"] == "in_progress", timeout=30,
                  what="the kept move sent once the service is back")
    ui.wait_until(lambda: window.banner.isHidden(), what="banner gone")
    ui.wait_until(lambda: window.findChild(QWidget, "undoBar").isHidden(), what="nothing left to send")
