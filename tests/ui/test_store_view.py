"""The web store stand-in, driven with keys and clicks as a customer would, against the real service while the
workshop and the sales desk (another program) act on the same orders and contacts."""

from __future__ import annotations

from typing import Any

from app.client.shop_client import ShopClient
from tests.ui.conftest import UiLoop
from tests.ui.sales_fixtures import (
    HAMISH,
    MORAG,
    answer,
    click,
    click_row,
    focused,
    items_of,
    pick_customer,
    press,
    retype,
    shoot,
    store_view,
    type_text,
)
from ui.views.store_view import StoreView

KILT_PIN = {"description": "Kilt pin", "tartan": "", "quantity": 1, "unit_price_pence": 2500}


def type_item(view: StoreView, description: str, tartan: str, quantity: str, price: str) -> None:
    """From the item cell: type the item, Tab through tartan, quantity and price."""
    assert focused() is view.editor.rows[-1].description, "typing does not go into the item"
    type_text(description)
    press("Tab")
    type_text(tartan)
    press("Tab")
    type_text(quantity)
    press("Tab")
    type_text(price)


def test_keyboard_only_order_placing(ui: UiLoop, qtbot: Any, login: Any, other: ShopClient) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    window = ui.open_window(qtbot, login, "store")
    view = store_view(window)
    press("Ctrl+F", window)
    assert focused() is view.picker  # somewhere else first, as a person would be

    # Ctrl+N: the first item cell has the focus, so what is typed goes into the item, not the Customer box.
    press("Ctrl+N")
    type_item(view, "Eight-yard kilt", "MacLeod of Harris", "1", "480")
    press("Tab")
    assert focused() is view.editor.rows[0].remove  # the row's remove button is in the tab order
    press("Tab")
    assert focused() is view.editor.add_button
    press("Space")  # Add item: the new row's item cell takes the focus
    type_item(view, "Kilt hose", "", "3", "22")
    press("Tab")
    press("Tab")  # past the second row's remove button, onto Add item; then a third row, removed again
    press("Space")
    assert len(view.editor.rows) == 3 and focused() is view.editor.rows[2].description
    for _ in range(4):
        press("Tab")
    assert focused() is view.editor.rows[2].remove
    press("Space")
    assert len(view.editor.rows) == 2
    assert view.editor.total_label.text() == "<b>Total £546.00</b>"
    assert view.picker.currentText().startswith("Morag MacLeod")
    assert view.unsaved_changes() == "You have not saved the new order you started."

    press("Ctrl+Return")
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the new order in the customer's list")
    [order] = ui.run(other.call("orders.list", {"contact_id": morag["id"]}))["items"]
    assert items_of(order) == [("Eight-yard kilt", "MacLeod of Harris", 1, 48000), ("Kilt hose", "", 3, 2200)]
    assert view.order_rows()[0][2:] == ("Eight-yard kilt, 3 × Kilt hose", "Pending", "£546.00")
    assert "Order K-0001 is placed" in view.editor_message.text()
    assert view.unsaved_changes() is None
    shoot(window, "store-placed.png")


def test_the_workshop_starting_the_order_keeps_the_typed_notes(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    order = ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [
        {"description": "Eight-yard casual kilt in MacLeod of Harris", "tartan": "MacLeod of Harris",
         "quantity": 1, "unit_price_pence": 48000}]}))
    window = ui.open_window(qtbot, login, "store")
    view = store_view(window)
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the order listed")
    click_row(view.orders_table, 0)
    assert view.order_id == order["id"] and view.save_order_button.isVisible()
    typed = "Please pleat to the stripe, and the wedding is on 3 May."
    click(view.editor.notes)
    type_text(typed)
    assert view.unsaved_changes() == "You have not saved your changes to order K-0001."

    ui.run(other.call("orders.start", {"id": order["id"], "version": order["version"]}))
    ui.wait_until(lambda: view.order_rows()[0][3] == "In progress", what="the order shown as started")
    assert view.editor.notes.toPlainText() == typed  # still there, to read and copy
    assert "Order K-0001 · In progress" in view.editor_title.text()
    assert view.editor_message.isVisible()
    assert view.editor_message.text().startswith(
        "The workshop started on order K-0001 while you were changing it, so your changes were not sent.")
    assert view.locked_text() == "Order K-0001 is being made, so it can no longer be changed."
    assert view.editor.notes.isReadOnly() and not view.save_order_button.isVisible()
    assert view.unsaved_changes() is None  # nothing more can be saved; the window may close
    shoot(window, "store-locked-typing.png")
    assert ui.run(other.call("orders.get", {"id": order["id"]}))["notes"] == ""
    # A long item name reads from its start, not clipped at the left.
    assert view.editor.rows[0].description.cursorPosition() == 0

    # Completed: the detail says what is true.
    started = ui.run(other.call("orders.get", {"id": order["id"]}))
    ui.run(other.call("orders.complete", {"id": order["id"], "version": started["version"]}))
    ui.wait_until(lambda: view.order_rows()[0][3] == "Completed", what="completed")
    click(view.new_order_button)
    click_row(view.orders_table, 0)
    assert view.locked_text() == "Order K-0001 is finished and waiting to be collected, so it can no longer be changed."
    assert "work has started" not in view.locked_text()


def test_the_workshop_winning_the_race_keeps_the_typing(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    order = ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [KILT_PIN]}))
    view = store_view(ui.open_window(qtbot, login, "store"))
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the order listed")
    click_row(view.orders_table, 0)
    retype(view.editor.rows[0].quantity.lineEdit(), "2")
    assert view.save_order_button.isEnabled()
    # The workshop starts it just before the customer's save, which goes out before the event arrives.
    ui.run(other.call("orders.start", {"id": order["id"], "version": order["version"]}))
    press("Ctrl+S")
    ui.wait_until(lambda: "not sent" in view.editor_message.text(), what="told it was not sent")
    assert view.editor.rows[0].quantity.value() == 2  # what they typed stays
    ui.wait_until(lambda: view.order_rows()[0][3] == "In progress", what="status caught up")
    assert "can no longer be changed" in view.locked_text()
    assert ui.run(other.call("orders.get", {"id": order["id"]}))["items"][0]["quantity"] == 1


def test_sales_changing_notes_does_not_refuse_the_customers_phone(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    window = ui.open_window(qtbot, login, "store")
    view = store_view(window)
    retype(view.details.phone, "07700 900123")
    assert view.unsaved_changes() == "You have not saved your changes to your details."
    # The sales desk writes a note the customer never sees, and the event reaches the store.
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 1, "notes": "Wedding on 3 May."}))
    ui.wait_until(lambda: view.session.contacts.items[morag["id"]]["version"] == 2, what="the sales change seen")
    assert view.details.phone.text() == "07700 900123"
    size, address = window.size(), view.details.address.height()
    click(view.details_save)
    ui.wait_until(lambda: view.details_message.text().startswith("Your details are saved."), what="saved")
    stored = ui.run(other.call("contacts.get", {"id": morag["id"]}))
    assert (stored["phone"], stored["notes"]) == ("07700 900123", "Wedding on 3 May.")
    assert window.size() == size and view.details.address.height() == address  # the note did not squash

    # Both change the phone: only that field is asked about, theirs next to mine.
    retype(view.details.phone, "07700 900999")
    retype(view.details.email, "morag@glenorchy.scot")
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 3, "phone": "0141 000 1111",
                                          "address": "The Old Manse, Killin"}))
    ui.pump(0.3)
    press("Ctrl+Shift+S", view.details.email)
    ui.wait_until(lambda: view.conflict_dialog is not None and view.conflict_dialog.isVisible(), what="the choice")
    dialog = view.conflict_dialog
    assert dialog is not None
    assert dialog.rows() == [("Phone", "0141 000 1111", "07700 900999")]
    assert "someone on this computer" in dialog.table.horizontalHeaderItem(1).text()
    assert "guest" not in dialog.table.horizontalHeaderItem(1).text()
    assert view.details.email.text() == "morag@glenorchy.scot"  # my other change is still in the form
    assert view.details.address.toPlainText() == "The Old Manse, Killin"  # and theirs came in
    assert window.size() == size
    shoot(dialog, "store-conflict.png")
    click(dialog.overwrite_button)
    ui.wait_until(lambda: view.details_message.text().startswith("Your details are saved."), what="saved again")
    stored = ui.run(other.call("contacts.get", {"id": morag["id"]}))
    assert (stored["phone"], stored["email"], stored["address"], stored["notes"]) == (
        "07700 900999", "morag@glenorchy.scot", "The Old Manse, Killin", "Wedding on 3 May.")


def test_switching_customer_with_unsaved_edits_asks(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    for contact, what in ((morag, "Kilt pin"), (hamish, "Sporran"), (hamish, "Kilt hose")):
        ui.run(other.call("orders.place", {"contact_id": contact["id"], "items": [
            {"description": what, "quantity": 1, "unit_price_pence": 1000}]}))
    view = store_view(ui.open_window(qtbot, login, "store"))
    pick_customer(view, "Morag")
    ui.wait_until(lambda: view.customer_id == morag["id"], what="Morag chosen")
    assert [r[2] for r in view.order_rows()] == ["Kilt pin"]
    retype(view.details.phone, "07700 900555")

    pick_customer(view, "Hamish")
    ui.wait_until(lambda: view.confirm_box is not None and view.confirm_box.isVisible(), what="the question")
    assert view.confirm_box is not None
    assert view.confirm_box.text() == "You have not saved your changes to your details. Drop them?"
    answer(view.confirm_box, "Keep editing")
    ui.wait_until(lambda: view.confirm_box is None, what="the question closed")
    assert view.customer_id == morag["id"] and view.details.phone.text() == "07700 900555"
    assert view.picker.currentText().startswith("Morag MacLeod")

    pick_customer(view, "Hamish")
    ui.wait_until(lambda: view.confirm_box is not None and view.confirm_box.isVisible(), what="asked again")
    answer(view.confirm_box, "Drop my changes")
    ui.wait_until(lambda: view.customer_id == hamish["id"], what="Hamish chosen")
    assert [r[2] for r in view.order_rows()] == ["Kilt hose", "Sporran"]
    assert view.details.name.text() == "Hamish Grant" and "Hamish Grant" in view.greeting.text()


def test_items_are_checked_and_amounts_do_not_wrap(ui: UiLoop, qtbot: Any, login: Any, other: ShopClient) -> None:
    ui.run(other.call("contacts.create", MORAG))
    window = ui.open_window(qtbot, login, "store")
    view = store_view(window)
    seq = ui.run(other.call("orders.list"))["seq"]
    press("Ctrl+N", window)
    type_item(view, "Eight-yard kilt", "", "12", "4,980")
    press("Ctrl+I")  # a second row with a price and no description
    press("Tab")
    press("Tab")
    press("Tab")
    type_text("10")
    assert view.editor.error_label.text() == "Item 2: description is required and cannot be empty."
    assert not view.place_button.isEnabled()
    press("Ctrl+Return")
    ui.pump(0.2)
    assert ui.run(other.call("orders.list"))["seq"] == seq
    amount = view.editor.rows[0].amount
    assert amount.text() == "£59,760.00"
    assert amount.fontMetrics().horizontalAdvance(amount.text()) <= amount.contentsRect().width()
    assert not amount.wordWrap()
    click(view.editor.rows[1].remove)
    assert len(view.editor.rows) == 1 and view.editor.error_label.isHidden() and view.place_button.isEnabled()


def test_declining_the_cancel_keeps_the_order_and_offline_disables(
    ui: UiLoop, qtbot: Any, login: Any, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    order = ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [KILT_PIN]}))
    view = store_view(ui.open_window(qtbot, login, "store"))
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="the order listed")
    click_row(view.orders_table, 0)
    click(view.cancel_order_button)
    ui.wait_until(lambda: view.confirm_box is not None and view.confirm_box.isVisible(), what="confirmation")
    assert view.confirm_box is not None and "Cancel order K-0001" in view.confirm_box.text()
    answer(view.confirm_box, "Keep it")
    ui.wait_until(lambda: view.confirm_box is None, what="confirmation closed")
    assert ui.run(other.call("orders.get", {"id": order["id"]}))["status"] == "pending"

    retype(view.editor.rows[0].quantity.lineEdit(), "2")
    view.set_online(False)  # the window's connection indicator says so (main_window)
    for widget in view.service_widgets:
        assert not widget.isEnabled(), widget
    retype(view.editor.rows[0].quantity.lineEdit(), "3")
    assert not view.save_order_button.isEnabled()
    press("Ctrl+S", view.editor.rows[0].quantity)
    ui.pump(0.2)
    view.set_online(True)
    assert view.save_order_button.isEnabled()
    click(view.cancel_order_button)
    ui.wait_until(lambda: view.confirm_box is not None and view.confirm_box.isVisible(), what="confirmation")
    answer(view.confirm_box, "Cancel the order")
    ui.wait_until(lambda: view.order_rows()[0][3] == "Cancelled", what="Cancelled in the list")
    assert view.locked_text() == "Order K-0001 was cancelled, so it can no longer be changed."
    assert ui.run(other.call("orders.get", {"id": order["id"]}))["items"][0]["quantity"] == 1
