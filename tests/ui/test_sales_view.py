"""Sales: the contacts list and form, driven with keys and clicks as the sales desk would, against a real
service, with a store window and another program changing the same contacts at the same time."""

from __future__ import annotations

from typing import Any

from app.client.shop_client import ShopClient
from tests.ui.conftest import UiLoop
from tests.ui.sales_fixtures import (
    HAMISH,
    MORAG,
    answer,
    back_to,
    click,
    click_row_with,
    focused,
    pick_customer,
    press,
    retype,
    sales_view,
    shoot,
    store_view,
    type_text,
)
from ui.main_window import BrokerLogin
from ui.views.sales_view import SalesView

# Re-exported for the older tests that import them from here.
__all__ = ["HAMISH", "MORAG", "retype", "sales_view", "store_view"]


def row_texts(view: SalesView, contact_id: int) -> list[str]:
    row = view.model.row_of(contact_id)
    assert row is not None
    return [view.model.index(row, column).data() for column in range(view.model.columnCount())]


def test_sales_edit_shows_in_an_open_store_window(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    store = store_view(ui.open_window(qtbot, login, "store"))
    assert store.details.phone.text() == "01838 400200"
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.editing_id == morag["id"]  # the first row is selected on opening
    assert not view.save_button.isEnabled()  # nothing to save yet

    retype(view.form.phone, "01838 400999")
    retype(view.form.name, "Morag MacLeod-Grant")
    assert view.unsaved_changes() == "Your changes to Morag MacLeod are not saved."
    assert view.save_button.isEnabled()
    press("Ctrl+S")

    ui.wait_until(lambda: store.details.phone.text() == "01838 400999", what="store form shows the new phone")
    ui.wait_until(lambda: store.picker.currentText().startswith("Morag MacLeod-Grant ("),
                  what="store picker shows the new name")
    assert store.details.name.text() == "Morag MacLeod-Grant" and not store.details.is_dirty()
    ui.wait_until(lambda: view.form_message.text().startswith("Saved at"), what="saved message")
    assert row_texts(view, morag["id"])[:3] == ["Morag MacLeod-Grant", MORAG["email"], "01838 400999"]
    assert view.unsaved_changes() is None
    saved = ui.run(other.call("contacts.get", {"id": morag["id"]}))
    assert saved["version"] == 2 and saved["phone"] == "01838 400999"


def test_store_edit_updates_the_sales_row_in_place_and_it_glows(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    row_before = view.model.row_of(hamish["id"])
    assert not view.model.is_glowing(hamish["id"])

    store = store_view(ui.open_window(qtbot, login, "store"))
    pick_customer(store, "Hamish")
    ui.wait_until(lambda: store.customer_id == hamish["id"], what="the store acts as Hamish")
    retype(store.details.address, "Glen Orchy Farm, Bridge of Orchy")
    press("Ctrl+Shift+S")

    ui.wait_until(lambda: row_texts(view, hamish["id"])[3] == "Glen Orchy Farm, Bridge of Orchy",
                  what="sales row shows the customer's new address")
    assert view.model.rowCount() == 2 and view.model.row_of(hamish["id"]) == row_before
    assert view.model.is_glowing(hamish["id"]) and not view.model.is_glowing(morag["id"])
    ui.wait_until(lambda: store.details_message.text() == "Your details are saved.", what="store says saved")


def test_only_a_field_both_changed_is_asked_about_and_the_layout_stays_put(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    store = store_view(ui.open_window(qtbot, login, "store"))
    window = ui.open_window(qtbot, login, "sales")
    view = sales_view(window)
    retype(view.form.email, "morag@glenorchy.scot")
    size, form_top, address = window.size(), view.form.geometry().top(), view.form.address.height()

    # Meanwhile another program changes the same contact: the email too, and the notes.
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 1, "email": "m.macleod@example.com",
                                          "notes": "Phoned about the wedding."}))
    ui.wait_until(lambda: view.changed_bar.isVisible(), what="the 'changed elsewhere' bar")
    assert view.changed_label.text().startswith("Changed meanwhile by <b>someone on this computer</b> (")
    assert "guest" not in view.changed_label.text() and "guest" not in view.form_subtitle.text()
    assert view.form.email.text() == "morag@glenorchy.scot"  # the edit is kept
    assert (window.size(), view.form.geometry().top(), view.form.address.height()) == (size, form_top, address)
    shoot(window, "sales-changed-bar.png")

    press("Ctrl+S")
    ui.wait_until(lambda: view.conflict_dialog is not None and view.conflict_dialog.isVisible(),
                  what="the conflict dialog")
    dialog = view.conflict_dialog
    assert dialog is not None
    assert dialog.rows() == [("E-mail", "m.macleod@example.com", "morag@glenorchy.scot")]  # not Notes
    assert dialog.findChild(type(view.form_message), "mergedHint").text() == \
        "Their change to Notes is kept with yours."
    click(dialog.overwrite_button)

    ui.wait_until(lambda: store.details.email.text() == "morag@glenorchy.scot", what="store shows mine")
    ui.wait_until(lambda: view.conflict_dialog is None, what="dialog closed")
    saved = ui.run(other.call("contacts.get", {"id": morag["id"]}))
    assert (saved["version"], saved["email"], saved["notes"]) == (3, "morag@glenorchy.scot",
                                                                   "Phoned about the wedding.")
    assert view.editing_version == 3 and not view.form.is_dirty()
    assert view.form.notes.toPlainText() == "Phoned about the wedding."


def test_a_quiet_reload_the_bar_and_use_theirs(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = sales_view(ui.open_window(qtbot, login, "sales"))

    # No unsaved edits: a change made elsewhere simply reloads the form.
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 1, "phone": "0141 000 1111"}))
    ui.wait_until(lambda: view.form.phone.text() == "0141 000 1111", what="quiet reload")
    assert not view.changed_bar.isVisible()

    # Unsaved edits: the bar; Reload drops them.
    retype(view.form.phone, "0141 000 2222")
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 2, "phone": "0141 000 3333"}))
    ui.wait_until(lambda: view.changed_bar.isVisible(), what="the 'changed elsewhere' bar")
    assert view.form.phone.text() == "0141 000 2222"
    click(view.reload_button)
    assert view.form.phone.text() == "0141 000 3333"
    assert not view.changed_bar.isVisible() and not view.form.is_dirty()

    # A stale save: "Use theirs" keeps their phone, and nothing is sent.
    retype(view.form.phone, "0141 000 4444")
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 3, "phone": "0141 000 5555"}))
    ui.wait_until(lambda: view.changed_bar.isVisible(), what="the bar again")
    press("Ctrl+S", view.form.phone)
    ui.wait_until(lambda: view.conflict_dialog is not None and view.conflict_dialog.isVisible(),
                  what="the conflict dialog")
    assert view.conflict_dialog is not None
    assert view.conflict_dialog.rows() == [("Phone", "0141 000 5555", "0141 000 4444")]
    click(view.conflict_dialog.use_theirs_button)
    ui.wait_until(lambda: view.conflict_dialog is None, what="dialog closed")
    assert view.form.phone.text() == "0141 000 5555"
    assert not view.form.is_dirty() and view.editing_version == 4
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["version"] == 4  # nothing was sent


def test_inline_validation_blocks_the_save(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    seq_before = ui.run(other.call("contacts.list"))["seq"]
    assert view.form.error_text("email") == ""

    retype(view.form.email, "morag at glenorchy")
    assert "E-mail does not look like an e-mail address" in view.form.error_text("email")
    assert not view.save_button.isEnabled() and not view.save_action.isEnabled()
    retype(view.form.measure["waist_cm"], "five")
    assert "Waist must be a number of centimetres" in view.form.error_text("measurements")
    retype(view.form.name, "")
    assert "Name is required" in view.form.error_text("name")
    press("Ctrl+S")
    ui.pump(0.3)
    assert ui.run(other.call("contacts.list"))["seq"] == seq_before
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["version"] == 1

    retype(view.form.name, "Morag MacLeod")
    retype(view.form.measure["waist_cm"], "88")
    retype(view.form.email, "morag@glenorchy.scot")
    assert view.form.error_text("email") == "" and view.form.error_text("measurements") == ""
    assert view.save_button.isEnabled()


def test_new_contact_with_the_keyboard_and_the_search(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    ui.run(other.call("contacts.create", MORAG))
    window = ui.open_window(qtbot, login, "sales")
    view = sales_view(window)
    press("Ctrl+N", view.table)
    assert view.editing_id is None and focused() is view.form.name
    assert "New contact" in view.form_title.text() and not view.save_button.isEnabled()
    press("Tab")
    type_text("isla@example.co.uk")
    assert "Name is required" in view.form.error_text("name")
    press("Shift+Tab")
    type_text("Isla Cameron")
    assert view.unsaved_changes() == "The new contact you started is not saved."
    press("Ctrl+S")
    ui.wait_until(lambda: view.editing_id is not None, what="the new contact in the form")
    assert view.model.rowCount() == 2 and view.selected_id() == view.editing_id
    assert row_texts(view, view.editing_id)[:2] == ["Isla Cameron", "isla@example.co.uk"]
    assert "Isla Cameron" in view.form_title.text()

    press("Ctrl+F")
    type_text("isla")
    assert view.proxy.rowCount() == 1 and view.count_label.text() == "1 of 2 contacts"


def test_the_search_result_does_not_keep_another_contacts_saved_message(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    click_row_with(view.table, "Morag")
    retype(view.form.phone, "01838 400111")
    press("Ctrl+S")
    ui.wait_until(lambda: view.form_message.text().startswith("Saved at"), what="Morag saved")

    press("Ctrl+F")
    type_text("hamish")
    click_row_with(view.table, "Hamish")
    ui.wait_until(lambda: view.editing_id == hamish["id"], what="Hamish in the form")
    assert view.form_message.text() == ""
    press("Ctrl+A", view.search)
    press("Delete", view.search)
    click_row_with(view.table, "Morag")
    assert view.form_message.text() == ""  # not kept for later either


def test_orders_under_the_contact_update_live(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    click_row_with(view.table, "Morag")
    assert view.order_rows() == [] and view.no_orders.isVisible()

    order = ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [
        {"description": "Eight-yard kilt", "tartan": "MacLeod of Harris", "quantity": 1, "unit_price_pence": 48000}]}))
    ui.run(other.call("orders.place", {"contact_id": hamish["id"], "items": [
        {"description": "Sporran", "quantity": 1, "unit_price_pence": 9500}]}))
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="Morag's order listed")
    assert view.order_rows()[0][:3] == ("K-0001", "Pending", "£480.00")
    total = view.orders_table.item(0, 2)
    assert view.orders_table.visualItemRect(total).width() >= view.fontMetrics().horizontalAdvance("£480.00")
    ui.run(other.call("orders.start", {"id": order["id"], "version": order["version"]}))
    ui.wait_until(lambda: view.order_rows()[0][1] == "In progress", what="live status")
    assert len(view.order_rows()) == 1

    click_row_with(view.table, "Hamish")
    assert [r[:3] for r in view.order_rows()] == [("K-0002", "Pending", "£95.00")]


def test_offline_disables_saving(ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    retype(view.form.phone, "01838 400111")
    assert view.save_button.isEnabled() and view.save_action.isEnabled()

    view.set_online(False)  # what the window's connection indicator does
    assert not view.save_button.isEnabled() and not view.save_action.isEnabled()
    assert not view.keep_button.isEnabled()
    type_text("2", view.form.phone)  # typing offline must not re-enable it
    assert not view.save_button.isEnabled()
    press("Ctrl+S", view.form.phone)
    ui.pump(0.2)
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["version"] == 1
    view.set_online(True)
    assert view.save_button.isEnabled()


def test_unsaved_edits_are_not_dropped_without_asking(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    click_row_with(view.table, "Morag")
    retype(view.form.phone, "01838 400777")

    click_row_with(view.table, "Hamish")
    ui.wait_until(lambda: view.discard_box is not None and view.discard_box.isVisible(), what="the question")
    assert view.discard_box is not None
    assert view.discard_box.text() == "Your changes to Morag MacLeod are not saved. Drop them?"
    answer(view.discard_box, "Keep editing")
    ui.wait_until(lambda: view.discard_box is None, what="question closed")
    assert view.editing_id == morag["id"] and view.selected_id() == morag["id"]
    assert view.form.phone.text() == "01838 400777"

    back_to(view)
    press("Ctrl+N", view.form.phone)
    ui.wait_until(lambda: view.discard_box is not None and view.discard_box.isVisible(), what="asked again")
    press("Escape", view.discard_box)  # Escape keeps editing too
    ui.wait_until(lambda: view.discard_box is None, what="question closed")
    assert view.editing_id == morag["id"]

    click_row_with(view.table, "Hamish")
    ui.wait_until(lambda: view.discard_box is not None and view.discard_box.isVisible(), what="asked again")
    answer(view.discard_box, "Drop my changes")
    ui.wait_until(lambda: view.editing_id == hamish["id"], what="Hamish in the form")
    assert view.form.name.text() == "Hamish Grant" and not view.form.is_dirty()
    assert view.selected_id() == hamish["id"]
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["phone"] == MORAG["phone"]
