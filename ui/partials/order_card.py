"""The workshop board's pieces: a column's filtering proxy and the delegate that paints an order as a card."""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, QSize, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.client.role_session import RoleSession
from app.domain.money import money
from app.domain.order_states import OrderStatus
from ui.partials.filter_proxy import SearchProxy
from ui.partials.mirror_table_model import ENTITY_ROLE, SORT_ROLE, Column, MirrorTableModel
from ui.partials.order_html import LOCKED_STATUSES, day_text, items_summary

Index = QModelIndex | QPersistentModelIndex

# Model columns (the card shows them all; tests and the search read them).
COL_NUMBER, COL_CUSTOMER, COL_ITEMS, COL_TOTAL, COL_PLACED, COL_LOCK = range(6)

MARK_BLUE = QColor("#2f6f9f")
CARD_BORDER = QColor("#c8c8c8")
DIM_TEXT = QColor("#5f5f5f")
LOCK_BROWN = QColor("#7a4a00")



class Board(Protocol):
    """What the cards ask of the board they are on (ui/views/workshop_view.py): its model, its search, and the
    kind of mark a card carries. A protocol, so this file does not import the view that imports it."""

    model: MirrorTableModel
    change_kind: dict[int, str]

    def matches(self, order: dict[str, Any]) -> bool: ...

class StatusProxy(SearchProxy):
    """The orders of one status that match the board's search, newest first: a new order shows at the top
    of its column, not below fifteen others."""

    def __init__(self, status: OrderStatus, board: Board) -> None:
        super().__init__(board if isinstance(board, QObject) else None)  # the board owns it
        self.status = status.value
        self.board = board
        self.setSortRole(SORT_ROLE)  # column 0 sorts by order id: the order they came in
        self.sort(0, Qt.SortOrder.DescendingOrder)

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

    def __init__(self, board: Board) -> None:
        super().__init__(board if isinstance(board, QObject) else None)  # the board owns it
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
        # The name comes first in a narrow column: the date goes (never shortened, so one column keeps one
        # date format).
        placed = texts[COL_PLACED]
        if name_w + 8 + fm.horizontalAdvance(placed) > width:
            placed = ""
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


def board_column(status: OrderStatus, board: Board, model: MirrorTableModel, delegate: OrderCardDelegate,
                 style: str) -> tuple[QWidget, StatusProxy, QListView, QLabel]:
    """One column of the board: its header over a list of cards, fed by a proxy of the orders in that status."""
    key = status.value
    proxy = StatusProxy(status, board)
    proxy.setSourceModel(model)
    view = QListView()
    view.setObjectName(f"{key}List")
    view.setStyleSheet(style)
    view.setModel(proxy)
    view.setItemDelegate(delegate)
    view.setUniformItemSizes(True)  # one sizeHint for all: scrolling 10,000 cards stays smooth
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    header = QLabel()
    header.setObjectName(f"{key}Header")
    header.setStyleSheet("font-weight: bold; padding: 4px 2px;")
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(header)
    layout.addWidget(view, 1)
    return column, proxy, view, header


def board_model(session: RoleSession, parent: Any) -> MirrorTableModel:
    """The board's one model over the session's orders: the columns a card shows (COL_* above)."""
    return MirrorTableModel(session.orders, [
        Column("Order", lambda o: o["number"], lambda o: o["id"]),
        Column("Customer", lambda o: session.contact_name(o["contact_id"])),
        Column("Items", items_summary),
        Column("Total", lambda o: money(o["total_pence"]), lambda o: o["total_pence"]),
        Column("Placed", lambda o: day_text(o.get("placed_at")), lambda o: o.get("placed_at") or ""),
        Column("Lock", lambda o: "locked" if o["status"] in LOCKED_STATUSES else ""),
    ], parent)
