"""Notice settings from the shipping and workshop views: the dialog loads and saves a person's own settings
through the contract, and what is changed in it decides the very next mail (a real notifier process and a real
SMTP server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from PySide6.QtWidgets import QDialog, QLabel

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names
from tests.notifier_helpers import SmtpServer, complete, ready_order
from tests.test_notifier_process import NotifierProcess, consuming, smtp_env
from tests.ui.conftest import UiLoop
from ui.main_window import BrokerLogin
from ui.views.notice_settings_dialog import NoticeSettingsDialog, NoticeSettingsOpener
from ui.views.shipping_view import ShippingView
from ui.views.workshop_view import WorkshopView

DOUGIE = "dougie@glen.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def notifier(ui: UiLoop, ui_settings: Settings, smtp: SmtpServer, tmp_path: Path) -> Iterator[NotifierProcess]:
    proc = NotifierProcess(smtp_env(ui_settings, smtp), tmp_path / "notifier.log")
    proc.start()
    ui.run(consuming(ui_settings))
    yield proc
    proc.terminate()

    async def remove_queues() -> None:
        connection = await aio_pika.connect(ui_settings.broker_url)
        try:
            for purpose in ("order-completed", "order-placed"):
                channel = await connection.channel()
                await channel.queue_delete(Names(ui_settings.namespace).notifier_queue(purpose))
        finally:
            await connection.close()

    ui.run(remove_queues())


def open_dialog(ui: UiLoop, opener: NoticeSettingsOpener, via_menu: bool = False) -> NoticeSettingsDialog:
    previous = opener.dialog
    if via_menu:
        opener.action.trigger()
    else:
        opener.button.click()
    ui.wait_until(lambda: opener.dialog is not previous and opener.dialog is not None and opener.dialog.loaded,
                  what="notice settings loaded")
    dialog = opener.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def save(ui: UiLoop, dialog: NoticeSettingsDialog) -> None:
    dialog.save_button.click()
    ui.wait_until(lambda: not dialog.isVisible(), what="dialog closed after saving")
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_preferences_changed_in_the_shipping_view_take_effect_on_the_next_event(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient, smtp: SmtpServer, notifier: NotifierProcess
) -> None:
    window = ui.open_window(qtbot, login, "shipping")
    view = window.view
    assert isinstance(view, ShippingView)
    assert view.notice_settings.action in view.view_actions()

    dialog = open_dialog(ui, view.notice_settings)
    assert not dialog.email_enabled.isChecked() and dialog.email.text() == ""
    assert "not saved notice settings yet" in dialog.status.text()
    dialog.email_enabled.click()
    qtbot.keyClicks(dialog.email, DOUGIE)
    dialog.timezone.setCurrentText("UTC")
    save(ui, dialog)
    assert dialog.saved is not None and dialog.saved["version"] == 1
    assert (dialog.saved["email_enabled"], dialog.saved["email"]) == (True, DOUGIE)

    first = ui.run(ready_order(other, "Morag MacLeod"))
    ui.run(complete(other, first))
    ui.wait_until(lambda: len(smtp.received) == 1, timeout=30, what="the first mail")
    assert smtp.received[0].to == [DOUGIE] and "K-0001" in smtp.received[0].subject

    # He drives to Ardlui now: the next kilt's mail must go there, and only there.
    again = open_dialog(ui, view.notice_settings, via_menu=True)
    assert again.email_enabled.isChecked() and again.email.text() == DOUGIE
    again.email.clear()
    qtbot.keyClicks(again.email, "dougie@ardlui.example")
    save(ui, again)
    second = ui.run(ready_order(other, "Hamish Grant"))
    ui.run(complete(other, second))
    ui.wait_until(lambda: len(smtp.received) == 2, timeout=30, what="the second mail")
    assert smtp.received[1].to == ["dougie@ardlui.example"] and "Hamish Grant" in smtp.received[1].subject

    # And switched off: the next kilt is handled (it is on his pickup list) and mails nobody.
    off = open_dialog(ui, view.notice_settings)
    off.email_enabled.click()
    save(ui, off)
    third = ui.run(ready_order(other, "Isla Munro"))
    ui.run(complete(other, third))
    ui.wait_until(lambda: view.model.rowCount() == 3, what="three pickups")
    assert notifier.terminate() == 0
    assert len(smtp.received) == 2
    ui.run(window.shut())


def test_the_workshop_dialog_keeps_quiet_hours_and_digest_and_says_what_is_wrong(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    window = ui.open_window(qtbot, login, "workshop")
    view = window.view
    assert isinstance(view, WorkshopView)
    dialog = open_dialog(ui, view.notice_settings)
    words = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "someone on this computer alone" in words and "guest" not in words  # a person, not a login

    dialog.email_enabled.click()  # on, but no address yet
    dialog.save_button.click()
    ui.wait_until(lambda: "no address" in dialog.status.text(), what="refusal shown")
    assert dialog.isVisible() and dialog.save_button.isEnabled()

    qtbot.keyClicks(dialog.email, "macgrudder@glen.example")
    dialog.quiet.click()
    dialog.quiet_start.setTime(dialog.quiet_start.time().fromString("22:00", "HH:mm"))
    dialog.quiet_end.setTime(dialog.quiet_end.time().fromString("06:30", "HH:mm"))
    dialog.digest.click()
    dialog.digest_at.setTime(dialog.digest_at.time().fromString("07:15", "HH:mm"))
    dialog.timezone.setCurrentText("Europe/London")
    save(ui, dialog)
    stored = ui.run(other.call("notices.settings.get", {"role": "workshop"}))
    assert (stored["email_enabled"], stored["email"], stored["quiet_start"], stored["quiet_end"], stored["digest"],
            stored["digest_at"], stored["timezone"]) == (True, "macgrudder@glen.example", "22:00", "06:30", True,
                                                         "07:15", "Europe/London")

    # Changed elsewhere (his other window) while the dialog is open: it shows the change and asks again.
    stale = open_dialog(ui, view.notice_settings)
    ui.run(other.call("notices.settings.set", {"role": "workshop", "version": stored["version"], "digest": False}))
    stale.quiet.click()  # quiet hours off
    stale.save_button.click()
    ui.wait_until(lambda: "changed elsewhere" in stale.status.text(), what="conflict explained")
    assert stale.isVisible() and not stale.digest.isChecked() and stale.quiet.isChecked()
    stale.quiet.click()
    save(ui, stale)
    final = ui.run(other.call("notices.settings.get", {"role": "workshop"}))
    assert (final["quiet_start"], final["digest"], final["version"]) == (None, False, 3)
    ui.run(window.shut())
