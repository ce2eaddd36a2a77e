"""Shipping/billing: completed orders waiting for collection, with where to go and what to bill.

A tray notice the instant an order is completed (or, with no tray, the same notice inside the window);
notices that came while the app was closed wait in a durable queue and show on the next start."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
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

from app.client.notices import Notice, NoticeFeed
from app.client.role_session import RoleSession
from app.domain.order_states import OrderStatus
from ui.application import icon
from ui.partials.filter_proxy import SearchProxy
from ui.partials.mirror_table_model import ID_ROLE, Column, MirrorTableModel
from ui.views.notice_settings_dialog import NoticeSettingsOpener
from ui.views.role_view import RoleView
from ui.views.text import local_time, money, order_items_html


def ready_since(order: dict[str, Any]) -> str:
    at = local_time(order["updated_at"])
    return f"{at.day} {at:%b %H:%M}" if at else order["updated_at"]


class ShippingView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        contact = session.contacts.items.get
        self.model = MirrorTableModel(session.orders, [
            Column("Order", lambda o: o["number"], lambda o: o["id"]),
            Column("Customer", lambda o: session.contact_name(o["contact_id"])),
            Column("Collect from", lambda o: (contact(o["contact_id"]) or {}).get("address", "")),
            Column("Phone", lambda o: (contact(o["contact_id"]) or {}).get("phone", "")),
            Column("To bill", lambda o: money(o["total_pence"]), lambda o: o["total_pence"]),
            Column("Ready since", ready_since, lambda o: o["updated_at"]),
        ], self)
        self.proxy = SearchProxy(self)
        self.proxy.setSourceModel(self.model)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search pickups…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setObjectName("pickupsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.totals = QLabel()
        self.totals.setObjectName("pickupTotals")
        self.collect_button = QPushButton("Mark collected")
        self.collect_button.setObjectName("collectButton")
        self.collect_button.clicked.connect(self.collect_selected)
        self.details = QTextBrowser()
        self.details.setObjectName("pickupDetails")
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
        notices_title = QLabel("<b>Notices</b>")
        notices_layout.addWidget(notices_title)
        notices_layout.addWidget(self.no_notices)
        notices_layout.addWidget(self.notices)

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
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.details)
        right.addWidget(notices_box)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
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
        self.model.rowsInserted.connect(lambda *_: self._update_totals())
        self.model.rowsRemoved.connect(lambda *_: self._update_totals())
        self.model.modelReset.connect(self._update_totals)
        self.model.dataChanged.connect(lambda *_: self._update_totals())
        self._update_totals()
        self.feed = NoticeFeed(session.client, "shipping", session.known_contact_name, self.show_notice)
        self.update_enabled()

    async def start(self) -> None:
        await self.feed.start()

    def view_actions(self) -> list[QAction]:
        return [self.collect_action, self.notice_settings.action]

    # -- notices --------------------------------------------------------------------------------

    def show_notice(self, notice: Notice) -> None:
        at = local_time(notice.at)
        self.notices.insertItem(0, f"{at:%H:%M}  {notice.text}" if at else notice.text)
        self.no_notices.hide()
        if self.tray is not None:
            self.tray.showMessage(notice.title, notice.text, QSystemTrayIcon.MessageIcon.Information, 10000)

    def _update_totals(self) -> None:
        orders = list(self.session.orders.items.values())
        due = sum(o["total_pence"] for o in orders)
        text = f"{len(orders)} ready · {money(due)} to bill" if orders else "Nothing waiting"
        self.totals.setText(text)
        if self.tray is not None:
            self.tray.setToolTip(f"Kiltshop: {text}")
        window = self.window()
        if window is not None and window is not self:
            title = window.windowTitle().split(" [", 1)[0]
            window.setWindowTitle(f"{title} [{len(orders)}]" if orders else title)

    # -- selection and actions ------------------------------------------------------------------

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(rows[0].data(ID_ROLE)) if rows else None

    def allowed(self, widget: Any) -> bool:
        order_id = self.selected_id()
        order = self.session.orders.items.get(order_id) if order_id is not None else None
        return order is not None and order["status"] == OrderStatus.COMPLETED

    def _selection_changed(self) -> None:
        order_id = self.selected_id()
        order = self.session.orders.items.get(order_id) if order_id is not None else None
        if order is None:
            self.details.setHtml("<p>Select an order to see what to collect and bill.</p>")
        else:
            c = self.session.contacts.items.get(order["contact_id"], {})
            self.details.setHtml(
                f"<h3>Order {order['number']}</h3>"
                f"<p><b>{c.get('name', '')}</b><br>{c.get('address', '')}<br>{c.get('phone', '')}"
                f"<br>{c.get('email', '')}</p>{order_items_html(order)}"
            )
        self.update_enabled()

    def collect_selected(self) -> None:
        order_id = self.selected_id()
        if order_id is not None:
            self.run(self.session.move_order(order_id, "collect"))
