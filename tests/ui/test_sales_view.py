"""Sales: the contacts list and form against a real service, with a store window and another program
changing the same contacts at the same time."""

from __future__ import annotations

from typing import Any

from app.client.shop_client import ShopClient
from tests.ui.conftest import UiLoop
from ui.main_window import BrokerLogin, RoleWindow
from ui.views.sales_view import SalesView
from ui.views.store_view import StoreView

MORAG = {"name": "Morag MacLeod", "email": "morag.macleod@example.co.uk", "phone": "01838 400200",
         "address": "3 Loch View\nTyndrum", "measurements": {"waist_cm": 86.0, "hip_cm": 98.0, "length_cm": 58.0}}
HAMISH = {"name": "Hamish Grant", "email": "hamish.grant@example.co.uk", "phone": "01838 400300",
          "address": "12 Station Road, Dalmally"}


def sales_view(window: RoleWindow) -> SalesView:
    assert isinstance(window.view, SalesView)
    return window.view


def store_view(window: RoleWindow) -> StoreView:
    assert isinstance(window.view, StoreView)
    return window.view


def row_texts(view: SalesView, contact_id: int) -> list[str]:
    row = view.model.row_of(contact_id)
    assert row is not None
    return [view.model.index(row, column).data() for column in range(view.model.columnCount())]


def retype(qtbot: Any, edit: Any, text: str) -> None:
    """Clear a field and type into it like a person would."""
    edit.clear()
    qtbot.keyClicks(edit, text)


def test_sales_edit_shows_in_an_open_store_window(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    store = store_view(ui.open_window(qtbot, login, "store"))
    assert store.customer_id == morag["id"]
    assert store.details.phone.text() == "01838 400200"
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.editing_id == morag["id"]  # the first row is selected on opening
    assert not view.save_button.isEnabled()  # nothing to save yet

    retype(qtbot, view.form.phone, "01838 400999")
    retype(qtbot, view.form.name, "Morag MacLeod-Grant")
    assert view.form.is_dirty()
    assert view.save_button.isEnabled()
    view.save_button.click()

    ui.wait_until(lambda: store.details.phone.text() == "01838 400999", what="store form shows the new phone")
    ui.wait_until(lambda: store.picker.currentText().startswith("Morag MacLeod-Grant ("),
                  what="store picker shows the new name")
    assert store.details.name.text() == "Morag MacLeod-Grant"
    assert not store.details.is_dirty()
    ui.wait_until(lambda: view.form_message.text().startswith("Saved"), what="saved message")
    assert row_texts(view, morag["id"])[:3] == ["Morag MacLeod-Grant", MORAG["email"], "01838 400999"]
    assert not view.form.is_dirty()
    saved = ui.run(other.call("contacts.get", {"id": morag["id"]}))
    assert saved["version"] == 2 and saved["phone"] == "01838 400999"


def test_store_edit_updates_the_sales_row_in_place_and_it_glows(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.model.rowCount() == 2
    row_before = view.model.row_of(hamish["id"])
    assert row_texts(view, hamish["id"])[3] == "12 Station Road, Dalmally"
    assert not view.model.is_glowing(hamish["id"])

    store = store_view(ui.open_window(qtbot, login, "store"))
    store.picker.setCurrentIndex(store.picker.findData(hamish["id"]))
    assert store.customer_id == hamish["id"]
    assert store.details.name.text() == "Hamish Grant"
    retype(qtbot, store.details.address, "Glen Orchy Farm, Bridge of Orchy")
    assert store.details_save.isEnabled()
    store.details_save.click()

    ui.wait_until(lambda: row_texts(view, hamish["id"])[3] == "Glen Orchy Farm, Bridge of Orchy",
                  what="sales row shows the customer's new address")
    assert view.model.rowCount() == 2
    assert view.model.row_of(hamish["id"]) == row_before
    assert view.model.is_glowing(hamish["id"])
    assert not view.model.is_glowing(morag["id"])
    ui.wait_until(lambda: store.details_message.text() == "Your details are saved.",
                  what="store says the details are saved")


def test_stale_save_opens_the_conflict_dialog_and_overwrite_wins(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    store = store_view(ui.open_window(qtbot, login, "store"))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.select_contact(morag["id"])
    retype(qtbot, view.form.email, "morag@glenorchy.scot")

    # Meanwhile another program changes the same contact.
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 1, "email": "m.macleod@example.com",
                                          "notes": "Phoned about the wedding."}))
    ui.wait_until(lambda: not view.changed_bar.isHidden(), what="the 'changed elsewhere' bar")
    assert view.changed_label.text().startswith("<b>Changed by guest just now")
    assert view.form.email.text() == "morag@glenorchy.scot"  # the edit is kept

    view.save_button.click()
    ui.wait_until(lambda: view.conflict_dialog is not None and view.conflict_dialog.isVisible(),
                  what="the conflict dialog")
    dialog = view.conflict_dialog
    assert dialog is not None
    assert dialog.rows() == [
        ("E-mail", "m.macleod@example.com", "morag@glenorchy.scot"),
        ("Notes", "Phoned about the wedding.", ""),
    ]
    assert view.changed_bar.isHidden()
    dialog.overwrite_button.click()

    ui.wait_until(lambda: store.details.email.text() == "morag@glenorchy.scot", what="store shows mine")
    ui.wait_until(lambda: view.conflict_dialog is None, what="dialog closed")
    saved = ui.run(other.call("contacts.get", {"id": morag["id"]}))
    assert saved["version"] == 3
    assert saved["email"] == "morag@glenorchy.scot"
    assert saved["notes"] == ""  # mine, field for field
    assert view.editing_version == 3 and not view.form.is_dirty()


def test_conflict_use_theirs_and_the_changed_bar(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.select_contact(morag["id"])

    # No unsaved edits: a change made elsewhere simply reloads the form.
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 1, "phone": "0141 000 1111"}))
    ui.wait_until(lambda: view.form.phone.text() == "0141 000 1111", what="quiet reload")
    assert view.changed_bar.isHidden()
    assert view.editing_version == 2

    # Unsaved edits: the bar; Reload drops them.
    retype(qtbot, view.form.phone, "0141 000 2222")
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 2, "phone": "0141 000 3333"}))
    ui.wait_until(lambda: not view.changed_bar.isHidden(), what="the 'changed elsewhere' bar")
    assert view.form.phone.text() == "0141 000 2222"
    view.reload_button.click()
    assert view.form.phone.text() == "0141 000 3333"
    assert view.changed_bar.isHidden() and not view.form.is_dirty()

    # A stale save: "Use theirs" loads their version into the form.
    retype(qtbot, view.form.phone, "0141 000 4444")
    ui.run(other.call("contacts.update", {"id": morag["id"], "version": 3, "phone": "0141 000 5555"}))
    ui.wait_until(lambda: not view.changed_bar.isHidden(), what="the bar again")
    view.save_action.trigger()
    ui.wait_until(lambda: view.conflict_dialog is not None and view.conflict_dialog.isVisible(),
                  what="the conflict dialog")
    assert view.conflict_dialog is not None
    assert view.conflict_dialog.rows() == [("Phone", "0141 000 5555", "0141 000 4444")]
    view.conflict_dialog.use_theirs_button.click()
    ui.wait_until(lambda: view.conflict_dialog is None, what="dialog closed")
    assert view.form.phone.text() == "0141 000 5555"
    assert not view.form.is_dirty() and view.editing_version == 4
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["version"] == 4  # nothing was sent


def test_inline_validation_blocks_the_save(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.select_contact(morag["id"])
    seq_before = ui.run(other.call("contacts.list"))["seq"]
    assert view.form.error_text("email") == ""

    retype(qtbot, view.form.email, "morag at glenorchy")
    assert "E-mail does not look like an e-mail address" in view.form.error_text("email")
    assert not view.save_button.isEnabled()
    assert not view.save_action.isEnabled()
    retype(qtbot, view.form.measure["waist_cm"], "five")
    assert "Waist must be a number of centimetres" in view.form.error_text("measurements")
    retype(qtbot, view.form.name, "")
    assert "Name is required" in view.form.error_text("name")

    view.save()  # the shortcut's slot, called anyway: refuses while the form is wrong
    view.save_action.trigger()
    ui.pump(0.3)
    assert ui.run(other.call("contacts.list"))["seq"] == seq_before
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["version"] == 1

    retype(qtbot, view.form.name, "Morag MacLeod")
    retype(qtbot, view.form.measure["waist_cm"], "88")
    retype(qtbot, view.form.email, "morag@glenorchy.scot")
    assert view.form.error_text("email") == "" and view.form.error_text("measurements") == ""
    assert view.save_button.isEnabled()


def test_new_contact_is_created_and_selected(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    ui.run(other.call("contacts.create", MORAG))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.new_action.shortcut().toString() == "Ctrl+N"
    assert view.save_action.shortcut().toString() == "Ctrl+S"
    view.new_action.trigger()
    assert view.editing_id is None and view.form.name.text() == ""
    assert "New contact" in view.form_title.text()
    assert not view.save_button.isEnabled()
    qtbot.keyClicks(view.form.email, "isla@example.co.uk")
    assert "Name is required" in view.form.error_text("name")
    assert not view.save_button.isEnabled()
    qtbot.keyClicks(view.form.name, "Isla Cameron")
    view.save_button.click()
    ui.wait_until(lambda: view.model.rowCount() == 2, what="new row")
    ui.wait_until(lambda: view.editing_id is not None, what="the new contact in the form")
    assert view.selected_id() == view.editing_id
    assert row_texts(view, view.editing_id)[:2] == ["Isla Cameron", "isla@example.co.uk"]
    assert "Isla Cameron" in view.form_title.text()

    view.search.setText("isla")
    assert view.proxy.rowCount() == 1
    assert view.count_label.text() == "1 of 2 contacts"


def test_orders_under_the_contact_update_live(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient
) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    hamish = ui.run(other.call("contacts.create", HAMISH))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.select_contact(morag["id"])
    assert view.order_rows() == []
    assert not view.no_orders.isHidden()

    order = ui.run(other.call("orders.place", {"contact_id": morag["id"], "items": [
        {"description": "Eight-yard kilt", "tartan": "MacLeod of Harris", "quantity": 1, "unit_price_pence": 48000}]}))
    ui.run(other.call("orders.place", {"contact_id": hamish["id"], "items": [
        {"description": "Sporran", "quantity": 1, "unit_price_pence": 9500}]}))
    ui.wait_until(lambda: len(view.order_rows()) == 1, what="Morag's order listed")
    assert view.order_rows()[0][:3] == ("K-0001", "Pending", "£480.00")
    ui.run(other.call("orders.start", {"id": order["id"], "version": order["version"]}))
    ui.wait_until(lambda: view.order_rows()[0][1] == "In progress", what="live status")
    assert len(view.order_rows()) == 1  # Hamish's order is not Morag's

    assert view.select_contact(hamish["id"])
    assert [r[:3] for r in view.order_rows()] == [("K-0002", "Pending", "£95.00")]


def test_offline_disables_saving(ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient) -> None:
    morag = ui.run(other.call("contacts.create", MORAG))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.select_contact(morag["id"])
    retype(qtbot, view.form.phone, "01838 400111")
    assert view.save_button.isEnabled() and view.save_action.isEnabled()

    view.set_online(False)
    assert not view.save_button.isEnabled()
    assert not view.save_action.isEnabled()
    assert not view.keep_button.isEnabled()
    qtbot.keyClicks(view.form.phone, "2")  # typing offline must not re-enable it
    assert not view.save_button.isEnabled()
    view.save()
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
    assert view.select_contact(morag["id"])
    retype(qtbot, view.form.phone, "01838 400777")

    def hamish_row() -> int:
        row = view.model.row_of(hamish["id"])
        assert row is not None
        return view.proxy.mapFromSource(view.model.index(row, 0)).row()

    view.table.selectRow(hamish_row())  # a click on another customer
    ui.wait_until(lambda: view.discard_box is not None and view.discard_box.isVisible(), what="the question")
    assert view.discard_box is not None
    assert "Morag MacLeod" in view.discard_box.text()
    next(b for b in view.discard_box.buttons() if b.text() == "Keep editing").click()
    ui.wait_until(lambda: view.discard_box is None, what="question closed")
    assert view.editing_id == morag["id"] and view.selected_id() == morag["id"]
    assert view.form.phone.text() == "01838 400777"

    view.new_action.trigger()
    ui.wait_until(lambda: view.discard_box is not None and view.discard_box.isVisible(), what="asked again")
    assert view.discard_box is not None
    next(b for b in view.discard_box.buttons() if b.text() == "Keep editing").click()
    ui.wait_until(lambda: view.discard_box is None, what="question closed")
    assert view.editing_id == morag["id"]

    view.table.selectRow(hamish_row())
    ui.wait_until(lambda: view.discard_box is not None and view.discard_box.isVisible(), what="asked again")
    assert view.discard_box is not None
    next(b for b in view.discard_box.buttons() if b.text() == "Drop my changes").click()
    ui.wait_until(lambda: view.editing_id == hamish["id"], what="Hamish in the form")
    assert view.form.name.text() == "Hamish Grant" and not view.form.is_dirty()
    assert view.selected_id() == hamish["id"]
    assert ui.run(other.call("contacts.get", {"id": morag["id"]}))["phone"] == MORAG["phone"]
