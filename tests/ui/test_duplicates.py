"""Possible duplicates in the sales window: the importer queues the doubtful pairs, the sales guy compares them
field by field and merges (choosing per field) or keeps them apart; the other windows follow live.
Real service process, real broker, real widgets offscreen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QListWidget

from app.client.contact_import import plan_import, run_plan
from app.client.presenters.duplicates import BOTH, LEFT, RIGHT
from app.client.shop_client import ShopClient
from tests.test_import import read_all, write_lists
from tests.ui.conftest import UiLoop
from tests.ui.sales_fixtures import click, click_row_with, pick_customer, sales_view, store_view
from ui.main_window import BrokerLogin
from ui.views.duplicates_panel import DuplicatesDialog, DuplicatesPanel
from ui.views.sales_view import SalesView
from ui.views.store_view import StoreView

KILT = {"description": "Eight-yard kilt", "tartan": "O'Brien", "quantity": 1, "unit_price_pence": 48000}


def picker_ids(view: StoreView) -> list[int]:
    return [int(view.picker.itemData(i)) for i in range(view.picker.count())]


def import_the_old_lists(ui: UiLoop, client: ShopClient, folder: Path) -> None:
    async def run() -> None:
        report = await run_plan(client, await plan_import(client, read_all(write_lists(folder))))
        assert report.failures == [] and len(report.queued) == 2

    ui.run(run())


def click_item(pairs: QListWidget, row: int) -> None:
    item = pairs.item(row)
    assert item is not None
    QTest.mouseClick(pairs.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pairs.visualItemRect(item).center())


def choose(panel: DuplicatesPanel, field: str, choice: int) -> None:
    button = panel.choices[field].button(choice)
    assert button is not None, f"{field} has no choice {choice}"
    # On its round mark, where a person aims (the cell is wider than the button's text).
    QTest.mouseClick(button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(8, button.height() // 2))
    assert button.isChecked()


def open_duplicates(ui: UiLoop, view: SalesView) -> DuplicatesDialog:
    click(view.duplicates_button)
    ui.wait_until(lambda: view.duplicates_button.dialog is not None and view.duplicates_button.dialog.isVisible(),
                  what="the duplicates dialog")
    dialog = view.duplicates_button.dialog
    assert dialog is not None
    return dialog


def close(ui: UiLoop, view: SalesView, dialog: DuplicatesDialog) -> None:
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    ui.wait_until(lambda: view.duplicates_button.dialog is None, what="the dialog closed")


def test_merge_choosing_fields_moves_the_orders_and_every_window_follows(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient, tmp_path: Path
) -> None:
    store = store_view(ui.open_window(qtbot, login, "store"))
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    assert view.duplicates_button.text() == "Possible duplicates (0)" and not view.duplicates_button.isEnabled()

    import_the_old_lists(ui, other, tmp_path)
    ui.wait_until(lambda: view.duplicates_button.text() == "Possible duplicates (2)", what="two pairs to review")
    ui.wait_until(lambda: view.model.rowCount() == 11 and store.picker.count() == 11, what="everyone listed")
    contacts = {c["id"]: c for c in ui.run(other.list_all("contacts.list"))[0]}
    old = next(c for c in contacts.values() if c["name"] == "Mhairi O'Brien")
    new = next(c for c in contacts.values() if c["name"] == "Mhairi Ó Briain")
    assert old["id"] < new["id"]
    first = ui.run(other.call("orders.place", {"contact_id": old["id"], "items": [KILT]}))
    second = ui.run(other.call("orders.place", {"contact_id": new["id"], "items": [KILT], "notes": "Web order"}))
    pick_customer(store, "Briain")  # the store window acts as the web customer
    ui.wait_until(lambda: store.customer_id == new["id"] and len(store.order_rows()) == 1, what="her web order")

    click_row_with(view.table, "Mhairi Ó")  # the sales form shows the contact that will be merged away
    assert view.editing_id == new["id"]

    dialog = open_duplicates(ui, view)
    panel = dialog.panel
    assert [panel.pair_list.item(i).text() for i in range(panel.pair_list.count())] == [
        "Hamish Grant  ↔  Hamish Grant", "Mhairi O'Brien  ↔  Mhairi Ó Briain"]
    click_item(panel.pair_list, 1)
    assert panel.pair_id is not None and "similar names (90%) and the same phone and postcode" in panel.title.text()
    assert panel.orders_label.text() == f"Orders: 1 of #{old['id']}, 1 of #{new['id']}; after merging all 2 are " \
                                        f"#{old['id']}'s."

    # Someone changes her while the comparison is open: it shows the new values.
    ui.run(other.call("contacts.update", {"id": old["id"], "version": old["version"], "phone": "07700 900462"}))
    ui.wait_until(lambda: panel.table.cellWidget(2, 1).text() == "07700 900462", what="the comparison follows")
    assert "was just changed" in panel.message.text()

    choose(panel, "name", RIGHT)  # the accented spelling from the web store
    choose(panel, "email", RIGHT)
    choose(panel, "phone", LEFT)
    choose(panel, "address", RIGHT)
    choose(panel, "notes", BOTH)
    click(panel.merge_button)
    ui.wait_until(lambda: panel.message.text().startswith("Merged:"), what="merged")
    assert panel.message.text() == f"Merged: Mhairi Ó Briain (#{new['id']}) is now part of Mhairi O'Brien " \
                                   f"(#{old['id']})."

    # The shop: one Mhairi, with the chosen values and both orders; the other kept, marked as merged.
    stays = ui.run(other.call("contacts.get", {"id": old["id"]}))
    assert (stays["name"], stays["email"], stays["phone"], stays["address"]) == (
        "Mhairi Ó Briain", "mhairi.obriain@example.ie", "07700 900462", "4 Bridge Street\nDalmally\nPA33 1AA")
    assert stays["notes"] == old["notes"] + "\n" + new["notes"]
    assert stays["history"][-1]["action"] == "merged" and stays["history"][-1]["changes"]["merged_from"] == [
        None, new["id"]]
    orders = ui.run(other.call("orders.list", {"contact_id": old["id"]}))["items"]
    assert sorted(o["id"] for o in orders) == [first["id"], second["id"]]
    assert ui.run(other.call("orders.list", {"contact_id": new["id"]}))["items"] == []
    gone = ui.run(other.call("contacts.get", {"id": new["id"]}))
    assert gone["merged_into"] == old["id"] and gone["name"] == "Mhairi Ó Briain"
    assert new["id"] not in [c["id"] for c in ui.run(other.list_all("contacts.list"))[0]]

    # The sales window: one pair left, the merged contact gone from the list.
    assert [panel.pair_list.item(i).text() for i in range(panel.pair_list.count())] == [
        "Hamish Grant  ↔  Hamish Grant"]
    assert view.model.row_of(new["id"]) is None and view.model.rowCount() == 10
    ui.wait_until(lambda: view.duplicates_button.text() == "Possible duplicates (1)", what="one pair left")
    # The sales form moved on (told by the button's signal) to the contact she became part of.
    ui.wait_until(lambda: view.editing_id == old["id"], what="the sales form shows the contact that stays")
    assert view.form.name.text() == "Mhairi Ó Briain"

    # The store window, acting as the merged customer, follows: she is the one who stays now, with both orders.
    ui.wait_until(lambda: new["id"] not in picker_ids(store), what="the merged contact leaves the store's picker")
    ui.wait_until(lambda: store.customer_id == old["id"], what="the store acts as the contact that stays")
    ui.wait_until(lambda: store.picker.currentText() == "Mhairi Ó Briain (mhairi.obriain@example.ie)",
                  what="the picker shows the chosen values")
    ui.wait_until(lambda: len(store.order_rows()) == 2, what="both orders under her")
    assert store.details.email.text() == "mhairi.obriain@example.ie"
    close(ui, view, dialog)


def test_keep_apart_here_and_a_pair_resolved_elsewhere_leaves_the_list(
    ui: UiLoop, qtbot: Any, login: BrokerLogin, other: ShopClient, tmp_path: Path
) -> None:
    view = sales_view(ui.open_window(qtbot, login, "sales"))
    import_the_old_lists(ui, other, tmp_path)
    ui.wait_until(lambda: view.duplicates_button.text() == "Possible duplicates (2)", what="two pairs to review")
    dialog = open_duplicates(ui, view)
    panel = dialog.panel
    click_item(panel.pair_list, 0)
    hamish_pair = panel.pair_id
    seq = ui.run(other.call("contacts.list", {"limit": 1}))["seq"]
    click(panel.apart_button)
    ui.wait_until(lambda: panel.message.text() == "Kept apart: Hamish Grant and Hamish Grant are two people.",
                  what="kept apart")
    assert [panel.pair_list.item(i).text() for i in range(panel.pair_list.count())] == [
        "Mhairi O'Brien  ↔  Mhairi Ó Briain"]
    pairs = ui.run(other.call("contacts.duplicates", {"status": "kept_apart"}))["items"]
    assert [p["id"] for p in pairs] == [hamish_pair]
    assert ui.run(other.call("contacts.list", {"limit": 1}))["seq"] == seq + 1  # one event, no contact touched

    # Another sales desk keeps the last pair apart: this window's list empties by itself.
    [last] = ui.run(other.call("contacts.duplicates", {}))["items"]
    ui.run(other.call("contacts.keep_apart", {"id": last["id"], "version": last["version"]}))
    ui.wait_until(lambda: panel.pair_list.count() == 0, what="the pair resolved elsewhere leaves the list")
    assert not panel.empty_label.isHidden()
    assert not panel.merge_button.isEnabled() and not panel.apart_button.isEnabled()
    ui.wait_until(lambda: view.duplicates_button.text() == "Possible duplicates (0)", what="nothing left")
    close(ui, view, dialog)
    assert not view.duplicates_button.isEnabled()
    # Imported again, the kept-apart pairs are not asked about again.
    again = ui.run(plan_import(other, read_all(write_lists(tmp_path))))
    assert again.calls == 0
