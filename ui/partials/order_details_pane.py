"""The workshop's detail pane: everything about the selected order, its history fetched from the shop once the
person stops on a card (arrowing through cards fetches only the last one's)."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QTextBrowser

from app.client.presenters.workshop import WorkshopPresenter
from app.client.role_session import friendly_error
from ui.partials.order_html import details_html, history_html
from ui.partials.tasks import spawn

HISTORY_DELAY_MS = 120


class OrderDetailsPane(QTextBrowser):
    def __init__(self, presenter: WorkshopPresenter, parent: Any = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self.setObjectName("orderDetails")
        self.setOpenExternalLinks(True)
        self.setMinimumWidth(300)
        self._history: tuple[int, str] | None = None  # (order id, its history as HTML)
        self._request = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(HISTORY_DELAY_MS)
        self._timer.timeout.connect(self._fetch)

    def selection_changed(self) -> None:
        """Another order (or none) is selected: its history is fetched once he stops there."""
        order_id = self.presenter.current_id
        if self._history is None or self._history[0] != order_id:
            self._history = None
            if order_id is not None:
                self._timer.start()

    def reload_history(self) -> None:
        if self.presenter.current_id is not None:
            self._timer.start()

    def show_current(self) -> None:
        order = self.presenter.current_order()
        if order is None:
            gone = self.presenter.gone_number
            if gone:
                text = (f"<p>Order <b>{html.escape(gone)}</b> was collected or cancelled, so it has left the "
                        "board.</p>")
            else:
                text = ("<h3>No order selected</h3><p>Select an order on the board to see the customer's "
                        "address and measurements, what to make, and everything that has happened to it.</p>"
                        f"<p style='color:#5f5f5f'>{self.presenter.open_count_text()}</p>")
            self.setHtml(text)
            return
        if self._history is not None and self._history[0] == order["id"]:
            history = self._history[1]
        else:
            history = "<p style='color:#5f5f5f'>Loading history…</p>"
        contact = self.presenter.session.contacts.items.get(order["contact_id"])
        scroll = self.verticalScrollBar().value()
        self.setHtml(details_html(order, contact, history))
        self.verticalScrollBar().setValue(scroll)

    def _fetch(self) -> None:
        if self.presenter.current_id is None:
            return
        self._request += 1
        spawn(self._load(self.presenter.current_id, self._request))

    async def _load(self, order_id: int, request: int) -> None:
        try:
            reply = await self.presenter.session.order_details(order_id)
            history = history_html(reply.get("history") or [])
        except Exception as exc:
            reason = html.escape(friendly_error(exc))
            history = f"<p style='color:#b3261e'>The history could not be loaded: {reason}</p>"
        if request != self._request or order_id != self.presenter.current_id:
            return  # he has moved on, or a newer fetch is on its way
        self._history = (order_id, history)
        self.show_current()
