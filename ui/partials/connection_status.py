"""The status bar's two indicators (the broker connection, and whether the shop service answers) and the
unmissable banner shown while either is down."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel

from app.client.presenters.health import HEALTH_TEXT, Health
from app.client.shop_client import ConnectionState

STATE_TEXT = {
    ConnectionState.CONNECTED: "● Connected",
    ConnectionState.RECONNECTING: "● Reconnecting…",
    ConnectionState.OFFLINE: "● Offline",
}
BANNER_TEXT = {
    ConnectionState.RECONNECTING: (
        "Connection to the shop lost — reconnecting. Changes cannot be saved until it is back."
    ),
    ConnectionState.OFFLINE: (
        "Offline — not connected to the shop. Nothing can be saved until the connection is back."
    ),
}


class ConnectionIndicator(QLabel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionIndicator")
        self.show_state(ConnectionState.OFFLINE)

    def show_state(self, state: ConnectionState) -> None:
        self.setText(STATE_TEXT[state])
        self.setProperty("state", state.value)
        self.style().unpolish(self)
        self.style().polish(self)


class ServiceIndicator(QLabel):
    """Whether the shop service answers its pings: green, red, or blank while the broker itself is down."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("serviceIndicator")
        self.show_health(Health.UNKNOWN)

    def show_health(self, health: Health) -> None:
        self.setText(HEALTH_TEXT[health])
        self.setProperty("state", health.value)
        self.setStyleSheet({Health.ANSWERING: "color: #1b7f3a;", Health.NOT_ANSWERING: "color: #b3261e;"}
                           .get(health, ""))
        self.setToolTip("Whether the shop service answers (asked every few seconds)")


class OfflineBanner(QLabel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineBanner")
        self.setWordWrap(True)
        self.hide()

    def show_state(self, state: ConnectionState, service: str | None = None) -> None:
        """The broker's trouble first; with the broker up, the service's (`service`, None when it answers)."""
        text = BANNER_TEXT.get(state) or service
        if text:
            self.setText(text)
        self.setVisible(text is not None)
