"""Workshop: MacGrudder's order board, live: Pending / In progress / Completed, marks on what changed
elsewhere, full details of the selected order, and the two moves he makes (start work, mark completed)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from app.client.shop_client import CallError, ShopClient
from tests.ui.conftest import UiLoop, press
from ui.main_window import BrokerLogin, RoleWindow
from ui.views.workshop_view import COL_CUSTOMER, COL_LOCK, COL_NUMBER, COL_TOTAL, WorkshopView

KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}
HOSE = {"description": "Kilt hose", "tartan": "", "quantity": 2, "unit_price_pence": 2200}


async def customer(client: ShopClient, name: str = "Morag MacLeod") -> dict[str, Any]:
    result: dict[str, Any] = await client.call("contacts.create", {
        "name": name, "address": "3 Loch View, Tyndrum, FK20 8RY", "phone": "01838 400 123",
        "email": "morag@example.co.uk", "measurements": {"waist_cm": 86, "hip_cm": 102.5, "length_cm": 61},
    })
    return result


async def order(client: ShopClient, contact: dict[str, Any], *actions: str, items: list[dict[str, Any]] | None = None,
                notes: str = "") -> dict[str, Any]:
    """An order placed by the store, then moved on by other programs (start, complete, collect, cancel)."""
    placed: dict[str, Any] = await client.call(
        "orders.place", {"contact_id": contact["id"], "items": items or [KILT], "notes": notes})
    for action in actions:
        placed = await client.call(f"orders.{action}", {"id": placed["id"], "version": placed["version"]})
    return placed


def open_board(ui: UiLoop, qtbot: Any, login: BrokerLogin, hold_s: float = 0.3) -> tuple[RoleWindow, WorkshopView]:
    """The board, with its Undo time cut short so a move is sent soon after the press."""
    window = ui.open_window(qtbot, login, "workshop")
    view = window.view
    assert isinstance(view, WorkshopView)
    view.presenter.moves.hold_s = hold_s
    return window, view


def numbers(view: WorkshopView, status: str) -> list[str]:
    """The order numbers on the cards of one column, top to bottom."""
    proxy = view.proxies[status]
    return [proxy.index(row, COL_NUMBER).data() for row in range(proxy.rowCount())]


def column_of(view: WorkshopView, number: str) -> str | None:
    return next((status for status in view.proxies if number in numbers(view, status)), None)


def card_text(view: WorkshopView, order_id: int, column: int) -> str | None:
    index = view.proxy_index(order_id)
    return None if index is None else index.siblingAtColumn(column).data()


def click_card(qtbot: Any, view: WorkshopView, order_id: int) -> None:
    """Click an order's card with the mouse, where it is drawn."""
    index = view.proxy_index(order_id)
    assert index is not None, f"order {order_id} is not on the board"
    status = view.session.orders.items[order_id]["status"]
    card_list = view.lists[status]
    card_list.scrollTo(index)
    rect = card_list.visualRect(index)
    assert rect.isValid() and not rect.isEmpty()
    qtbot.mouseClick(card_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def is_bold(view: WorkshopView, order_id: int) -> bool:
    index = view.proxy_index(order_id)
    assert index is not None
    font = index.data(Qt.ItemDataRole.FontRole)
    return bool(font is not None and font.bold())


def test_board_loads_open_orders_into_their_columns(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    pending = ui.run(order(other, morag))
    started = ui.run(order(other, morag, "start"))
    done = ui.run(order(other, morag, "start", "complete"))
    collected = ui.run(order(other, morag, "start", "complete", "collect"))
    cancelled = ui.run(order(other, morag, "cancel"))

    _window, view = open_board(ui, qtbot, login)

    assert numbers(view, "pending") == [pending["number"]]
    assert numbers(view, "in_progress") == [started["number"]]
    assert numbers(view, "completed") == [done["number"]]
    assert column_of(view, collected["number"]) is None
    assert column_of(view, cancelled["number"]) is None
    assert [view.headers[s].text() for s in ("pending", "in_progress", "completed")] == [
        "Pending (1)", "In progress (1)", "Completed (1)"]
    assert card_text(view, pending["id"], COL_CUSTOMER) == "Morag MacLeod"
    assert card_text(view, pending["id"], COL_TOTAL) == "£480.00"
    assert card_text(view, pending["id"], COL_LOCK) == ""
    assert card_text(view, started["id"], COL_LOCK) == "locked"
    assert card_text(view, done["id"], COL_LOCK) == "locked"
    assert view.changed_count.text() == "Nothing new"  # what was there when he opened it is not news
    assert "Select an order" in view.details.toPlainText()
    assert not view.start_button.isEnabled()
    assert not view.complete_button.isEnabled()


def test_a_new_order_from_the_store_appears_marked_until_he_looks_at_it(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    older = ui.run(order(other, morag))
    _window, view = open_board(ui, qtbot, login)
    assert not is_bold(view, older["id"])

    new = ui.run(order(other, morag, items=[KILT, HOSE], notes="Wedding on the 14th, needed by the 10th."))
    ui.wait_until(lambda: new["number"] in numbers(view, "pending"), what="new order on the board")
    assert numbers(view, "pending") == [new["number"], older["number"]]  # on top, not below fifteen others
    assert view.is_marked(new["id"])
    assert is_bold(view, new["id"])
    assert view.change_kind[new["id"]] == "new"
    assert view.changed_count.text() == "1 new or changed"
    assert view.headers["pending"].text() == "Pending (2)"

    click_card(qtbot, view, new["id"])
    assert view.current_id == new["id"]
    assert not view.is_marked(new["id"])
    assert not is_bold(view, new["id"])
    assert view.changed_count.text() == "Nothing new"
    text = view.details.toPlainText()
    assert f"Order {new['number']}" in text
    assert "3 Loch View, Tyndrum, FK20 8RY" in text
    assert "01838 400 123" in text and "morag@example.co.uk" in text
    assert "86 cm" in text and "102.5 cm" in text and "61 cm" in text
    assert "Eight-yard kilt" in text and "MacGregor" in text and "Kilt hose" in text
    assert "£524.00" in text  # the total
    assert "Wedding on the 14th" in text
    ui.wait_until(lambda: "placed the order" in view.details.toPlainText(), what="history in the details")


def test_an_amendment_from_the_store_updates_the_card_and_marks_it(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    placed = ui.run(order(other, morag))
    _window, view = open_board(ui, qtbot, login)
    click_card(qtbot, view, placed["id"])
    ui.wait_until(lambda: "placed the order" in view.details.toPlainText(), what="history loaded")
    assert card_text(view, placed["id"], COL_TOTAL) == "£480.00"

    ui.run(other.call("orders.amend", {"id": placed["id"], "version": placed["version"],
                                       "items": [{**KILT, "quantity": 2}], "notes": "Pleats to the stripe."}))
    ui.wait_until(lambda: card_text(view, placed["id"], COL_TOTAL) == "£960.00", what="new total on the card")
    assert view.is_marked(placed["id"])
    assert is_bold(view, placed["id"])
    assert view.change_kind[placed["id"]] == "changed"
    assert view.changed_count.text() == "1 new or changed"
    # He was looking at it: the details follow the change, history included.
    ui.wait_until(lambda: "changed the order" in view.details.toPlainText(), what="amendment in the history")
    text = view.details.toPlainText()
    assert "£960.00" in text and "Pleats to the stripe." in text
    click_card(qtbot, view, placed["id"])  # looking again clears the mark
    assert not view.is_marked(placed["id"])
    assert view.changed_count.text() == "Nothing new"


def test_start_work_then_mark_completed_moves_the_card_and_locks_the_order(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    placed = ui.run(order(other, morag))
    window, view = open_board(ui, qtbot, login)
    moves = [view.start_action, view.complete_action, view.undo_bar.action, view.find_action]
    assert view.view_actions() == [*moves, view.notice_settings.action]  # and the e-mail notice settings
    assert set(window.actions_menu.actions()) == {*moves, view.notice_settings.action}
    assert view.start_action.shortcut().toString() == "Ctrl+T"
    assert view.complete_action.shortcut().toString() == "Ctrl+D"

    resets: list[str] = []
    view.model.modelReset.connect(lambda: resets.append("model reset"))
    for proxy in view.proxies.values():
        proxy.modelReset.connect(lambda: resets.append("column reset"))
        proxy.layoutChanged.connect(lambda: resets.append("column relayout"))

    click_card(qtbot, view, placed["id"])
    assert view.start_button.isEnabled()
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    ui.wait_until(lambda: column_of(view, placed["number"]) == "in_progress", what="card in In progress")
    assert numbers(view, "pending") == []
    assert card_text(view, placed["id"], COL_LOCK) == "locked"
    assert "Locked" in view.details.toPlainText()
    assert view.current_id == placed["id"]  # the selection followed the card
    assert view.lists["in_progress"].selectionModel().isSelected(view.proxy_index(placed["id"]))
    assert not view.is_marked(placed["id"])  # his own change is not news to him

    # The service itself has it as started: the customer can no longer change it.
    version = view.session.orders.items[placed["id"]]["version"]
    with pytest.raises(CallError) as refused:
        ui.run(other.call("orders.amend", {"id": placed["id"], "version": version, "notes": "Shorter, please"}))
    assert refused.value.code == "locked"

    assert view.complete_button.isEnabled()
    assert not view.start_button.isEnabled()
    ui.wait_until(lambda: view.complete_button.isEnabled(), what="complete enabled once the start is confirmed")
    qtbot.mouseClick(view.complete_button, Qt.MouseButton.LeftButton)
    ui.wait_until(lambda: column_of(view, placed["number"]) == "completed", what="card in Completed")
    assert numbers(view, "in_progress") == []
    assert not view.complete_button.isEnabled()
    ui.wait_until(lambda: "marked it completed" in view.details.toPlainText(), what="completion in the history")
    assert view.last_error == ""
    assert view.changed_count.text() == "Nothing new"
    assert resets == []  # the card moved through the columns' filters, row by row


def test_buttons_follow_the_selection_and_the_connection(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    pending = ui.run(order(other, morag))
    started = ui.run(order(other, morag, "start"))
    done = ui.run(order(other, morag, "start", "complete"))
    window, view = open_board(ui, qtbot, login)

    click_card(qtbot, view, started["id"])
    assert not view.start_button.isEnabled() and not view.start_action.isEnabled()
    assert view.complete_button.isEnabled() and view.complete_action.isEnabled()

    click_card(qtbot, view, pending["id"])
    assert view.lists["in_progress"].selectionModel().selectedIndexes() == []  # one selection on the board
    assert view.start_button.isEnabled() and view.start_action.isEnabled()
    assert not view.complete_button.isEnabled() and not view.complete_action.isEnabled()

    click_card(qtbot, view, done["id"])
    assert not view.start_button.isEnabled()
    assert not view.complete_button.isEnabled()

    click_card(qtbot, view, pending["id"])
    view.set_online(False)
    assert not view.start_button.isEnabled() and not view.start_action.isEnabled()
    assert not view.complete_button.isEnabled()
    view.set_online(True)
    assert view.start_button.isEnabled()

    # The keyboard: Ctrl+T starts the selected order, Ctrl+D marks it completed.
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5000)
    qtbot.keyClick(view.lists["pending"], Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    ui.wait_until(lambda: column_of(view, pending["number"]) == "in_progress", what="started with Ctrl+T")
    ui.wait_until(lambda: view.complete_action.isEnabled(), what="Ctrl+D usable once the start is confirmed")
    qtbot.keyClick(view.lists["in_progress"], Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    ui.wait_until(lambda: column_of(view, pending["number"]) == "completed", what="completed with Ctrl+D")


def test_a_stale_start_is_refused_in_plain_words(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    placed = ui.run(order(other, morag))
    _window, view = open_board(ui, qtbot, login, hold_s=2.0)
    click_card(qtbot, view, placed["id"])
    assert view.start_button.isEnabled()
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)  # held for Undo: not sent yet

    ui.run(other.call("orders.start", {"id": placed["id"], "version": placed["version"]}))  # someone else was first
    ui.wait_until(lambda: column_of(view, placed["number"]) == "in_progress", what="started elsewhere")
    assert not view.start_button.isEnabled()
    expected = f"Order {placed['number']} is already being made, so it cannot be started."
    ui.wait_until(lambda: view.last_error != "", what="refusal shown")
    assert view.last_error == expected
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.objectName() == "errorBox"]
    assert any(box.text() == expected and box.isVisible() for box in boxes)
    assert column_of(view, placed["number"]) == "in_progress"
    for box in boxes:
        box.close()


def test_cancelled_and_collected_orders_leave_the_board_live(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    pending = ui.run(order(other, morag))
    done = ui.run(order(other, morag, "start", "complete"))
    _window, view = open_board(ui, qtbot, login)
    click_card(qtbot, view, pending["id"])

    ui.run(other.call("orders.cancel", {"id": pending["id"], "version": pending["version"]}))
    ui.wait_until(lambda: numbers(view, "pending") == [], what="cancelled order gone")
    assert view.current_id is None
    assert f"{pending['number']} was collected or cancelled" in view.details.toPlainText()
    assert not view.start_button.isEnabled()

    ui.run(other.call("orders.collect", {"id": done["id"], "version": done["version"]}))
    ui.wait_until(lambda: numbers(view, "completed") == [], what="collected order gone")
    assert view.headers["completed"].text() == "Completed (0)"
    assert view.changed_count.text() == "Nothing new"


def test_search_filters_all_three_columns(ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient) -> None:
    morag = ui.run(customer(other))
    hamish = ui.run(customer(other, "Hamish Grant"))
    a = ui.run(order(other, morag))  # MacGregor
    b = ui.run(order(other, hamish, "start", items=[{**KILT, "tartan": "Black Watch"}], notes="For the Games"))
    c = ui.run(order(other, hamish, "start", "complete", items=[HOSE]))
    _window, view = open_board(ui, qtbot, login)

    def shown() -> set[str]:
        return {n for status in view.proxies for n in numbers(view, status)}

    qtbot.keyClicks(view.search, "black watch")
    ui.wait_until(lambda: shown() == {b["number"]}, what="tartan search")
    for text, expected in (("hamish", {b["number"], c["number"]}), ("games", {b["number"]}),
                           (a["number"].lower(), {a["number"]}), ("", {a["number"], b["number"], c["number"]})):
        view.search.clear()
        qtbot.keyClicks(view.search, text)
        ui.wait_until(lambda expected=expected: shown() == expected, what=f"search {text!r}")

    # A customer renamed elsewhere: the cards show the new name and the search finds it.
    ui.run(other.call("contacts.update", {"id": hamish["id"], "version": hamish["version"], "name": "Hamish Munro"}))
    ui.wait_until(lambda: card_text(view, b["id"], COL_CUSTOMER) == "Hamish Munro", what="renamed on the card")
    view.set_search("munro")
    assert shown() == {b["number"], c["number"]}


def test_orders_placed_while_the_board_was_closed_are_marked_on_opening(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    seen = ui.run(order(other, morag))
    window, _view = open_board(ui, qtbot, login)  # declares his durable queue of new-order notices
    window.close()
    overnight = ui.run(order(other, morag, notes="Placed at midnight"))

    again, view = open_board(ui, qtbot, login)
    ui.wait_until(lambda: view.is_marked(overnight["id"]), what="overnight order marked")
    assert not view.is_marked(seen["id"])
    assert view.change_kind[overnight["id"]] == "new"
    assert view.changed_count.text() == "1 new or changed"
    ui.run(again.shut())  # before pytest-qt deletes the window


def fake_order(order_id: int, status: str, version: int = 1) -> dict[str, Any]:
    return {"id": order_id, "number": f"K-{order_id:05d}", "contact_id": 1 + order_id % 500, "status": status,
            "items": [KILT], "notes": "", "total_pence": 48000, "version": version,
            "placed_at": "2025-05-01T10:00:00.000Z", "updated_at": "2025-05-01T10:00:00.000Z", "updated_by": "x"}


def test_ten_thousand_orders_move_row_by_row(qtbot: Any) -> None:
    """No broker needed: a board over 10,000 orders, fed events the way the live mirror feeds them."""
    from app.client.role_session import RoleSession

    session = RoleSession(ShopClient("amqp://guest:guest@127.0.0.1:5672/", "nowhere"), "workshop")
    session.contacts.load([{"id": i, "name": f"Customer {i}", "version": 1} for i in range(1, 501)])
    statuses = ("pending", "in_progress", "completed")
    session.orders.load([fake_order(i, statuses[i % 3]) for i in range(1, 10_001)])
    view = WorkshopView(session)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    assert [view.count(s) for s in statuses] == [3333, 3334, 3333]
    assert all(view.lists[s].uniformItemSizes() for s in statuses)

    signals: list[str] = []
    view.model.modelReset.connect(lambda: signals.append("model reset"))
    for status, proxy in view.proxies.items():
        proxy.modelReset.connect(lambda s=status: signals.append(f"{s} reset"))
        proxy.layoutChanged.connect(lambda s=status: signals.append(f"{s} relayout"))
        proxy.rowsInserted.connect(lambda *_a, s=status: signals.append(f"{s} +1"))
        proxy.rowsRemoved.connect(lambda *_a, s=status: signals.append(f"{s} -1"))

    session.orders.apply(fake_order(3, "in_progress", 2), {"seq": 1, "event": "order.started"})
    assert signals == ["pending -1", "in_progress +1"]
    assert view.is_marked(3) and view.change_kind[3] == "changed"

    moved = range(6, 3000, 3)  # how long each takes is bench/board.py's business, not a test's
    for seq, order_id in enumerate(moved, start=2):
        session.orders.apply(fake_order(order_id, "in_progress", 2), {"seq": seq, "event": "order.started"})
    assert [view.count(s) for s in statuses] == [3333 - 1 - len(moved), 3334 + 1 + len(moved), 3333]
    assert not any("reset" in s or "relayout" in s for s in signals)
    assert view.changed_count.text() == f"{1 + len(moved)} new or changed"


# -- the faults people met (issue 12) ---------------------------------------------------------------


def test_pressing_start_work_twice_never_starts_another_customers_kilt(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    hamish = ui.run(customer(other, "Hamish Grant"))
    first = ui.run(order(other, morag))
    second = ui.run(order(other, hamish))
    window, view = open_board(ui, qtbot, login)
    click_card(qtbot, view, first["id"])
    pending = view.lists["pending"]

    press(qtbot, window, pending, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    undo_text = window.findChild(QLabel, "undoText").text()
    assert undo_text == f"Starting work on order {first['number']} for Morag MacLeod in a few seconds."
    press(qtbot, window, pending, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # a second press, at once
    ui.wait_until(lambda: column_of(view, first["number"]) == "in_progress", what="the first order started")
    ui.wait_until(lambda: view.complete_action.isEnabled(), what="Mark completed armed for the same order")
    press(qtbot, window, view.lists["in_progress"], Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # and again
    ui.pump(0.6)
    assert column_of(view, second["number"]) == "pending"  # Hamish's kilt is untouched
    assert view.current_id == first["id"]  # the selection stayed on the order he acted on
    assert view.lists["in_progress"].selectionModel().isSelected(view.proxy_index(first["id"]))
    assert not pending.selectionModel().hasSelection()
    assert not view.start_action.isEnabled()

    # Ctrl+D twice: one completion, of the same order
    press(qtbot, window, view.lists["in_progress"], Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    press(qtbot, window, view.lists["in_progress"], Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    ui.wait_until(lambda: column_of(view, first["number"]) == "completed", what="the first order completed")
    assert view.current_id == first["id"]
    assert (ui.run(other.call("orders.get", {"id": second["id"]})))["status"] == "pending"


def test_undo_takes_back_a_start_before_it_is_sent(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    placed = ui.run(order(other, morag))
    window, view = open_board(ui, qtbot, login, hold_s=1.0)
    click_card(qtbot, view, placed["id"])
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    undo_bar = window.findChild(QWidget, "undoBar")
    assert undo_bar.isVisible()
    assert column_of(view, placed["number"]) == "pending"  # held: nothing moved under his pointer
    press(qtbot, window, view.lists["pending"], Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert undo_bar.isHidden()
    ui.pump(1.5)  # past the Undo time
    assert (ui.run(other.call("orders.get", {"id": placed["id"]})))["status"] == "pending"
    assert view.current_id == placed["id"] and view.start_button.isEnabled()


def test_the_board_has_ctrl_f_a_visible_focus_and_a_steady_toolbar(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(customer(other))
    placed = ui.run(order(other, morag))
    window, view = open_board(ui, qtbot, login)
    assert "1 open order on the board." in view.details.toPlainText()
    ui.run(order(other, morag))
    ui.wait_until(lambda: "2 open orders on the board." in view.details.toPlainText(), what="the hint counts again")

    press(qtbot, window, view.lists["pending"], Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.search.hasFocus()
    qtbot.keyClicks(view.search, placed["number"])
    ui.wait_until(lambda: numbers(view, "pending") == [placed["number"]], what="search by keyboard")

    assert "QListView:focus" in view.lists["pending"].styleSheet()  # a column with focus shows it
    width = view.changed_count.width()
    x = view.start_button.x()
    click_card(qtbot, view, placed["id"])
    ui.run(other.call("orders.amend", {"id": placed["id"], "version": placed["version"], "notes": "x"}))
    ui.pump(0.3)
    assert view.changed_count.width() == width and view.start_button.x() == x  # nothing moved under the pointer
    ui.wait_until(lambda: "placed the order" in view.details.toPlainText(), what="history")
    assert "guest" not in view.details.toPlainText()  # people, not logins
