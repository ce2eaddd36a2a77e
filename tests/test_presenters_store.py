"""The store presenter without a display, against the real service: the customer's new phone is not refused
because sales changed Notes; the workshop starting an order under the customer's typing keeps it, unsent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.client.presenters.store import StorePresenter
from app.client.role_session import RoleSession
from app.client.shop_client import CallError, ShopClient
from app.config import Settings
from app.service.shop_service import ShopService
from tests.support import wait_until
from tests.test_presenters_sales import MORAG, form_of

KILT = {"description": "Kilt pin", "tartan": "", "quantity": 1, "unit_price_pence": 2500}


@pytest.fixture
async def store(settings: Settings, service: ShopService) -> AsyncIterator[RoleSession]:
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test-store") as c:
        session = RoleSession(c, "store")
        await session.start()
        yield session


async def test_sales_notes_do_not_refuse_the_customers_phone(store: RoleSession, client: ShopClient) -> None:
    morag = await client.call("contacts.create", MORAG)
    await wait_until(lambda: morag["id"] in store.contacts.items)
    presenter = StorePresenter(store)
    presenter.details.load(store.contacts.items[morag["id"]])
    await client.call("contacts.update", {"id": morag["id"], "version": 1, "notes": "Wedding on 3 May."})
    fields = form_of(morag, phone="07700 900123")
    outcome = await presenter.details.save(fields)  # notes are dropped: the customer does not see them
    assert outcome.kind == "saved"
    stored = await client.call("contacts.get", {"id": morag["id"]})
    assert (stored["phone"], stored["notes"]) == ("07700 900123", "Wedding on 3 May.")


async def test_only_a_field_both_changed_is_asked_about(store: RoleSession, client: ShopClient) -> None:
    morag = await client.call("contacts.create", MORAG)
    await wait_until(lambda: morag["id"] in store.contacts.items)
    presenter = StorePresenter(store)
    presenter.details.load(store.contacts.items[morag["id"]])
    await client.call("contacts.update", {"id": morag["id"], "version": 1, "phone": "0141 000 1111",
                                          "address": "The Old Manse, Killin"})
    outcome = await presenter.details.save(form_of(morag, phone="07700 900123", email="morag@glenorchy.scot"))
    assert outcome.kind == "conflict" and outcome.merge is not None
    assert [(c.label, c.theirs, c.mine) for c in outcome.merge.conflicts] == [
        ("Phone", "0141 000 1111", "07700 900123")]
    assert (await presenter.details.save(outcome.merge.resolved(keep_mine=True))).kind == "saved"
    stored = await client.call("contacts.get", {"id": morag["id"]})
    assert (stored["phone"], stored["email"], stored["address"]) == (
        "07700 900123", "morag@glenorchy.scot", "The Old Manse, Killin")


async def test_started_under_the_typing_keeps_it_and_says_it_was_not_sent(
    store: RoleSession, client: ShopClient
) -> None:
    morag = await client.call("contacts.create", MORAG)
    order = await client.call("orders.place", {"contact_id": morag["id"], "items": [KILT]})
    await wait_until(lambda: order["id"] in store.orders.items)
    presenter = StorePresenter(store)
    presenter.details.load(store.contacts.items[morag["id"]])
    presenter.show_order(store.orders.items[order["id"]])
    assert presenter.may("save-order", editor_dirty=True) and presenter.may("cancel-order")
    assert presenter.unsaved_changes(False, True, True) == "You have not saved your changes to order K-0001."

    await client.call("orders.start", {"id": order["id"], "version": order["version"]})
    await wait_until(lambda: store.orders.items[order["id"]]["status"] == "in_progress")
    reaction = presenter.order_arrived(store.orders.items[order["id"]], dirty=True)
    assert reaction.kind == "keep-typed"
    assert reaction.sentence.startswith("The workshop started on order K-0001 while you were changing it, so "
                                        "your changes were not sent.")
    assert not presenter.may("save-order", editor_dirty=True) and not presenter.may("cancel-order")
    assert presenter.unsaved_changes(False, True, True) is None  # nothing more to lose: it cannot be sent

    # Unedited, a started order simply shows as it is now.
    presenter.show_order(store.orders.items[order["id"]])
    done = await client.call("orders.complete", {"id": order["id"], "version": order["version"] + 1})
    await wait_until(lambda: store.orders.items[order["id"]]["version"] == done["version"])
    assert presenter.order_arrived(store.orders.items[order["id"]], dirty=False).kind == "reload"


async def test_the_workshop_winning_the_race_keeps_the_typing(store: RoleSession, client: ShopClient) -> None:
    morag = await client.call("contacts.create", MORAG)
    order = await client.call("orders.place", {"contact_id": morag["id"], "items": [KILT]})
    await wait_until(lambda: order["id"] in store.orders.items)
    presenter = StorePresenter(store)
    presenter.details.load(store.contacts.items[morag["id"]])
    presenter.show_order(store.orders.items[order["id"]])
    await client.call("orders.start", {"id": order["id"], "version": order["version"]})
    with pytest.raises(CallError) as refused:
        await store.amend_order(order["id"], order["version"], [{**KILT, "quantity": 2}], "")
    reaction = presenter.refused(refused.value.code, refused.value.details.get("current"))
    assert reaction.kind == "keep-typed" and "not sent" in reaction.sentence
    assert not presenter.pending()
