"""Shipping: the pickup list gains a row and a notice the moment the workshop completes an order."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.client.shop_client import ShopClient
from tests.support import TcpProxy
from tests.ui.conftest import UiLoop
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
    ui.run(window.shut())


def test_notices_that_came_while_closed_show_on_next_start(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    window = ui.open_window(qtbot, login, "shipping")  # declares the durable notice queue
    ui.run(window.shut())
    window.close()
    order = ui.run(completed_order(other, "Hamish Grant"))
    ui.run(other.call("orders.complete", {"id": order["id"], "version": order["version"]}))

    again = ui.open_window(qtbot, login, "shipping")
    view = again.view
    assert isinstance(view, ShippingView)
    ui.wait_until(lambda: view.notices.count() == 1, what="notice kept while closed")
    assert "Hamish Grant" in view.notices.item(0).text()
    ui.run(again.shut())


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
    ui.run(window.shut())
    ui.run(proxy.close())
