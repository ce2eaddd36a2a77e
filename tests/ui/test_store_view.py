"""The web store stand-in: one customer's details and orders, placed, changed and cancelled through the real
service, while the workshop (another program) and the sales view act on the same orders."""

from __future__ import annotations

import asyncio
from typing import Any

from app.client.shop_client import ShopClient
from tests.ui.conftest import UiLoop
from tests.ui.test_sales_view import HAMISH, MORAG, retype, sales_view, store_view
from ui.views.store_view import StoreView


def fill_item(qtbot: Any, view: StoreView, index: int, description: str, tartan: str, quantity: int,
              pounds: float) -> None:
    row = view.item_rows[index]
    qtbot.keyClicks(row.description, description)
    qtbot.keyClicks(row.tartan, tartan)
    row.quantity.setValue(quantity)
    row.price.setValue(pounds)


def place_two_items(qtbot: Any, view: StoreView) -> None:
    """Type a two-item order into the editor and click Place."""
    assert view.order_id is None and len(view.item_rows) == 1
    assert not view.place_button.isEnabled()  # an empty first row cannot be placed
    fill_item(qtbot, view, 0, "Eight-yard kilt", "MacLeod of Harris", 1, 480)
    view.add_item_button.click()
    fill_item(qtbot, view, 1, "Kilt hose", "", 2, 22)
    assert view.total_label.text() == "<b>Total £524.00</b>"
    assert view.place_button.isEnabled()
    view.place_button.click()


def test_place_amend_start_and_cancel(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = store_view(ui.open_window(qtbot, login, "store"))
    sales = sales_view(ui.open_window(qtbot, login, "sales"))
    assert sales.select_contact(morag["id"])
    assert view.customer_id == morag["id"]
    assert view.order_rows() == []
    assert view.place_action.shortcut().toString() == "Ctrl+Return"

    # Place: it shows in the customer's list as Pending, and under the contact in the sales view.
    place_two_items(qtbot, view)
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the new order in the store's list")
    number, _placed, items, status, total = view.order_rows()[0]
    assert (number, items, status, total) == ("K-0001", "Eight-yard kilt, 2 × Kilt hose", "Pending", "£524.00")
    ui.wait_until(lambda: [r[:3] for r in sales.order_rows()] == [("K-0001", "Pending", "£524.00")],
                  what="the order under the contact in the sales view")
    order_id = view.order_id
    assert order_id is not None and view.selected_order_id() == order_id
    assert "Order K-0001 · Pending" in view.editor_title.text()
    assert view.save_order_button.isVisible() and view.cancel_order_button.isVisible()
    assert not view.place_button.isVisible()
    assert not view.save_order_button.isEnabled()  # nothing changed yet

    # Amend: three pairs of hose instead of two.
    view.item_rows[1].quantity.setValue(3)
    assert view.total_label.text() == "<b>Total £546.00</b>"
    assert view.save_order_button.isEnabled()
    view.save_order_button.click()
    ui.wait_until(lambda: view.order_rows()[0][4] == "£546.00", what="the amended total in the list")
    ui.wait_until(lambda: sales.order_rows()[0][2] == "£546.00", what="the amended total in the sales view")
    saved = ui.run(other.call("orders.get", {"id": order_id}))
    assert [i["quantity"] for i in saved["items"]] == [1, 3] and saved["total_pence"] == 54600

    # The workshop starts it: In progress, the row glows, the editor turns read-only with a sentence.
    ui.run(other.call("orders.start", {"id": order_id, "version": saved["version"]}))
    ui.wait_until(lambda: view.order_rows()[0][3] == "In progress", what="live status In progress")
    assert view.orders_model.is_glowing(order_id)
    assert view.locked_text() == "Order K-0001 is being made, so it can no longer be changed."
    assert view.item_rows[0].description.isReadOnly()
    assert view.item_rows[1].quantity.isReadOnly()
    assert view.notes.isReadOnly()
    assert not view.save_order_button.isVisible() and not view.cancel_order_button.isVisible()
    assert not view.add_item_button.isVisible()
    assert not view.save_order_action.isEnabled() and not view.cancel_order_action.isEnabled()

    # A second order, cancelled while pending (after saying yes in the confirmation).
    view.new_order_button.click()
    assert view.order_id is None and view.editor_editable()
    fill_item(qtbot, view, 0, "Sporran", "", 1, 95)
    view.place_action.trigger()
    ui.wait_until(lambda: len(view.order_rows()) == 2, what="the second order")
    assert view.order_rows()[0][:1] == ("K-0002",)  # newest first
    assert view.cancel_order_button.isEnabled()
    view.cancel_order_button.click()
    ui.wait_until(lambda: view.confirm_box is not None and view.confirm_box.isVisible(), what="confirmation")
    assert view.confirm_box is not None
    assert "Cancel order K-0002" in view.confirm_box.text()
    yes = next(b for b in view.confirm_box.buttons() if b.text() == "Cancel the order")
    yes.click()
    ui.wait_until(lambda: view.order_rows()[0][3] == "Cancelled", what="Cancelled in the list")
    assert view.locked_text() == "Order K-0002 was cancelled, so it can no longer be changed."
    assert ui.run(other.call("orders.get", {"id": view.order_id}))["status"] == "cancelled"
    ui.wait_until(lambda: sales.order_rows()[0][1] == "Cancelled", what="Cancelled in the sales view")


def test_declining_the_cancel_keeps_the_order(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    order = ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [
        {"description": "Fly plaid", "tartan": "MacLeod of Harris", "quantity": 1, "unit_price_pence": 14000}]}))
    view = store_view(ui.open_window(qtbot, login, "store"))
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the order listed")
    view.orders_table.selectRow(0)
    assert view.order_id == order["id"]
    view.cancel_order_button.click()
    ui.wait_until(lambda: view.confirm_box is not None and view.confirm_box.isVisible(), what="confirmation")
    assert view.confirm_box is not None
    keep = next(b for b in view.confirm_box.buttons() if b.text() == "Keep it")
    keep.click()
    ui.wait_until(lambda: view.confirm_box is None, what="confirmation closed")
    ui.pump(0.2)
    assert view.order_rows()[0][3] == "Pending"
    assert ui.run(other.call("orders.get", {"id": order["id"]}))["status"] == "pending"


def test_locked_reply_when_the_workshop_wins_the_race(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    order = ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [
        {"description": "Kilt pin", "tartan": "", "quantity": 1, "unit_price_pence": 2500}]}))
    view = store_view(ui.open_window(qtbot, login, "store"))
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the order listed")
    view.orders_table.selectRow(0)
    view.item_rows[0].quantity.setValue(2)
    assert view.save_order_button.isEnabled()

    async def race() -> Any:
        # The workshop starts it, and the customer's save goes out before the store has seen that.
        await other.call("orders.start", {"id": order["id"], "version": order["version"]})
        return await view.amend()

    assert ui.run(race()) is None  # refused
    ui.wait_until(lambda: view.order_rows()[0][3] == "In progress", what="status caught up")
    assert "K-0001" in view.locked_text() and "can no longer be changed" in view.locked_text()
    assert not view.editor_editable()
    assert not view.save_order_button.isVisible()
    assert ui.run(other.call("orders.get", {"id": order["id"]}))["items"][0]["quantity"] == 1


def test_details_conflict_and_the_live_picker(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = store_view(ui.open_window(qtbot, login, "store"))
    assert view.picker.count() == 1
    assert view.picker.currentText() == f"Morag MacLeod ({MORAG['email']})"

    # A new contact appears in the picker (sorted by name); a rename updates its entry.
    hamish = ui.run(other.call("contacts.create", HAMISH))
    ui.wait_until(lambda: view.picker.count() == 2, what="new contact in the picker")
    assert view.picker.itemText(0).startswith("Hamish Grant")
    assert view.customer_id == morag["id"]  # still the same customer
    ui.run(other.call("contacts.update", {"id": hamish["id"], "version": 1, "name": "Hamish Grant-Munro"}))
    ui.wait_until(lambda: view.picker.itemText(view.picker.findData(hamish["id"])).startswith("Hamish Grant-Munro"),
                  what="renamed in the picker")

    # The customer edits while someone else changes the same record: a plain message, then the latest.
    retype(qtbot, view.details.phone, "07700 900123")
    assert view.details_save.isEnabled()
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 1, "address": "The Old Manse, Killin"}))
    ui.pump(0.3)
    assert view.details.phone.text() == "07700 900123"  # edits are not thrown away by the event
    view.details_save.click()
    ui.wait_until(lambda: view.details_message.isVisible(), what="conflict message")
    assert "were not saved" in view.details_message.text()
    assert view.details.address.toPlainText() == "The Old Manse, Killin"
    assert view.details.phone.text() == MORAG["phone"]
    assert not view.details.is_dirty()

    # Same inline validation as in the sales form.
    retype(qtbot, view.details.email, "not-an-address")
    assert "E-mail does not look like an e-mail address" in view.details.error_text("email")
    assert not view.details_save.isEnabled()
    retype(qtbot, view.details.email, "morag@glenorchy.scot")
    view.details_save.click()
    ui.wait_until(lambda: view.details_message.text() == "Your details are saved.", what="details saved")
    assert view.details_message.isVisible()
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["email"] == "morag@glenorchy.scot"


def test_switching_customer_shows_only_their_orders(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    for contact, what in ((morag, "Kilt pin"), (hamish, "Sporran"), (hamish, "Kilt hose")):
        ui.run(other.call("orders.place", {"contact_id": contact["id"], "items": [
            {"description": what, "quantity": 1, "unit_price_pence": 1000}]}))
    view = store_view(ui.open_window(qtbot, login, "store"))
    view.picker.setCurrentIndex(view.picker.findData(morag["id"]))
    assert [r[2] for r in view.order_rows()] == ["Kilt pin"]
    view.picker.setCurrentIndex(view.picker.findData(hamish["id"]))
    assert [r[2] for r in view.order_rows()] == ["Kilt hose", "Sporran"]
    assert view.details.name.text() == "Hamish Grant"
    assert "Hamish Grant" in view.greeting.text()


def test_items_are_checked_before_placing(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    ui.run(other.call("contacts.create", MORAG))
    view = store_view(ui.open_window(qtbot, login, "store"))
    seq = ui.run(other.call("orders.list"))["seq"]
    fill_item(qtbot, view, 0, "Eight-yard kilt", "", 1, 480)
    view.add_item_button.click()
    view.item_rows[1].price.setValue(10)  # a second row with no description
    assert view.items_error.text() == "Item 2: description is required and cannot be empty."
    assert not view.place_button.isEnabled()
    view.place()
    ui.pump(0.2)
    assert ui.run(other.call("orders.list"))["seq"] == seq
    view.item_rows[1].remove.click()
    assert len(view.item_rows) == 1
    assert view.items_error.isHidden() and view.place_button.isEnabled()


def test_offline_disables_the_store_actions(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [
        {"description": "Kilt pin", "quantity": 1, "unit_price_pence": 2500}]}))
    view = store_view(ui.open_window(qtbot, login, "store"))
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the order listed")
    view.orders_table.selectRow(0)
    view.item_rows[0].quantity.setValue(2)
    retype(qtbot, view.details.phone, "07700 900555")
    assert view.save_order_button.isEnabled() and view.cancel_order_button.isEnabled()
    assert view.details_save.isEnabled()

    view.set_online(False)
    for widget in view.service_widgets:
        assert not widget.isEnabled(), widget
    view.item_rows[0].quantity.setValue(3)  # editing offline keeps them disabled
    assert not view.save_order_button.isEnabled()
    view.new_order_button.click()
    fill_item(qtbot, view, 0, "Sporran", "", 1, 95)
    assert not view.place_button.isEnabled() and not view.place_action.isEnabled()
    view.place()
    ui.run(asyncio.sleep(0.2))
    assert len(view.order_rows()) == 1

    view.set_online(True)
    assert view.place_button.isEnabled()
