"""The connection indicator for the status bar and the unmissable banner shown while offline."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel

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


class OfflineBanner(QLabel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineBanner")
        self.setWordWrap(True)
        self.hide()

    def show_state(self, state: ConnectionState) -> None:
        text = BANNER_TEXT.get(state)
        if text:
            self.setText(text)
        self.setVisible(text is not None)
