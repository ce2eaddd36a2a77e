"""orders.* and pickups.list end to end through the real broker and service: the whole life of an order,
list filters and paging, placement idempotency, conflicts, locked and illegal transitions, validation."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from app.client.shop_client import CallError, ShopClient
from app.config import Settings
from tests.shop_helpers import ITEM, EventLog, RawRpc, advance, assert_gap_free, new_contact, new_order, sentinel

KILT = {"description": "Eight-yard kilt", "tartan": "Black Watch", "quantity": 1, "unit_price_pence": 48000}
PIN = {"description": "Kilt pin", "tartan": "", "quantity": 2, "unit_price_pence": 2500}


async def test_order_life_from_placement_to_collection(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contact = await new_contact(client, "Callum Fraser", address="12 Mill Lane, Killin", phone="01567 820000")
    order = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT, PIN],
                                               "notes": "Wedding on the 14th."})
    assert order["number"] == "K-0001"
    assert order["status"] == "pending"
    assert order["total_pence"] == 48000 + 2 * 2500
    assert order["version"] == 1
    assert order["items"] == [KILT, PIN]

    amended = await client.call("orders.amend", {"id": order["id"], "version": 1, "items": [KILT],
                                                 "notes": "Wedding on the 15th."})
    assert amended["version"] == 2 and amended["total_pence"] == 48000
    assert amended["notes"] == "Wedding on the 15th."

    started = await advance(client, amended, "start")
    assert (started["status"], started["version"]) == ("in_progress", 3)
    assert (await client.call("pickups.list", {}))["items"] == []
    completed = await advance(client, started, "complete")
    assert completed["status"] == "completed"

    pickups = await client.call("pickups.list", {})
    assert [p["number"] for p in pickups["items"]] == ["K-0001"]
    assert pickups["items"][0]["contact"] == {"id": contact["id"], "name": "Callum Fraser",
                                              "address": "12 Mill Lane, Killin", "phone": "01567 820000",
                                              "email": ""}
    assert pickups["items"][0]["amount_due_pence"] == 48000
    assert pickups["total_due_pence"] == 48000
    assert pickups["seq"] == 5

    collected = await advance(client, completed, "collect")
    assert (collected["status"], collected["version"]) == ("collected", 5)
    assert (await client.call("pickups.list", {}))["items"] == []

    fetched = await client.call("orders.get", {"id": order["id"]})
    assert fetched["status"] == "collected"
    assert fetched["contact"]["name"] == "Callum Fraser"
    assert [h["action"] for h in fetched["history"]] == ["placed", "amended", "started", "completed", "collected"]
    assert fetched["history"][1]["changes"]["notes"] == ["Wedding on the 14th.", "Wedding on the 15th."]
    assert fetched["seq"] == 6

    await log.wait_for(6)
    assert log.names == ["contact.created", "order.placed", "order.amended", "order.started",
                         "order.completed", "order.collected"]
    assert_gap_free(log.seqs)
    assert [e["data"]["status"] for e in log.events[1:]] == [
        "pending", "pending", "in_progress", "completed", "collected"]
    assert log.events[-1]["data"]["version"] == 5


async def test_cancel_a_pending_order(client: ShopClient) -> None:
    log = await EventLog.attach(client, ["order.*"])
    contact = await new_contact(client)
    order = await new_order(client, contact["id"])
    cancelled = await advance(client, order, "cancel")
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 2)
    await log.wait_for(2)
    assert log.names == ["order.placed", "order.cancelled"]
    assert log.events[1]["data"]["status"] == "cancelled"


async def test_list_filters_and_paging(client: ShopClient) -> None:
    morag = await new_contact(client, "Morag MacLeod")
    ewan = await new_contact(client, "Ewan Stewart")
    orders = [await new_order(client, (morag if i % 2 else ewan)["id"], notes=f"note {i}") for i in range(10)]
    await advance(client, orders[0], "start")
    await advance(client, orders[1], "start", "complete")
    await advance(client, orders[2], "cancel")
    await advance(client, orders[3], "start", "complete", "collect")

    def numbers(page: dict[str, Any]) -> list[str]:
        return [o["number"] for o in page["items"]]

    everything = await client.call("orders.list", {})
    assert numbers(everything) == [f"K-{i:04d}" for i in range(1, 11)]
    assert everything["next_cursor"] is None

    assert numbers(await client.call("orders.list", {"status": "in_progress"})) == ["K-0001"]
    assert numbers(await client.call("orders.list", {"status": ["completed", "cancelled"]})) == ["K-0002", "K-0003"]
    assert len((await client.call("orders.list", {"status": "pending"}))["items"]) == 6
    assert numbers(await client.call("orders.list", {"status": "collected"})) == ["K-0004"]

    by_contact = await client.call("orders.list", {"contact_id": morag["id"]})
    assert {o["contact_id"] for o in by_contact["items"]} == {morag["id"]}
    assert len(by_contact["items"]) == 5
    assert numbers(await client.call("orders.list", {"contact_id": morag["id"], "status": "completed"})) == ["K-0002"]

    assert numbers(await client.call("orders.list", {"q": "k-0007"})) == ["K-0007"]
    assert numbers(await client.call("orders.list", {"q": "NOTE 9"})) == ["K-0010"]
    assert len((await client.call("orders.list", {"q": "ewan"}))["items"]) == 5
    assert (await client.call("orders.list", {"q": "Ewan", "contact_id": morag["id"]}))["items"] == []
    assert (await client.call("orders.list", {"contact_id": 9999}))["items"] == []

    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await client.call("orders.list", {"limit": 4, **({"cursor": cursor} if cursor else {})})
        pages.append(numbers(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [n for p in pages for n in p] == numbers(everything)
    # paging within a filter
    first = await client.call("orders.list", {"status": "pending", "limit": 4})
    rest = await client.call("orders.list", {"status": "pending", "limit": 4, "cursor": first["next_cursor"]})
    assert len(first["items"]) == 4 and len(rest["items"]) == 2 and rest["next_cursor"] is None

    for bad, field in (({"limit": 501}, "limit"), ({"status": "lost"}, "status"), ({"status": []}, "status"),
                       ({"contact_id": "1"}, "contact_id"), ({"cursor": 5}, "cursor"), ({"order": "id"}, "order")):
        with pytest.raises(CallError) as caught:
            await client.call("orders.list", bad)
        assert (caught.value.code, caught.value.details.get("field")) == ("invalid", field), bad
    with pytest.raises(CallError) as caught:
        await client.call("pickups.list", {"limit": 501})
    assert caught.value.details["field"] == "limit"


async def test_pickups_paging_and_totals(client: ShopClient) -> None:
    contact = await new_contact(client, "Kirsty Cameron")
    for _ in range(3):
        order = await new_order(client, contact["id"])
        await advance(client, order, "start", "complete")
    await new_order(client, contact["id"])  # pending: not a pickup
    first = await client.call("pickups.list", {"limit": 2})
    assert len(first["items"]) == 2
    assert first["count"] == 3 and first["total_due_pence"] == 3 * ITEM["unit_price_pence"]  # all pages
    rest = await client.call("pickups.list", {"limit": 2, "cursor": first["next_cursor"]})
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {o["status"] for o in first["items"] + rest["items"]} == {"completed"}


async def test_list_seq_is_the_last_event_applied(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contact = await new_contact(client)
    order = await new_order(client, contact["id"])
    await advance(client, order, "start")
    await log.wait_for(3)
    for method in ("contacts.list", "orders.list", "pickups.list"):
        assert (await client.call(method, {}))["seq"] == log.seqs[-1] == 3
    assert (await client.call("orders.get", {"id": order["id"]}))["seq"] == 3
    assert (await client.call("contacts.get", {"id": contact["id"]}))["seq"] == 3


async def test_placement_with_a_repeated_message_id_places_one_order(client: ShopClient) -> None:
    log = await EventLog.attach(client, ["order.*"])
    contact = await new_contact(client)
    params = {"contact_id": contact["id"], "items": [KILT]}
    message_id = str(uuid.uuid4())
    first = await client.call("orders.place", params, message_id=message_id)
    second = await client.call("orders.place", params, message_id=message_id)
    # and twice at the same moment, with another id
    other_id = str(uuid.uuid4())
    third, fourth = await asyncio.gather(client.call("orders.place", params, message_id=other_id),
                                         client.call("orders.place", params, message_id=other_id))
    assert second == first
    assert third == fourth
    assert first["id"] != third["id"]
    listed = await client.call("orders.list", {})
    assert [o["number"] for o in listed["items"]] == ["K-0001", "K-0002"]
    # the next order event after the two placements is the start: no third order.placed was sent
    await client.call("orders.start", {"id": first["id"], "version": 1})
    await log.wait_for(3)
    assert log.names == ["order.placed", "order.placed", "order.started"]
    assert [e["data"]["id"] for e in log.of("order.placed")] == [first["id"], third["id"]]


async def test_raw_duplicate_placement_message_places_one_order(client: ShopClient, settings: Settings) -> None:
    log = await EventLog.attach(client, ["order.*"])
    contact = await new_contact(client)
    body = json.dumps({"contact_id": contact["id"], "items": [KILT]}).encode()
    message_id = str(uuid.uuid4())
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        # the very same message published twice, as a publisher retrying after a lost confirm would
        correlation_id = uuid.uuid4().hex
        for _ in range(2):
            await raw.publish("orders.place", body, message_id=message_id, correlation_id=correlation_id)
        replies = await raw.all_replies(correlation_id, 2)
    assert replies[0] == replies[1]
    assert replies[0]["ok"] is True
    placed = replies[0]["result"]
    assert placed["number"] == "K-0001"
    assert [o["id"] for o in (await client.call("orders.list", {}))["items"]] == [placed["id"]]
    await client.call("orders.cancel", {"id": placed["id"], "version": 1})
    await log.wait_for(2)
    assert log.names == ["order.placed", "order.cancelled"]


async def test_two_workshops_starting_one_order_exactly_one_wins(client: ShopClient) -> None:
    contact = await new_contact(client)
    order = await new_order(client, contact["id"])
    results = await asyncio.gather(
        client.call("orders.start", {"id": order["id"], "version": 1}),
        client.call("orders.amend", {"id": order["id"], "version": 1, "notes": "hurry"}),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, CallError)]
    wins = [r for r in results if isinstance(r, dict)]
    assert len(errors) == 1 and len(wins) == 1
    # the amendment lost to the start (locked) or the start lost to the amendment (conflict)
    if wins[0]["status"] == "in_progress":
        assert errors[0].code == "locked"
    else:
        assert errors[0].code == "conflict"
        assert errors[0].details["current"]["version"] == 2
        assert errors[0].details["current"]["notes"] == "hurry"


async def test_concurrent_amendments_one_conflicts(client: ShopClient) -> None:
    contact = await new_contact(client)
    order = await new_order(client, contact["id"])
    results = await asyncio.gather(
        *(client.call("orders.amend", {"id": order["id"], "version": 1, "notes": f"take {i}"}) for i in range(2)),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, CallError)]
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1 and [e.code for e in errors] == ["conflict"]
    assert errors[0].details["current"]["notes"] == wins[0]["notes"]
    assert errors[0].details["current"]["version"] == 2


@pytest.mark.parametrize("path", [("start",), ("start", "complete"), ("start", "complete", "collect")])
async def test_customer_changes_are_locked_once_work_started(client: ShopClient, path: tuple[str, ...]) -> None:
    contact = await new_contact(client)
    order = await advance(client, await new_order(client, contact["id"]), *path)
    log = await EventLog.attach(client)
    for method, extra in (("orders.amend", {"notes": "too late"}), ("orders.cancel", {})):
        with pytest.raises(CallError) as caught:
            await client.call(method, {"id": order["id"], "version": order["version"], **extra})
        assert caught.value.code == "locked", method
        assert order["number"] in caught.value.message
        assert caught.value.details["status"] == order["status"]
    current = await client.call("orders.get", {"id": order["id"]})
    assert (current["version"], current["notes"], current["status"]) == (order["version"], "", order["status"])
    await sentinel(client, log, current["seq"] + 1)


ILLEGAL = [
    ((), "complete"), ((), "collect"),
    (("start",), "start"), (("start",), "collect"),
    (("start", "complete"), "start"), (("start", "complete"), "complete"),
    (("start", "complete", "collect"), "start"), (("start", "complete", "collect"), "complete"),
    (("start", "complete", "collect"), "collect"),
    (("cancel",), "start"), (("cancel",), "complete"), (("cancel",), "collect"), (("cancel",), "cancel"),
]


@pytest.mark.parametrize(("path", "action"), ILLEGAL)
async def test_illegal_transitions_are_invalid(client: ShopClient, path: tuple[str, ...], action: str) -> None:
    contact = await new_contact(client)
    order = await advance(client, await new_order(client, contact["id"]), *path)
    log = await EventLog.attach(client)
    with pytest.raises(CallError) as caught:
        await client.call(f"orders.{action}", {"id": order["id"], "version": order["version"]})
    assert caught.value.code == "invalid"
    assert caught.value.details["field"] == "status"
    assert caught.value.details["status"] == order["status"]
    current = await client.call("orders.get", {"id": order["id"]})
    assert (current["status"], current["version"]) == (order["status"], order["version"])
    await sentinel(client, log, current["seq"] + 1)


async def test_amending_a_cancelled_order_is_invalid(client: ShopClient) -> None:
    contact = await new_contact(client)
    order = await advance(client, await new_order(client, contact["id"]), "cancel")
    with pytest.raises(CallError) as caught:
        await client.call("orders.amend", {"id": order["id"], "version": 2, "notes": "x"})
    assert caught.value.code == "invalid"
    assert caught.value.details["field"] == "status"


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("orders.get", {"id": 4242}),
        ("orders.amend", {"id": 4242, "version": 1, "notes": "x"}),
        ("orders.cancel", {"id": 4242, "version": 1}),
        ("orders.start", {"id": 4242, "version": 1}),
        ("orders.complete", {"id": 4242, "version": 1}),
        ("orders.collect", {"id": 4242, "version": 1}),
        ("orders.place", {"contact_id": 4242, "items": [ITEM]}),
    ],
)
async def test_unknown_ids_are_not_found(client: ShopClient, method: str, params: dict[str, Any]) -> None:
    with pytest.raises(CallError) as caught:
        await client.call(method, params)
    assert caught.value.code == "not_found"
    assert "4242" in caught.value.message
    assert (await client.call("orders.list", {}))["seq"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"items": [{**ITEM, "quantity": -1}]}, "items[0].quantity"),
        ({"items": [{**ITEM, "quantity": "one"}]}, "items[0].quantity"),
        ({"items": [{**ITEM, "unit_price_pence": 12.5}]}, "items[0].unit_price_pence"),
        ({"items": [ITEM, {**ITEM, "description": ""}]}, "items[1].description"),
        ({"items": [{**ITEM, "size": "XL"}]}, "items[0].size"),
        ({"items": []}, "items"),
        ({"items": "a kilt"}, "items"),
        ({"items": None}, "items"),
        ({"notes": 5}, "notes"),
        ({"deliver_to": "Oban"}, "deliver_to"),
        ({"contact_id": "1"}, "contact_id"),
        ({"contact_id": True}, "contact_id"),
    ],
)
async def test_place_refusals_name_the_field_and_change_nothing(
    client: ShopClient, params: dict[str, Any], field: str
) -> None:
    contact = await new_contact(client)
    log = await EventLog.attach(client)
    with pytest.raises(CallError) as caught:
        await client.call("orders.place", {"contact_id": contact["id"], "items": [ITEM], **params})
    assert caught.value.code == "invalid"
    assert caught.value.details["field"] == field
    assert field.split("[")[0] in caught.value.message
    listed = await client.call("orders.list", {})
    assert listed["items"] == [] and listed["seq"] == 1
    await sentinel(client, log, 2)


async def test_place_without_items_and_amend_without_changes_are_invalid(client: ShopClient) -> None:
    contact = await new_contact(client)
    with pytest.raises(CallError) as caught:
        await client.call("orders.place", {"contact_id": contact["id"]})
    assert caught.value.details["field"] == "items"
    with pytest.raises(CallError) as caught:
        await client.call("orders.place", {"items": [ITEM]})
    assert caught.value.details["field"] == "contact_id"
    order = await new_order(client, contact["id"])
    with pytest.raises(CallError) as caught:
        await client.call("orders.amend", {"id": order["id"], "version": 1})
    assert caught.value.code == "invalid"
    with pytest.raises(CallError) as caught:
        await client.call("orders.amend", {"id": order["id"], "version": 1, "items": [{**ITEM, "quantity": 0}]})
    assert caught.value.details["field"] == "items[0].quantity"
    with pytest.raises(CallError) as caught:
        await client.call("orders.start", {"id": order["id"]})
    assert caught.value.details["field"] == "version"
    assert (await client.call("orders.get", {"id": order["id"]}))["version"] == 1


async def test_many_changes_keep_seq_gap_free(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contacts = await asyncio.gather(*(new_contact(client, f"C{i}") for i in range(8)))
    orders = await asyncio.gather(*(new_order(client, c["id"]) for c in contacts))
    await asyncio.gather(*(advance(client, o, "start", "complete") for o in orders))
    await log.wait_for(8 + 8 * 3)
    assert_gap_free(log.seqs)
    assert (await client.call("orders.list", {}))["seq"] == 32
