"""Typed options over QSettings, with an upgrade path (as Picard does): never a password in here."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

SETTINGS_VERSION = 1


class AppSettings:
    def __init__(self, settings: QSettings | None = None) -> None:
        self._s = settings or QSettings("Kiltshop", "Kiltshop")
        self._upgrade()

    def _upgrade(self) -> None:
        version = int(str(self._s.value("settings_version", 0) or 0))
        if version < 1:
            # Before version 1 nothing was stored; a password must never have been, but make sure.
            self._s.remove("password")
        self._s.setValue("settings_version", SETTINGS_VERSION)

    def _str(self, key: str, default: str = "") -> str:
        value = self._s.value(key, default)
        return str(value) if value is not None else default

    @property
    def role(self) -> str:
        return self._str("role")

    @role.setter
    def role(self, value: str) -> None:
        self._s.setValue("role", value)

    @property
    def broker_address(self) -> str:
        return self._str("broker/address")

    @broker_address.setter
    def broker_address(self, value: str) -> None:
        self._s.setValue("broker/address", value)

    @property
    def broker_user(self) -> str:
        return self._str("broker/user")

    @broker_user.setter
    def broker_user(self, value: str) -> None:
        self._s.setValue("broker/user", value)

    def geometry(self, role: str) -> QByteArray | None:
        value = self._s.value(f"geometry/{role}")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, role: str, value: QByteArray) -> None:
        self._s.setValue(f"geometry/{role}", value)

    def sync(self) -> None:
        self._s.sync()
