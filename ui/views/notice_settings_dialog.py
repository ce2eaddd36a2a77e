"""Notice settings: whether the notifier e-mails me, where, my quiet hours, and a daily digest instead of one
mail per order. Loaded with notices.settings.get and saved with notices.settings.set (my own settings only:
the service knows me by my login). The shipping and workshop views open it from a button and a menu action.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTime, QTimeZone
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.client.people import person_name
from app.client.role_session import friendly_error
from app.client.shop_client import CallError, ShopClient
from ui.partials.tasks import run_dialog, spawn

WHAT = {
    "shipping": "when a kilt is ready to collect (with what to bill)",
    "workshop": "when a new order comes in (what to make, for whom)",
    "sales": "when a new order comes in",
}


def _time_edit(name: str) -> QTimeEdit:
    edit = QTimeEdit()
    edit.setObjectName(name)
    edit.setDisplayFormat("HH:mm")
    return edit


def _hhmm(edit: QTimeEdit) -> str:
    return str(edit.time().toString("HH:mm"))


def _set_hhmm(edit: QTimeEdit, text: str | None, fallback: str) -> None:
    edit.setTime(QTime.fromString(text or fallback, "HH:mm"))


class NoticeSettingsDialog(QDialog):
    def __init__(self, client: ShopClient, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.role = role
        self.version: int | None = None
        self.saved: dict[str, Any] | None = None
        self.setObjectName("noticeSettingsDialog")
        self.setWindowTitle("Notice settings")
        self.setModal(True)

        intro = QLabel(f"The shop can e-mail you {WHAT.get(role, 'about the shop')}. These settings are "
                       f"for {person_name(client.user)} alone.")
        intro.setWordWrap(True)
        self.email_enabled = QCheckBox("Send me e-mail notices")
        self.email_enabled.setObjectName("noticeEmailEnabled")
        self.email = QLineEdit()
        self.email.setObjectName("noticeEmail")
        self.email.setPlaceholderText("you@example.org")
        self.quiet = QCheckBox("Quiet hours: hold mail from")
        self.quiet.setObjectName("noticeQuiet")
        self.quiet_start = _time_edit("noticeQuietStart")
        self.quiet_end = _time_edit("noticeQuietEnd")
        self.digest = QCheckBox("One mail a day instead of one per order, at")
        self.digest.setObjectName("noticeDigest")
        self.digest_at = _time_edit("noticeDigestAt")
        self.timezone = QComboBox()
        self.timezone.setObjectName("noticeTimezone")
        self.timezone.setEditable(True)
        self.status = QLabel("Loading your settings…")
        self.status.setObjectName("noticeStatus")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save is not None
        self.save_button = save
        self.save_button.setObjectName("noticeSave")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        quiet_row = QHBoxLayout()
        quiet_row.addWidget(self.quiet)
        quiet_row.addWidget(self.quiet_start)
        quiet_row.addWidget(QLabel("to"))
        quiet_row.addWidget(self.quiet_end)
        quiet_row.addStretch(1)
        digest_row = QHBoxLayout()
        digest_row.addWidget(self.digest)
        digest_row.addWidget(self.digest_at)
        digest_row.addStretch(1)
        form = QFormLayout()
        form.addRow(self.email_enabled)
        form.addRow("Address:", self.email)
        form.addRow(quiet_row)
        form.addRow(digest_row)
        form.addRow("Times are in:", self.timezone)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self.quiet.toggled.connect(self._update_enabled)
        self.digest.toggled.connect(self._update_enabled)
        self.email_enabled.toggled.connect(self._update_enabled)
        self._set_busy(True)

    # -- state ------------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self.version is not None

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.email_enabled, self.email, self.quiet, self.quiet_start, self.quiet_end, self.digest,
                       self.digest_at, self.timezone, self.save_button):
            widget.setEnabled(not busy)
        if not busy:
            self._update_enabled()

    def _update_enabled(self) -> None:
        if not self.loaded:
            return
        self.quiet_start.setEnabled(self.quiet.isChecked())
        self.quiet_end.setEnabled(self.quiet.isChecked())
        self.digest_at.setEnabled(self.digest.isChecked())

    def show_settings(self, settings: dict[str, Any]) -> None:
        self.version = int(settings["version"])
        self.email_enabled.setChecked(bool(settings["email_enabled"]))
        self.email.setText(str(settings["email"]))
        self.quiet.setChecked(settings["quiet_start"] is not None)
        _set_hhmm(self.quiet_start, settings["quiet_start"], "21:00")
        _set_hhmm(self.quiet_end, settings["quiet_end"], "07:00")
        self.digest.setChecked(bool(settings["digest"]))
        _set_hhmm(self.digest_at, settings["digest_at"], "08:00")
        zones = [str(settings["timezone"]), bytes(QTimeZone.systemTimeZoneId().data()).decode(), "Europe/London",
                 "UTC"]
        self.timezone.clear()
        self.timezone.addItems(list(dict.fromkeys(z for z in zones if z)))
        self.timezone.setCurrentIndex(0)
        self._set_busy(False)

    def values(self) -> dict[str, Any]:
        quiet = self.quiet.isChecked()
        return {
            "email_enabled": self.email_enabled.isChecked(),
            "email": self.email.text().strip(),
            "quiet_start": _hhmm(self.quiet_start) if quiet else None,
            "quiet_end": _hhmm(self.quiet_end) if quiet else None,
            "digest": self.digest.isChecked(),
            "digest_at": _hhmm(self.digest_at),
            "timezone": self.timezone.currentText().strip(),
        }

    # -- talking to the shop ------------------------------------------------------------------------------

    async def load(self) -> None:
        try:
            settings = await self.client.call("notices.settings.get", {"role": self.role})
        except Exception as exc:
            self.status.setText(f"Your notice settings could not be loaded: {friendly_error(exc)}")
            return
        self.show_settings(settings)
        self.status.setText("" if settings["version"] else "You have not saved notice settings yet.")

    def save(self) -> None:
        if self.loaded:
            spawn(self._save(), self._failed)

    async def _save(self) -> None:
        self._set_busy(True)
        self.status.setText("Saving…")
        try:
            self.saved = await self.client.call(
                "notices.settings.set", {"role": self.role, "version": self.version, **self.values()},
            )
        except CallError as exc:
            if exc.code == "conflict" and isinstance(exc.details.get("current"), dict):
                self.show_settings(exc.details["current"])
                self.status.setText("Your settings were changed elsewhere meanwhile; here they are now. "
                                    "Make your change again.")
            else:
                self._set_busy(False)
                self.status.setText(exc.message)
            return
        except Exception:
            self._set_busy(False)
            raise
        self.status.setText("Saved.")
        self.accept()

    def _failed(self, text: str) -> None:
        self.status.setText(text)


class NoticeSettingsOpener:
    """A "Notice settings…" button and menu action for a role view; opens the dialog without blocking."""

    def __init__(self, view: QWidget, client: ShopClient, role: str) -> None:
        self.view = view
        self.client = client
        self.role = role
        self.dialog: NoticeSettingsDialog | None = None
        self.button = QPushButton("Notice settings…")
        self.button.setObjectName("noticeSettingsButton")
        self.button.setToolTip("Whether and when the shop e-mails you")
        self.action = QAction("&Notice settings…", view)
        self.button.clicked.connect(self.open)
        self.action.triggered.connect(self.open)

    def open(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return
        spawn(self._run())

    async def _run(self) -> int:
        dialog = NoticeSettingsDialog(self.client, self.role, self.view)
        self.dialog = dialog
        spawn(dialog.load())
        return await run_dialog(dialog)
