"""The workshop's order board: every open order as a card in Pending / In progress / Completed.

One MirrorTableModel over the session's orders feeds three filtering proxies, one per status, so an event
touches one row of one model. What is selected and what may be done live in WorkshopPresenter (no Qt); this
file is the widgets, their layout and their signals. Cards are painted by ui/partials/order_card.py.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.notices import Notice, NoticeFeed
from app.client.presenters.workshop import WorkshopPresenter
from app.client.role_session import RoleSession
from app.domain.order_states import OrderStatus
from ui.partials.mirror_table_model import ID_ROLE
from ui.partials.order_card import (  # noqa: F401  (the column numbers are the board's public names)
    COL_CUSTOMER,
    COL_ITEMS,
    COL_LOCK,
    COL_NUMBER,
    COL_PLACED,
    COL_TOTAL,
    OrderCardDelegate,
    StatusProxy,
    board_column,
    board_model,
)
from ui.partials.order_details_pane import OrderDetailsPane
from ui.partials.search_box import SearchBox, steady_label
from ui.partials.undo_bar import UndoBar
from ui.views.notice_settings_dialog import NoticeSettingsOpener
from ui.views.role_view import RoleView
from ui.views.text import STATUS_WORDS

BOARD_STATUSES = (OrderStatus.PENDING, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED)
# A column with keyboard focus shows it, before any card is current.
COLUMN_STYLE = "QListView { border: 1px solid #c8c8c8; } QListView:focus { border: 2px solid #2f6f9f; }"


class WorkshopView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        self.presenter = WorkshopPresenter(session)
        self.presenter.changed = self._presenter_changed
        self.presenter.moves.failed = self.error
        self.presenter.moves.no_answer = self.no_answer
        self.change_kind: dict[int, str] = {}  # marked order -> "new" or "changed"
        self.last_error = ""
        self._selecting = False
        self._start_seq = session.live.seq

        # A card leaving a column makes Qt select its neighbour: not his choice. Told before the model moves
        # the row (and after, in _order_upsert/_order_remove), the view ignores what Qt selects in between.
        session.orders.listen(MirrorListener(upsert=lambda *_a: self._hold_selection(),
                                             remove=lambda _id: self._hold_selection()))
        self.model = board_model(session, self)
        self.model.mark_changes = True
        # Registered after the model's own listener, so the proxies have moved the row when these run.
        session.orders.listen(MirrorListener(reset=self._orders_reset, upsert=self._order_upsert,
                                             remove=self._order_remove))
        session.contacts.listen(MirrorListener(upsert=self._contact_upsert))

        self.search = SearchBox("boardSearch", "Search: order number, customer, tartan, notes…", self._apply_search)
        self.find_action = self.search.find_action
        self.changed_count = steady_label("changedCount", "9999 new or changed")

        self.start_button, self.start_action = self._move_controls("Start work", "&Start work", "Ctrl+T", "start")
        self.complete_button, self.complete_action = self._move_controls(
            "Mark completed", "Mark &completed", "Ctrl+D", "complete")
        self.start_button.setObjectName("startButton")
        self.complete_button.setObjectName("completeButton")
        self.service_widgets = [self.start_button, self.complete_button, self.start_action, self.complete_action]
        self.undo_bar = UndoBar(self.undo)

        self.delegate = OrderCardDelegate(self)
        self.proxies: dict[str, StatusProxy] = {}
        self.lists: dict[str, QListView] = {}
        self.headers: dict[str, QLabel] = {}
        board = QWidget()
        board_layout = QHBoxLayout(board)
        board_layout.setContentsMargins(0, 0, 0, 0)
        board_layout.setSpacing(6)
        for status in BOARD_STATUSES:
            board_layout.addWidget(self._build_column(status), 1)

        self.details = OrderDetailsPane(self.presenter)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.changed_count)
        top.addWidget(self.start_button)
        top.addWidget(self.complete_button)
        self.notice_settings = NoticeSettingsOpener(self, session.client, "workshop")  # e-mail notices
        top.addWidget(self.notice_settings.button)
        self.splitter = QSplitter()
        self.splitter.addWidget(board)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([700, 300])  # scaled to the window: the board first, details beside it
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.undo_bar)  # below the board: showing it moves no card

        self.feed = NoticeFeed(session.client, "workshop", session.contact_name, self._notice, replay=True)
        self._update_count()
        self.details.show_current()
        self.update_enabled()

    def _move_controls(self, label: str, menu: str, keys: str, action: str) -> tuple[QPushButton, QAction]:
        button = QPushButton(label)
        menu_action = QAction(menu, self)
        menu_action.setShortcut(QKeySequence(keys))
        button.setToolTip(f"{label} ({keys}); a few seconds' Undo follows")
        button.clicked.connect(lambda: self.act(action))
        menu_action.triggered.connect(lambda: self.act(action))
        return button, menu_action

    def _build_column(self, status: OrderStatus) -> QWidget:
        key = status.value
        column, proxy, view, header = board_column(status, self, self.model, self.delegate, COLUMN_STYLE)
        view.selectionModel().selectionChanged.connect(lambda *_a, k=key: self._selection_changed(k))
        view.clicked.connect(self._clicked)
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
            signal.connect(lambda *_a, k=key: self._update_header(k))
        self.proxies[key], self.lists[key], self.headers[key] = proxy, view, header
        self._update_header(key)
        return column

    async def start(self) -> None:
        await self.feed.start()

    async def stop(self) -> None:
        await self.presenter.moves.flush()
        await self.feed.stop()

    def view_actions(self) -> list[QAction]:
        return [self.start_action, self.complete_action, self.undo_bar.action, self.find_action,
                self.notice_settings.action]

    # -- reading the board ----------------------------------------------------------------------

    @property
    def current_id(self) -> int | None:
        return self.presenter.current_id

    def matches(self, order: Entity) -> bool:
        return self.presenter.matches(order)

    def home_of(self, order: Entity | None) -> str | None:
        """The column an order shows in now, or None when it is not on the board or the search hides it."""
        if order is None or order["status"] not in self.proxies or not self.matches(order):
            return None
        return str(order["status"])

    def count(self, status: str) -> int:
        return self.proxies[status].rowCount()

    def proxy_index(self, order_id: int) -> QModelIndex | None:
        """Where an order's card is on screen (its column's proxy index), if it is shown."""
        row = self.model.row_of(order_id)
        home = self.home_of(self.session.orders.items.get(order_id))
        if row is None or home is None:
            return None
        index = self.proxies[home].mapFromSource(self.model.index(row, 0))
        return index if index.isValid() else None

    def is_marked(self, order_id: int) -> bool:
        return order_id in self.model.marked

    def current_order(self) -> Entity | None:
        return self.presenter.current_order()

    # -- selection ------------------------------------------------------------------------------

    def select_order(self, order_id: int) -> bool:
        """Select an order's card as a click would; False when it is not on the board."""
        index = self.proxy_index(order_id)
        if index is None:
            return False
        view = self.lists[str(self.session.orders.items[order_id]["status"])]
        view.setCurrentIndex(index)
        view.scrollTo(index)
        self._clicked(index)
        return True

    def _selection_changed(self, key: str) -> None:
        if self._selecting:
            return
        rows = self.lists[key].selectionModel().selectedIndexes()
        if rows:
            self._clear_selection(except_key=key)
            self.presenter.select(int(rows[0].data(ID_ROLE)))
            return
        order = self.current_order()
        if order is not None and self.home_of(order) in (key, None):  # he deselected it, or the search hid it
            self.presenter.select(None)

    def _hold_selection(self) -> None:
        self._selecting = True

    def _clicked(self, index: QModelIndex) -> None:
        order_id = index.data(ID_ROLE)
        if order_id is not None and int(order_id) == self.current_id:
            self._mark_seen(int(order_id))  # a second look at the selected card counts too

    def _clear_selection(self, except_key: str | None = None) -> None:
        """Deselect the other columns' cards without treating it as his choice."""
        selecting, self._selecting = self._selecting, True
        try:
            for key, view in self.lists.items():
                if key != except_key and view.selectionModel().hasSelection():
                    view.selectionModel().clearSelection()
        finally:
            self._selecting = selecting

    def _presenter_changed(self) -> None:
        order_id = self.current_id
        self.details.selection_changed()
        if order_id is not None:
            self._mark_seen(order_id)
        self._follow_current()
        self.details.show_current()
        self.undo_bar.show_move(self.presenter.undo_text, self.presenter.can_undo)
        self.update_enabled()

    def _follow_current(self) -> None:
        """Keep the selected order selected when it moves column; nothing else gets selected meanwhile."""
        if self.current_id is None:
            self._clear_selection()
            return
        index = self.proxy_index(self.current_id)
        if index is None:
            self._clear_selection()
            order = self.current_order()
            if order is not None and self.home_of(order) is None:  # the search hides it
                self.presenter.select(None)
            return  # else it is on its way to another column (or off the board): its listener comes next
        key = str(self.session.orders.items[self.current_id]["status"])
        view = self.lists[key]
        if view.selectionModel().isSelected(index) and not any(
                v.selectionModel().hasSelection() for k, v in self.lists.items() if k != key):
            return
        had_focus = any(other.hasFocus() for other in self.lists.values())
        selecting, self._selecting = self._selecting, True
        try:
            self._clear_selection(except_key=key)
            view.setCurrentIndex(index)
            view.scrollTo(index)
        finally:
            self._selecting = selecting
        if had_focus:
            view.setFocus()  # the keyboard follows the card to its new column

    def _mark_seen(self, order_id: int) -> None:
        self.model.mark_seen(order_id)
        self.change_kind.pop(order_id, None)
        self._update_count()

    # -- live updates ---------------------------------------------------------------------------

    def _orders_reset(self) -> None:
        self.change_kind = {i: k for i, k in self.change_kind.items() if i in self.model.marked}
        self._update_count()
        if self.current_id is not None and self.current_id not in self.session.orders.items:
            self.presenter.order_left(self.current_id)
        self._follow_current()
        self._refresh_current()

    def _order_upsert(self, order: Entity, previous: Entity | None, event: dict[str, Any] | None) -> None:
        self._selecting = False
        order_id = order["id"]
        if self.current_id != order_id:
            self._follow_current()  # undo whatever Qt selected when this card left its column
        if order_id in self.model.marked and event is not None:
            if event.get("event") == "order.placed" or previous is None:
                self.change_kind[order_id] = "new"
            else:
                self.change_kind.setdefault(order_id, "changed")
        self._update_count()
        if order_id == self.current_id:
            self._follow_current()
            self._refresh_current()
        elif self.current_id is None:
            self.details.show_current()  # the "N open orders" hint counts again

    def _order_remove(self, order_id: int) -> None:
        self._selecting = False
        self.change_kind.pop(order_id, None)
        self._update_count()
        if order_id == self.current_id:
            self.presenter.order_left(order_id)
        else:
            self._follow_current()  # undo whatever Qt selected in its place
            if self.current_id is None:
                self.details.show_current()

    def _contact_upsert(self, contact: Entity, _previous: Entity | None, _event: dict[str, Any] | None) -> None:
        order_ids = [o["id"] for o in self.session.orders.items.values() if o["contact_id"] == contact["id"]]
        for order_id in order_ids:
            self.model.refresh_row(order_id)  # new name on the card; the search may now match or not
        if self.current_id in order_ids:
            self._follow_current()
            self.details.show_current()

    def _notice(self, notice: Notice) -> None:
        """A new order that came while the app was closed: mark it, as if it had arrived live."""
        if notice.seq > self._start_seq or notice.order_id not in self.session.orders.items:
            return  # live ones are marked by the model already
        if notice.order_id != self.current_id:
            self.model.marked.add(notice.order_id)
            self.change_kind[notice.order_id] = "new"
            self.model.refresh_row(notice.order_id)
            self._update_count()

    def _refresh_current(self) -> None:
        self.details.show_current()
        self.details.reload_history()
        self.update_enabled()

    def _update_count(self) -> None:
        marked = len(self.model.marked)
        self.changed_count.setText(f"{marked} new or changed" if marked else "Nothing new")
        self.changed_count.setToolTip("Orders placed or changed since you last looked at them (shown in blue)")

    def _update_header(self, key: str) -> None:
        self.headers[key].setText(f"{STATUS_WORDS[key]} ({self.proxies[key].rowCount()})")

    def _apply_search(self) -> None:
        self.presenter.search(self.search.text())
        for proxy in self.proxies.values():
            proxy.refilter()
        self._follow_current()

    def set_search(self, text: str) -> None:
        """Filter the board now (the box waits for a pause in typing)."""
        self.search.setText(text)
        self.search.timer.stop()
        self._apply_search()

    def service_answering(self) -> None:
        self.presenter.moves.resend_unsent()

    def set_online(self, online: bool) -> None:
        was_online = self.online
        self.presenter.set_online(online)
        super().set_online(online)
        if online and not was_online and self.current_id is not None:
            self.details.reload_history()

    def synced(self) -> None:
        if self.current_id is not None:
            self.details.reload_history()

    # -- actions --------------------------------------------------------------------------------

    def allowed(self, widget: Any) -> bool:
        if widget in (self.start_button, self.start_action):
            return self.presenter.can("start")
        if widget in (self.complete_button, self.complete_action):
            return self.presenter.can("complete")
        return True

    def act(self, action: str) -> None:
        """Start or complete the selected order: held a few seconds for Undo; the selection stays on it."""
        self.presenter.act(action)

    def undo(self) -> None:
        self.presenter.undo()

    def error(self, text: str) -> None:
        self.last_error = text
        super().error(text)
