"""Shipping/billing: completed orders waiting for collection, with where to go and what to bill.

A tray notice the instant an order is completed (or, with no tray, the same notice inside the window);
notices that came while the app was closed wait in a durable queue and show on the next start. Selection,
Mark collected (with Undo) and the contact fields that follow contact.* events live in ShippingPresenter."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QSystemTrayIcon,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.client.live_mirror import MirrorListener
from app.client.notices import Notice, NoticeFeed
from app.client.presenters.shipping import NO_SELECTION_HINT, ShippingPresenter
from app.client.presenters.words import local_time
from app.client.role_session import RoleSession
from ui.application import icon
from ui.partials.filter_proxy import SearchProxy
from ui.partials.mirror_table_model import ID_ROLE, Column, MirrorTableModel
from ui.partials.order_html import day_text, pickup_html
from ui.partials.undo_bar import UndoBar
from ui.views.notice_settings_dialog import NoticeSettingsOpener
from ui.views.role_view import RoleView
from ui.views.text import money


def ready_since(order: dict[str, Any]) -> str:
    """One format for the whole column: '3 Dec 2026, 14:05'."""
    at = local_time(order["updated_at"])
    return f"{day_text(order['updated_at'])}, {at:%H:%M}" if at else order["updated_at"]


class ShippingView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        self.presenter = ShippingPresenter(session)
        self.presenter.changed = self._presenter_changed
        self.presenter.contact_rows_changed = self._contact_rows_changed
        self.presenter.moves.failed = self.error
        self.presenter.moves.no_answer = self.no_answer
        contact = self.presenter.contact_of
        # An order leaving the list makes Qt select its neighbour: not his choice, so it must not arm Mark
        # collected. Told before the model (and after it, below), the view ignores what Qt does in between.
        self._removing = False
        session.orders.listen(MirrorListener(remove=lambda _id: setattr(self, "_removing", True)))
        self.model = MirrorTableModel(session.orders, [
            Column("Order", lambda o: o["number"], lambda o: o["id"]),
            Column("Customer", lambda o: session.contact_name(o["contact_id"])),
            Column("Collect from", lambda o: (contact(o).get("address") or "").replace("\n", ", ")),
            Column("Phone", lambda o: contact(o).get("phone", "")),
            Column("To bill", lambda o: money(o["total_pence"]), lambda o: o["total_pence"]),
            Column("Ready since", ready_since, lambda o: o["updated_at"]),
        ], self)
        session.orders.listen(MirrorListener(remove=lambda _id: self._rows_removed()))
        self.proxy = SearchProxy(self)
        self.proxy.setSourceModel(self.model)
        self.search = QLineEdit()
        self.search.setObjectName("pickupSearch")
        self.search.setPlaceholderText("Search pickups… (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.find_action = QAction("&Find a pickup", self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self._focus_search)
        self.table = self._build_table()
        self.totals = QLabel()
        self.totals.setObjectName("pickupTotals")
        self.totals.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.totals.setMinimumWidth(QFontMetrics(self.totals.font()).horizontalAdvance(
            "999 ready · £99,999.00 to bill") + 12)  # the button beside it stays put as the sum changes
        self.collect_button = QPushButton("Mark collected")
        self.collect_button.setObjectName("collectButton")
        self.collect_button.setToolTip("Mark collected (Ctrl+L); a few seconds' Undo follows")
        self.collect_button.clicked.connect(self.collect_selected)
        self.details = QTextBrowser()
        self.details.setObjectName("pickupDetails")
        self.details.setMinimumWidth(260)
        self.undo_bar = UndoBar(self.undo)
        self.notices = QListWidget()
        self.notices.setObjectName("noticeList")
        self.notices.setWordWrap(True)
        self.no_notices = QLabel("No notices yet. The moment MacGrudder marks a kilt completed, it shows here"
                                 + (" and in the tray." if QSystemTrayIcon.isSystemTrayAvailable() else "."))
        self.no_notices.setWordWrap(True)
        self.no_notices.setObjectName("noNotices")
        notices_box = QWidget()
        notices_layout = QVBoxLayout(notices_box)
        notices_layout.setContentsMargins(0, 0, 0, 0)
        notices_layout.addWidget(QLabel("<b>Notices</b>"))
        notices_layout.addWidget(self.no_notices)
        notices_layout.addWidget(self.notices)
        notices_layout.addStretch(1)
        self.notices.hide()  # no empty white box: the words above say there is nothing yet

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.totals)
        top.addWidget(self.collect_button)
        self.notice_settings = NoticeSettingsOpener(self, session.client, "shipping")  # e-mail notices
        top.addWidget(self.notice_settings.button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.undo_bar)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.details)
        right.addWidget(notices_box)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([780, 420])  # the detail pane wide enough for an address and an amount per line
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.collect_action = QAction("Mark &collected", self)
        self.collect_action.setShortcut(QKeySequence("Ctrl+L"))
        self.collect_action.triggered.connect(self.collect_selected)
        self.service_widgets = [self.collect_button, self.collect_action]

        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon("kiltshop"), self)
            self.tray.show()
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.dataChanged):
            signal.connect(lambda *_: self._update_totals())
        self.model.modelReset.connect(self._update_totals)
        self._update_totals()
        self.feed = NoticeFeed(session.client, "shipping", session.known_contact_name, self.show_notice,
                               replay=True)
        self._presenter_changed()

    def _focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("pickupsTable")
        table.setModel(self.proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().hide()
        table.setWordWrap(False)
        table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        return table

    def _rows_removed(self) -> None:
        self._removing = False
        self._presenter_changed()

    async def start(self) -> None:
        await self.feed.start()

    async def stop(self) -> None:
        await self.presenter.moves.flush()
        await self.feed.stop()

    def view_actions(self) -> list[QAction]:
        return [self.collect_action, self.undo_bar.action, self.find_action, self.notice_settings.action]

    # -- notices --------------------------------------------------------------------------------

    def show_notice(self, notice: Notice) -> None:
        at = local_time(notice.at)
        self.notices.insertItem(0, f"{at:%H:%M}  {notice.text}" if at else notice.text)
        self.no_notices.hide()
        self.notices.show()
        if self.tray is not None:
            self.tray.showMessage(notice.title, notice.text, QSystemTrayIcon.MessageIcon.Information, 10000)

    def _update_totals(self) -> None:
        text = self.presenter.totals_text()
        self.totals.setText(text)
        if self.tray is not None:
            self.tray.setToolTip(f"Kiltshop: {text}")
        window = self.window()
        count = len(self.session.orders.items)
        if window is not None and window is not self:
            title = window.windowTitle().split(" [", 1)[0]
            window.setWindowTitle(f"{title} [{count}]" if count else title)

    # -- selection and actions ------------------------------------------------------------------

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(rows[0].data(ID_ROLE)) if rows else None

    def allowed(self, widget: Any) -> bool:
        return self.presenter.can_collect()

    def _selection_changed(self) -> None:
        if not self._removing:
            self.presenter.select(self.selected_id())

    def _presenter_changed(self) -> None:
        order = self.presenter.current_order()
        if order is None:
            if self.table.selectionModel().hasSelection() and not self._removing:
                self.table.clearSelection()
            self.details.setHtml(f"<p style='color:#5f5f5f'>{NO_SELECTION_HINT}</p>")
        else:
            self.details.setHtml(pickup_html(order, self.presenter.contact_of(order)))
            if self.selected_id() != order["id"]:
                self._select_row(order["id"])
        self.undo_bar.show_move(self.presenter.undo_text, self.presenter.can_undo)
        self.update_enabled()

    def _select_row(self, order_id: int) -> None:
        row = self.model.row_of(order_id)
        if row is not None:
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid():
                self.table.selectRow(index.row())

    def _contact_rows_changed(self, order_ids: list[int]) -> None:
        for order_id in order_ids:
            self.model.refresh_row(order_id)  # a new phone or address shows at once

    def collect_selected(self) -> None:
        """Mark the selected order collected: held a few seconds for Undo; the selection stays on it."""
        self.presenter.collect()

    def undo(self) -> None:
        self.presenter.undo()

    def service_answering(self) -> None:
        self.presenter.moves.resend_unsent()

    def set_online(self, online: bool) -> None:
        self.presenter.set_online(online)
        super().set_online(online)
