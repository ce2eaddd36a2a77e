"""Shipping: the pickup list gains a row and a notice the moment the workshop completes an order."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from app.client.shop_client import ShopClient
from tests.support import TcpProxy
from tests.ui.conftest import UiLoop, press, short_undo
from ui.main_window import BrokerLogin
from ui.views.shipping_view import ShippingView


async def completed_order(client: ShopClient, name: str = "Morag MacLeod") -> dict[str, Any]:
    contact = await client.call("contacts.create", {"name": name, "address": "3 Loch View, Tyndrum"})
    order = await client.call("orders.place", {"contact_id": contact["id"], "items": [
        {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}]})
    order = await client.call("orders.start", {"id": order["id"], "version": order["version"]})
    return order


def test_completed_order_appears_with_a_notice_and_can_be_collected(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    order = ui.run(completed_order(other))
    window = ui.open_window(qtbot, login, "shipping")
    view = window.view
    assert isinstance(view, ShippingView)
    assert view.model.rowCount() == 0
    assert view.totals.text() == "Nothing waiting"

    ui.run(other.call("orders.complete", {"id": order["id"], "version": order["version"]}))
    ui.wait_until(lambda: view.model.rowCount() == 1, what="pickup row")
    ui.wait_until(lambda: view.notices.count() == 1, what="notice")
    assert "ready to collect" in view.notices.item(0).text()
    assert "Morag MacLeod" in view.notices.item(0).text()
    assert view.totals.text() == "1 ready · £480.00 to bill"
    index = view.proxy.index(0, 2)
    assert index.data() == "3 Loch View, Tyndrum"

    view.table.selectRow(0)
    assert view.collect_button.isEnabled()
    view.collect_button.click()
    ui.wait_until(lambda: view.model.rowCount() == 0, what="row removed after collection")
    assert view.totals.text() == "Nothing waiting"


def test_notices_that_came_while_closed_show_on_next_start(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    window = ui.open_window(qtbot, login, "shipping")  # declares the durable notice queue
    window.close()
    order = ui.run(completed_order(other, "Hamish Grant"))
    ui.run(other.call("orders.complete", {"id": order["id"], "version": order["version"]}))

    again = ui.open_window(qtbot, login, "shipping")
    view = again.view
    assert isinstance(view, ShippingView)
    ui.wait_until(lambda: view.notices.count() == 1, what="notice kept while closed")
    assert "Hamish Grant" in view.notices.item(0).text()


def test_offline_banner_and_resync_after_the_connection_comes_back(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    proxy = TcpProxy("127.0.0.1", urlsplit(login.url).port or 5672)
    ui.run(proxy.start())
    cut_login = BrokerLogin(proxy.url(login.url), login.namespace, login.address, login.user)
    ready = ui.run(completed_order(other, "Isla Munro"))
    ui.run(other.call("orders.complete", {"id": ready["id"], "version": ready["version"]}))
    window = ui.open_window(qtbot, cut_login, "shipping")
    view = window.view
    assert isinstance(view, ShippingView)
    ui.wait_until(lambda: view.model.rowCount() == 1, what="first pickup")
    view.table.selectRow(0)
    assert view.collect_button.isEnabled()
    assert window.banner.isHidden()

    ui.run(proxy.cut())
    ui.wait_until(lambda: window.banner.isVisible(), what="offline banner")
    assert "reconnecting" in window.banner.text().lower()
    assert not view.collect_button.isEnabled()
    assert "Reconnecting" in window.indicator.text()
    later = ui.run(completed_order(other, "Callum Fraser"))  # completed while this window is cut off
    ui.run(other.call("orders.complete", {"id": later["id"], "version": later["version"]}))

    ui.run(proxy.restore())
    ui.wait_until(lambda: window.banner.isHidden(), timeout=20, what="banner gone after reconnect")
    ui.wait_until(lambda: view.model.rowCount() == 2, timeout=20, what="resynced pickup list")
    names = {view.proxy.index(row, 1).data() for row in range(2)}
    assert names == {"Isla Munro", "Callum Fraser"}
    ui.wait_until(lambda: any("Callum Fraser" in view.notices.item(i).text() for i in range(view.notices.count())),
                  timeout=20, what="notice kept in the durable queue during the cut")
    ui.run(proxy.close())


# -- the faults people met (issue 12) ---------------------------------------------------------------


def click_row(qtbot: Any, view: ShippingView, row: int) -> None:
    rect = view.table.visualRect(view.proxy.index(row, 1))
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_pickup_list_follows_a_customers_new_phone_at_once(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    order = ui.run(completed_order(other))
    ui.run(other.call("orders.complete", {"id": order["id"], "version": order["version"]}))
    window = ui.open_window(qtbot, login, "shipping")
    view = window.view
    assert isinstance(view, ShippingView)
    ui.wait_until(lambda: view.model.rowCount() == 1, what="pickup row")
    click_row(qtbot, view, 0)
    repainted: list[int] = []  # the table redraws a row only when told it changed
    view.proxy.dataChanged.connect(lambda top, _bottom, *_: repainted.append(top.row()))
    contact_id = order["contact_id"]
    for phone in ("07700 900 001", "07700 900 002", "07700 900 003"):  # the customer changed it three times
        current = ui.run(other.call("contacts.get", {"id": contact_id}))
        ui.run(other.call("contacts.update", {"id": contact_id, "version": current["version"], "phone": phone}))
    ui.wait_until(lambda: view.proxy.index(0, 3).data() == "07700 900 003", what="the newest phone in the list")
    ui.wait_until(lambda: len(repainted) >= 3, what="the row redrawn for each change")
    assert "07700 900 003" in view.details.toPlainText()  # and in the details of the selected pickup


def test_mark_collected_twice_collects_one_order_and_can_be_undone(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    first = ui.run(completed_order(other, "Morag MacLeod"))
    second = ui.run(completed_order(other, "Hamish Grant"))
    for order in (first, second):
        ui.run(other.call("orders.complete", {"id": order["id"], "version": order["version"]}))
    window = ui.open_window(qtbot, login, "shipping")
    view = window.view
    assert isinstance(view, ShippingView)
    short_undo(window, 1.5)
    ui.wait_until(lambda: view.model.rowCount() == 2, what="two pickups")
    assert "Select an order" in view.details.toPlainText()  # a hint, not an empty white box
    click_row(qtbot, view, 0)
    assert view.collect_button.isEnabled()

    press(qtbot, window, view.table, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    press(qtbot, window, view.table, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # pressed twice
    undo_bar = window.findChild(QWidget, "undoBar")
    assert undo_bar is not None and undo_bar.isVisible()
    assert "Morag MacLeod" in window.findChild(QLabel, "undoText").text()
    ui.wait_until(lambda: view.model.rowCount() == 1, what="the first order collected")
    ui.pump(0.5)
    remaining = ui.run(other.call("orders.get", {"id": second["id"]}))
    assert (remaining.get("order") or remaining)["status"] == "completed"
    assert view.proxy.index(0, 1).data() == "Hamish Grant"  # the other customer's kilt is still waiting
    assert not view.collect_button.isEnabled()  # nothing armed moved under his finger

    click_row(qtbot, view, 0)
    qtbot.mouseClick(view.collect_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.findChild(QPushButton, "undoButton"), Qt.MouseButton.LeftButton)
    ui.pump(2.0)  # past the Undo time: nothing was sent
    assert view.model.rowCount() == 1
    kept = ui.run(other.call("orders.get", {"id": second["id"]}))
    assert (kept.get("order") or kept)["status"] == "completed"
    assert undo_bar.isHidden()


def test_two_windows_of_one_person_each_show_every_notice_and_keep_them_on_reload(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    first = ui.open_window(qtbot, login, "shipping")
    second = ui.open_window(qtbot, login, "shipping")  # the same login: one person, two windows
    orders = [ui.run(completed_order(other, f"Customer {n}")) for n in range(4)]
    for order in orders:
        ui.run(other.call("orders.complete", {"id": order["id"], "version": order["version"]}))
    views = [first.view, second.view]
    assert all(isinstance(v, ShippingView) for v in views)
    ui.wait_until(lambda: all(v.notices.count() == 4 for v in views), what="every notice in both windows")

    press(qtbot, first, first.view.table, Qt.Key.Key_F5)  # Shop › Reload rebuilds the view
    ui.wait_until(lambda: first.view is not views[0] and first.view is not None, what="rebuilt view")
    rebuilt = first.view
    assert isinstance(rebuilt, ShippingView)
    ui.wait_until(lambda: rebuilt.notices.count() == 4, what="notices kept across the rebuild")
    later = ui.run(completed_order(other, "Ailsa Ross"))
    ui.run(other.call("orders.complete", {"id": later["id"], "version": later["version"]}))
    ui.wait_until(lambda: rebuilt.notices.count() == 5 and views[1].notices.count() == 5, what="the next one, twice")
