"""The workshop's order board: every open order as a card in Pending / In progress / Completed.

One MirrorTableModel over the session's orders feeds three filtering proxies, one per status, so an event
touches one row of one model and a started order moves from Pending to In progress through the proxies'
dynamic filtering, never a reset. Orders placed or amended elsewhere stay marked until MacGrudder selects
them; the side panel shows everything about the selected order, its history fetched from the shop.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QFontMetrics, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.client.live_mirror import Entity, MirrorListener
from app.client.notices import Notice, NoticeFeed
from app.client.role_session import RoleSession, friendly_error
from app.domain.order_states import OrderStatus
from ui.partials.filter_proxy import SearchProxy
from ui.partials.mirror_table_model import ENTITY_ROLE, ID_ROLE, Column, MirrorTableModel
from ui.partials.tasks import spawn
from ui.views.notice_settings_dialog import NoticeSettingsOpener
from ui.views.role_view import RoleView
from ui.views.text import STATUS_WORDS, local_time, money, order_items_html

Index = QModelIndex | QPersistentModelIndex

BOARD_STATUSES = (OrderStatus.PENDING, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED)
LOCKED_STATUSES = frozenset({OrderStatus.IN_PROGRESS.value, OrderStatus.COMPLETED.value})

# Model columns (the card shows them all; tests and the search read them).
COL_NUMBER, COL_CUSTOMER, COL_ITEMS, COL_TOTAL, COL_PLACED, COL_LOCK = range(6)

MARK_BLUE = QColor("#2f6f9f")
CARD_BORDER = QColor("#c8c8c8")
DIM_TEXT = QColor("#5f5f5f")
LOCK_BROWN = QColor("#7a4a00")

HISTORY_DELAY_MS = 120  # arrowing through cards fetches only the history of the one he stops on
SEARCH_DELAY_MS = 150  # typing filters 10,000 orders once, not once per key

ACTION_WORDS = {
    "placed": "placed the order",
    "amended": "changed the order",
    "started": "started work",
    "completed": "marked it completed",
    "collected": "marked it collected",
    "cancelled": "cancelled the order",
}


# -- words ------------------------------------------------------------------------------------------


def day_text(at: str | None) -> str:
    moment = local_time(at)
    return f"{moment.day} {moment:%b %Y}" if moment else ""


def short_day_text(at: str | None) -> str:
    moment = local_time(at)
    return f"{moment.day} {moment:%b}" if moment else ""


def when_text(at: str | None) -> str:
    moment = local_time(at)
    return f"{moment.day} {moment:%b %Y, %H:%M}" if moment else (at or "")


def item_text(item: dict[str, Any]) -> str:
    tartan = item.get("tartan") or ""
    return f"{item['quantity']} × {item['description']}" + (f" ({tartan})" if tartan else "")


def items_summary(order: Entity) -> str:
    return ", ".join(item_text(i) for i in order.get("items") or [])


def cm(value: Any) -> str:
    if value is None or value == "":
        return "not taken"
    number = float(value)
    return f"{number:g} cm"


def _change_text(field: str, change: Any) -> str:
    old, new = change if isinstance(change, list | tuple) and len(change) == 2 else (None, change)
    if field == "status":
        return f"{STATUS_WORDS.get(str(old), old)} → {STATUS_WORDS.get(str(new), new)}"
    if field == "items":
        before = "; ".join(item_text(i) for i in old or [])
        after = "; ".join(item_text(i) for i in new or [])
        return f"items were {before or 'none'}; now {after or 'none'}"
    if field == "notes":
        return f"notes were “{old or ''}”; now “{new or ''}”"
    return f"{field}: {old} → {new}"


def history_html(entries: list[dict[str, Any]]) -> str:
    rows = []
    for entry in reversed(entries):  # newest first: what changed last is what he wants to see
        action = str(entry.get("action", ""))
        changes = entry.get("changes") or {}
        detail = ""
        if action == "amended":
            detail = "<br>".join(html.escape(_change_text(f, c)) for f, c in changes.items())
        rows.append(
            f"<tr><td valign='top' style='color:#5f5f5f'>{html.escape(when_text(entry.get('at')))}</td>"
            f"<td valign='top'><b>{html.escape(str(entry.get('actor', '')))}</b> "
            f"{html.escape(ACTION_WORDS.get(action, action))}"
            + (f"<br><span style='color:#5f5f5f'>{detail}</span>" if detail else "")
            + "</td></tr>"
        )
    return "<table cellspacing='3'>" + "".join(rows) + "</table>" if rows else "<p>No history yet.</p>"


def details_html(order: Entity, contact: dict[str, Any] | None, history: str) -> str:
    status = str(order["status"])
    lock = (
        "<p style='color:#7a4a00'><b>Locked:</b> work has started, so the customer can no longer change "
        "or cancel this order.</p>" if status in LOCKED_STATUSES else
        "<p style='color:#5f5f5f'>Not started: the customer can still change or cancel it.</p>"
    )
    c = contact or {}
    name = c.get("name") or f"Customer {order['contact_id']}"
    lines = [f"<b>{html.escape(name)}</b>"]
    address = html.escape(c.get("address") or "").replace("\n", "<br>")
    lines.append(address or "<i>no address given</i>")
    if c.get("phone"):
        lines.append(f"Phone: {html.escape(c['phone'])}")
    if c.get("email"):
        email = html.escape(c["email"])
        lines.append(f"Email: <a href='mailto:{email}'>{email}</a>")
    measurements = c.get("measurements") or {}
    contact_notes = (
        f"<p><b>About the customer:</b> {html.escape(c['notes'])}</p>" if c.get("notes") else ""
    )
    return (
        f"<h3 style='margin-bottom:2px'>Order {html.escape(order['number'])} · "
        f"{html.escape(STATUS_WORDS.get(status, status))}</h3>"
        f"<p style='color:#5f5f5f'>Placed {html.escape(when_text(order.get('placed_at')))}</p>{lock}"
        f"<h4>Customer</h4><p>{'<br>'.join(lines)}</p>"
        "<h4>Measurements</h4><table cellspacing='4'>"
        f"<tr><td>Waist</td><td><b>{cm(measurements.get('waist_cm'))}</b></td></tr>"
        f"<tr><td>Hip</td><td><b>{cm(measurements.get('hip_cm'))}</b></td></tr>"
        f"<tr><td>Length</td><td><b>{cm(measurements.get('length_cm'))}</b></td></tr></table>"
        f"{contact_notes}<h4>Items</h4>{order_items_html(order)}<h4>History</h4>{history}"
    )


# -- the board's pieces -----------------------------------------------------------------------------


class StatusProxy(SearchProxy):
    """The orders of one status that match the board's search. Keeps the source (id) order: no sorting."""

    def __init__(self, status: OrderStatus, board: WorkshopView) -> None:
        super().__init__(board)
        self.status = status.value
        self.board = board

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, MirrorTableModel)
        order = model.entity_at(source_row)
        return order is not None and order["status"] == self.status and self.board.matches(order)

    def refilter(self) -> None:
        """Run the filter again over every row (after the search changed)."""
        if hasattr(self, "endFilterChange"):  # Qt 6.10+: invalidateFilter() is deprecated there
            self.beginFilterChange()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()


class OrderCardDelegate(QStyledItemDelegate):
    """Paints an order as a card: number, lock and total; customer and date; what to make."""

    PAD = 6

    def __init__(self, board: WorkshopView) -> None:
        super().__init__(board)
        self.board = board

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        line = QFontMetrics(option.font).lineSpacing()
        return QSize(180, 3 * line + 2 * 2 + 2 * self.PAD + 6)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        order = index.data(ENTITY_ROLE)
        if order is None:
            return
        model = index.model()
        texts = [model.index(index.row(), c, index.parent()).data() or "" for c in range(COL_LOCK + 1)]
        order_id = int(order["id"])
        marked = order_id in self.board.model.marked
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        if selected:
            fill = palette.color(palette.ColorRole.Highlight)
            ink = palette.color(palette.ColorRole.HighlightedText)
            dim = ink
        else:
            fill = background.color() if isinstance(background, QBrush) else palette.color(palette.ColorRole.Base)
            ink = palette.color(palette.ColorRole.Text)
            dim = DIM_TEXT

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QRectF(option.rect).adjusted(4.5, 2.5, -4.5, -2.5)
        painter.setPen(QPen(MARK_BLUE if marked else CARD_BORDER, 1.5 if marked else 1.0))
        painter.setBrush(fill)
        painter.drawRoundedRect(card, 5, 5)
        if marked:
            painter.fillRect(QRectF(card.left() + 1, card.top() + 3, 4, card.height() - 6), MARK_BLUE)

        base = QFont(option.font)
        bold = QFont(base)
        bold.setBold(True)
        small = QFont(base)
        small.setPointSizeF(max(6.0, base.pointSizeF() * 0.85))
        line = QFontMetrics(base).lineSpacing()
        inner = card.toRect().adjusted(12, self.PAD, -8, -self.PAD)
        left, width = inner.left(), inner.width()
        y = inner.top()

        # line 1: number, lock, new/changed; total on the right
        fm_bold = QFontMetrics(bold)
        total = texts[COL_TOTAL]
        total_w = fm_bold.horizontalAdvance(total)
        painter.setFont(bold)
        painter.setPen(ink)
        painter.drawText(QRect(inner.right() - total_w, y, total_w, line), Qt.AlignmentFlag.AlignVCenter, total)
        number_w = fm_bold.horizontalAdvance(texts[COL_NUMBER])
        painter.drawText(QRect(left, y, number_w, line), Qt.AlignmentFlag.AlignVCenter, texts[COL_NUMBER])
        x = left + number_w + 8
        if texts[COL_LOCK]:
            room = inner.right() - total_w - 6 - x
            x = self._draw_lock(painter, x, y, line, ink if selected else LOCK_BROWN, small, texts[COL_LOCK], room)
        if marked:
            badge = self.board.change_kind.get(order_id, "changed").upper()
            fm_small = QFontMetrics(small)
            badge_w = fm_small.horizontalAdvance(badge) + 8
            if x + badge_w < inner.right() - total_w - 4:
                box = QRectF(x, y + (line - fm_small.height()) / 2, badge_w, fm_small.height())
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor("white") if selected else MARK_BLUE)
                painter.drawRoundedRect(box, 3, 3)
                painter.setFont(small)
                painter.setPen(MARK_BLUE if selected else QColor("white"))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, badge)

        # line 2: customer; placed date on the right
        y += line + 2
        painter.setFont(base)
        fm = QFontMetrics(base)
        name_font = bold if marked else base
        name_w = QFontMetrics(name_font).horizontalAdvance(texts[COL_CUSTOMER])
        placed = texts[COL_PLACED]
        # The name comes first in a narrow column: the date loses its year, then goes.
        for placed in (texts[COL_PLACED], short_day_text(order.get("placed_at")), ""):
            if name_w + 8 + fm.horizontalAdvance(placed) <= width:
                break
        placed_w = fm.horizontalAdvance(placed)
        if placed:
            painter.setPen(dim)
            painter.drawText(QRect(inner.right() - placed_w, y, placed_w, line), Qt.AlignmentFlag.AlignVCenter,
                             placed)
        painter.setFont(name_font)
        painter.setPen(ink)
        name_room = max(0, width - placed_w - (8 if placed else 0))
        name = QFontMetrics(name_font).elidedText(texts[COL_CUSTOMER], Qt.TextElideMode.ElideRight, name_room)
        painter.drawText(QRect(left, y, name_room, line), Qt.AlignmentFlag.AlignVCenter, name)

        # line 3: what to make
        y += line + 2
        painter.setFont(base)
        painter.setPen(dim)
        items = fm.elidedText(texts[COL_ITEMS], Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRect(left, y, width, line), Qt.AlignmentFlag.AlignVCenter, items)
        painter.restore()

    @staticmethod
    def _draw_lock(painter: QPainter, x: int, y: int, line: int, colour: QColor, font: QFont, word: str,
                   room: int) -> int:
        """A small padlock (drawn, so it shows without an emoji font) and the word if there is room for it;
        returns the next x."""
        body_h = max(6, line // 3)
        body = QRectF(x, y + line / 2 - body_h / 2 + 2, 9, body_h)
        painter.setPen(QPen(colour, 1.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawArc(QRectF(body.left() + 1.5, body.top() - 5, 6, 9), 0, 180 * 16)
        painter.setBrush(colour)
        painter.drawRect(body)
        word_w = QFontMetrics(font).horizontalAdvance(word)
        if 12 + word_w > room:
            return x + 12 + 4
        painter.setFont(font)
        painter.setPen(colour)
        painter.drawText(QRect(x + 12, y, word_w + 2, line), Qt.AlignmentFlag.AlignVCenter, word)
        return x + 12 + word_w + 8


# -- the view ---------------------------------------------------------------------------------------


class WorkshopView(RoleView):
    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(session, parent)
        self.current_id: int | None = None
        self._current_number = ""
        self.change_kind: dict[int, str] = {}  # marked order -> "new" or "changed"
        self.last_error = ""
        self._needles: list[str] = []
        self._selecting = False
        self._history: tuple[int, str] | None = None  # (order id, its history as HTML)
        self._history_request = 0
        self._orders_of_contact: dict[int, set[int]] = {}  # for a renamed customer: which cards to redraw
        self._contact_of: dict[int, int] = {}
        self._start_seq = session.live.seq

        self.model = MirrorTableModel(session.orders, [
            Column("Order", lambda o: o["number"], lambda o: o["id"]),
            Column("Customer", lambda o: session.contact_name(o["contact_id"])),
            Column("Items", items_summary),
            Column("Total", lambda o: money(o["total_pence"]), lambda o: o["total_pence"]),
            Column("Placed", lambda o: day_text(o.get("placed_at")), lambda o: o.get("placed_at") or ""),
            Column("Lock", lambda o: "locked" if o["status"] in LOCKED_STATUSES else ""),
        ], self)
        self.model.mark_changes = True
        # Registered after the model's own listener, so the proxies have moved the row when these run.
        session.orders.listen(MirrorListener(reset=self._orders_reset, upsert=self._order_upsert,
                                             remove=self._order_remove))
        session.contacts.listen(MirrorListener(upsert=self._contact_upsert))
        self._index_contacts()

        self.search = QLineEdit()
        self.search.setObjectName("boardSearch")
        self.search.setPlaceholderText("Search: order number, customer, tartan, notes…")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.changed_count = QLabel()
        self.changed_count.setObjectName("changedCount")

        self.start_button = QPushButton("Start work")
        self.start_button.setObjectName("startButton")
        self.complete_button = QPushButton("Mark completed")
        self.complete_button.setObjectName("completeButton")
        self.start_action = QAction("&Start work", self)
        self.start_action.setShortcut(QKeySequence("Ctrl+T"))
        self.complete_action = QAction("Mark &completed", self)
        self.complete_action.setShortcut(QKeySequence("Ctrl+D"))
        for button, action in ((self.start_button, self.start_action), (self.complete_button, self.complete_action)):
            button.setToolTip(f"{action.text().replace('&', '')} ({action.shortcut().toString()})")
        self.start_button.clicked.connect(self.start_selected)
        self.start_action.triggered.connect(self.start_selected)
        self.complete_button.clicked.connect(self.complete_selected)
        self.complete_action.triggered.connect(self.complete_selected)
        self.service_widgets = [self.start_button, self.complete_button, self.start_action, self.complete_action]

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

        self.details = QTextBrowser()
        self.details.setObjectName("orderDetails")
        self.details.setOpenExternalLinks(True)
        self.details.setMinimumWidth(280)

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

        self._history_timer = QTimer(self)
        self._history_timer.setSingleShot(True)
        self._history_timer.setInterval(HISTORY_DELAY_MS)
        self._history_timer.timeout.connect(self._fetch_history)

        self.feed = NoticeFeed(session.client, "workshop", session.contact_name, self._notice)
        self._update_count()
        self._show_details()
        self.update_enabled()

    def _build_column(self, status: OrderStatus) -> QWidget:
        key = status.value
        proxy = StatusProxy(status, self)
        proxy.setSourceModel(self.model)
        view = QListView()
        view.setObjectName(f"{key}List")
        view.setModel(proxy)
        view.setItemDelegate(self.delegate)
        view.setUniformItemSizes(True)  # one sizeHint for all: scrolling 10,000 cards stays smooth
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.selectionModel().selectionChanged.connect(lambda *_a, k=key: self._selection_changed(k))
        view.clicked.connect(self._clicked)
        header = QLabel()
        header.setObjectName(f"{key}Header")
        header.setStyleSheet("font-weight: bold; padding: 4px 2px;")
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
            signal.connect(lambda *_a, k=key: self._update_header(k))
        self.proxies[key] = proxy
        self.lists[key] = view
        self.headers[key] = header
        self._update_header(key)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.setSpacing(2)
        column_layout.addWidget(header)
        column_layout.addWidget(view, 1)
        return column

    async def start(self) -> None:
        await self.feed.start()

    def view_actions(self) -> list[QAction]:
        return [self.start_action, self.complete_action, self.notice_settings.action]

    # -- reading the board ----------------------------------------------------------------------

    def matches(self, order: Entity) -> bool:
        if not self._needles:
            return True
        hay = " ".join([
            order["number"], self.session.contact_name(order["contact_id"]), order.get("notes") or "",
            *((i.get("tartan") or "") + " " + i.get("description", "") for i in order.get("items") or []),
        ]).lower()
        return all(needle in hay for needle in self._needles)

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
        order = self.session.orders.items.get(order_id)
        home = self.home_of(order)
        if row is None or home is None:
            return None
        index = self.proxies[home].mapFromSource(self.model.index(row, 0))
        return index if index.isValid() else None

    def is_marked(self, order_id: int) -> bool:
        return order_id in self.model.marked

    def current_order(self) -> Entity | None:
        return self.session.orders.items.get(self.current_id) if self.current_id is not None else None

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
            order_id = int(rows[0].data(ID_ROLE))
            self._clear_selection(except_key=key)
            self._set_current(order_id)
            return
        if self.current_id is None:
            return
        order = self.current_order()
        if order is None:  # collected or cancelled: it left the board
            self._set_current(None, gone=self._current_number)
        elif self.home_of(order) in (key, None):  # he deselected it, or the search hides it now
            self._set_current(None)
        # else it moved to another column; _follow_current selects it there once that column has it

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

    def _set_current(self, order_id: int | None, gone: str = "") -> None:
        changed = order_id != self.current_id
        self.current_id = order_id
        if order_id is not None:
            self._current_number = self.session.orders.items[order_id]["number"]
            self._mark_seen(order_id)
        if changed:
            self._history = None
        self._show_details(gone)
        if order_id is not None and changed:
            self._history_timer.start()
        self.update_enabled()

    def _follow_current(self) -> None:
        """Keep the selected order selected when it moves column; let go of it when it is hidden."""
        if self.current_id is None:
            return
        index = self.proxy_index(self.current_id)
        if index is None:
            self._clear_selection()
            self._set_current(None)
            return
        key = str(self.session.orders.items[self.current_id]["status"])
        view = self.lists[key]
        if view.selectionModel().isSelected(index):
            return
        had_focus = any(other.hasFocus() for other in self.lists.values())
        self._selecting = True
        try:
            self._clear_selection(except_key=key)
            view.setCurrentIndex(index)
            view.scrollTo(index)
        finally:
            self._selecting = False
        if had_focus:
            view.setFocus()  # the keyboard follows the card to its new column

    def _mark_seen(self, order_id: int) -> None:
        self.model.mark_seen(order_id)
        self.change_kind.pop(order_id, None)
        self._update_count()

    # -- live updates ---------------------------------------------------------------------------

    def _index_contacts(self) -> None:
        self._orders_of_contact = {}
        self._contact_of = {}
        for order in self.session.orders.items.values():
            self._add_to_contact(order)

    def _add_to_contact(self, order: Entity) -> None:
        self._contact_of[order["id"]] = order["contact_id"]
        self._orders_of_contact.setdefault(order["contact_id"], set()).add(order["id"])

    def _orders_reset(self) -> None:
        self._index_contacts()
        self.change_kind = {i: k for i, k in self.change_kind.items() if i in self.model.marked}
        self._update_count()
        if self.current_id is not None and self.current_id not in self.session.orders.items:
            self._set_current(None, gone=self._current_number)
        else:
            self._follow_current()
            self._refresh_current()

    def _order_upsert(self, order: Entity, previous: Entity | None, event: dict[str, Any] | None) -> None:
        order_id = order["id"]
        if previous is None:
            self._add_to_contact(order)
        if order_id in self.model.marked and event is not None:
            if event.get("event") == "order.placed" or previous is None:
                self.change_kind[order_id] = "new"
            else:
                self.change_kind.setdefault(order_id, "changed")
        self._update_count()
        if order_id == self.current_id:
            self._follow_current()
            self._refresh_current()

    def _order_remove(self, order_id: int) -> None:
        self.change_kind.pop(order_id, None)
        contact_id = self._contact_of.pop(order_id, None)
        if contact_id is not None:
            self._orders_of_contact.get(contact_id, set()).discard(order_id)
        self._update_count()
        if order_id == self.current_id:
            self._set_current(None, gone=self._current_number)

    def _contact_upsert(self, contact: Entity, _previous: Entity | None, _event: dict[str, Any] | None) -> None:
        order_ids = self._orders_of_contact.get(contact["id"], set())
        for order_id in order_ids:
            self.model.refresh_row(order_id)  # new name on the card; the search may now match or not
        if self.current_id in order_ids:
            self._follow_current()
            self._show_details()

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
        self._show_details()
        self._history_timer.start()
        self.update_enabled()

    def _update_count(self) -> None:
        marked = len(self.model.marked)
        self.changed_count.setText(f"{marked} new or changed" if marked else "Nothing new")
        self.changed_count.setToolTip("Orders placed or changed since you last looked at them (shown in blue)")

    def _update_header(self, key: str) -> None:
        self.headers[key].setText(f"{STATUS_WORDS[key]} ({self.proxies[key].rowCount()})")

    def _apply_search(self) -> None:
        self._needles = self.search.text().lower().split()
        for proxy in self.proxies.values():
            proxy.refilter()
        self._follow_current()

    def set_search(self, text: str) -> None:
        """Filter the board now (the box waits for a pause in typing)."""
        self.search.setText(text)
        self._search_timer.stop()
        self._apply_search()

    # -- details --------------------------------------------------------------------------------

    def _show_details(self, gone: str = "") -> None:
        order = self.current_order()
        if order is None:
            if gone:
                text = (f"<p>Order <b>{html.escape(gone)}</b> was collected or cancelled, so it has left the "
                        "board.</p>")
            else:
                total = len(self.session.orders.items)
                text = ("<h3>No order selected</h3><p>Select an order on the board to see the customer's "
                        "address and measurements, what to make, and everything that has happened to it.</p>"
                        f"<p style='color:#5f5f5f'>{total} open order{'s' if total != 1 else ''} on the "
                        "board.</p>")
            self.details.setHtml(text)
            return
        if self._history is not None and self._history[0] == order["id"]:
            history = self._history[1]
        else:
            history = "<p style='color:#5f5f5f'>Loading history…</p>"
        contact = self.session.contacts.items.get(order["contact_id"])
        scroll = self.details.verticalScrollBar().value()
        self.details.setHtml(details_html(order, contact, history))
        self.details.verticalScrollBar().setValue(scroll)

    def _fetch_history(self) -> None:
        if self.current_id is None:
            return
        self._history_request += 1
        spawn(self._load_history(self.current_id, self._history_request))

    async def _load_history(self, order_id: int, request: int) -> None:
        try:
            reply = await self.session.order_details(order_id)
            history = history_html(reply.get("history") or [])
        except Exception as exc:
            reason = html.escape(friendly_error(exc))
            history = f"<p style='color:#b3261e'>The history could not be loaded: {reason}</p>"
        if request != self._history_request or order_id != self.current_id:
            return  # he has moved on, or a newer fetch is on its way
        self._history = (order_id, history)
        self._show_details()

    def set_online(self, online: bool) -> None:
        was_online = self.online
        super().set_online(online)
        if online and not was_online and self.current_id is not None:
            self._history_timer.start()

    def synced(self) -> None:
        if self.current_id is not None:
            self._history_timer.start()

    # -- actions --------------------------------------------------------------------------------

    def allowed(self, widget: Any) -> bool:
        order = self.current_order()
        if order is None:
            return False
        if widget in (self.start_button, self.start_action):
            return bool(order["status"] == OrderStatus.PENDING)
        if widget in (self.complete_button, self.complete_action):
            return bool(order["status"] == OrderStatus.IN_PROGRESS)
        return True

    def start_selected(self) -> None:
        if self.current_id is not None and self.allowed(self.start_button):
            self.move_order(self.current_id, "start")

    def complete_selected(self) -> None:
        if self.current_id is not None and self.allowed(self.complete_button):
            self.move_order(self.current_id, "complete")

    def move_order(self, order_id: int, action: str) -> Any:
        """Ask the shop to start or complete an order; the shop decides, and a refusal shows in plain words."""
        return self.run(self._move(order_id, action))

    async def _move(self, order_id: int, action: str) -> None:
        await self.session.move_order(order_id, action)
        if order_id in self.session.orders.items:
            self._mark_seen(order_id)  # his own change, even if its event beat the reply here

    def error(self, text: str) -> None:
        self.last_error = text
        super().error(text)
