"""contacts.* end to end through the real broker and service: create, get, list (search, paging), update,
version conflicts, validation and unknown ids."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from app.client.shop_client import CallError, ShopClient
from tests.shop_helpers import EventLog, assert_gap_free, new_contact, sentinel


async def test_create_get_update_round_trip(client: ShopClient) -> None:
    log = await EventLog.attach(client, ["contact.*"])
    created = await client.call(
        "contacts.create",
        {"name": " Hamish Campbell ", "email": "hamish@example.co.uk", "phone": "01838 400123",
         "address": "3 Station Road, Tyndrum", "measurements": {"waist_cm": 92, "length_cm": 61.5},
         "notes": "Prefers a box pleat."},
    )
    assert created["name"] == "Hamish Campbell"
    assert created["version"] == 1
    assert created["measurements"] == {"waist_cm": 92.0, "hip_cm": None, "length_cm": 61.5}
    assert created["updated_by"] == "guest"

    fetched = await client.call("contacts.get", {"id": created["id"]})
    assert {k: fetched[k] for k in created} == created
    assert [h["action"] for h in fetched["history"]] == ["created"]
    assert fetched["seq"] == 1

    updated = await client.call(
        "contacts.update", {"id": created["id"], "version": 1, "phone": "07700 900123", "measurements": None}
    )
    assert updated["version"] == 2
    assert updated["phone"] == "07700 900123"
    assert updated["email"] == "hamish@example.co.uk"  # untouched fields stay
    assert updated["measurements"] == {"waist_cm": None, "hip_cm": None, "length_cm": None}

    fetched = await client.call("contacts.get", {"id": created["id"]})
    assert fetched["version"] == 2 and fetched["phone"] == "07700 900123"
    assert [(h["seq"], h["action"]) for h in fetched["history"]] == [(1, "created"), (2, "updated")]
    assert fetched["history"][1]["changes"]["phone"] == ["01838 400123", "07700 900123"]

    await log.wait_for(2)
    assert log.names == ["contact.created", "contact.updated"]
    assert_gap_free(log.seqs)
    assert log.events[1]["data"]["phone"] == "07700 900123"
    assert log.events[1]["data"]["version"] == 2
    assert log.events[1]["actor"] == "guest"


async def test_update_with_no_real_change_keeps_the_version_and_emits_nothing(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contact = await new_contact(client, "Isla Grant", email="isla@example.co.uk")
    same = await client.call("contacts.update", {"id": contact["id"], "version": 1, "email": "isla@example.co.uk"})
    assert same["version"] == 1
    await sentinel(client, log, 2)


async def test_list_search_and_paging(client: ShopClient) -> None:
    names = [f"Customer {i:02d}" for i in range(12)]
    ids = [(await new_contact(client, n, email=f"c{i}@example.org"))["id"] for i, n in enumerate(names)]
    await new_contact(client, "Fiona Munro", address="7 Loch View, Oban")

    everything = await client.call("contacts.list", {})
    assert len(everything["items"]) == 13
    assert everything["next_cursor"] is None
    assert everything["seq"] == 13

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = await client.call("contacts.list", {"limit": 5, **({"cursor": cursor} if cursor else {})})
        pages += 1
        assert len(page["items"]) <= 5
        seen.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert pages == 3
    assert seen == sorted(seen) == [c["id"] for c in everything["items"]]

    # q looks in name, e-mail, phone and address, case-insensitively
    assert [c["name"] for c in (await client.call("contacts.list", {"q": "OBAN"}))["items"]] == ["Fiona Munro"]
    assert [c["id"] for c in (await client.call("contacts.list", {"q": "c3@"}))["items"]] == [ids[3]]
    assert len((await client.call("contacts.list", {"q": "customer 1"}))["items"]) == 2  # 10 and 11
    assert (await client.call("contacts.list", {"q": "nobody at all"}))["items"] == []

    for bad, field in (({"limit": 501}, "limit"), ({"limit": 0}, "limit"), ({"cursor": "abc"}, "cursor"),
                       ({"limit": "5"}, "limit"), ({"sort": "name"}, "sort")):
        with pytest.raises(CallError) as caught:
            await client.call("contacts.list", bad)
        assert caught.value.code == "invalid"
        assert caught.value.details["field"] == field
    page = await client.call("contacts.list", {"limit": 500})
    assert len(page["items"]) == 13


async def test_two_editors_with_the_same_version_exactly_one_wins(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contact = await new_contact(client, "Angus Ross")

    async def edit(name: str) -> dict[str, Any] | CallError:
        try:
            result: dict[str, Any] = await client.call(
                "contacts.update", {"id": contact["id"], "version": 1, "name": name}
            )
            return result
        except CallError as exc:
            return exc

    results = await asyncio.gather(edit("Angus Ross (shop)"), edit("Angus Ross (phone)"))
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, CallError)]
    assert len(wins) == 1 and len(losses) == 1
    assert losses[0].code == "conflict"
    assert losses[0].details["current"]["version"] == 2
    assert losses[0].details["current"]["name"] == wins[0]["name"]
    assert losses[0].details["your_version"] == 1
    assert "version 1" in losses[0].message and "version 2" in losses[0].message

    current = await client.call("contacts.get", {"id": contact["id"]})
    assert current["name"] == wins[0]["name"] and current["version"] == 2
    await log.wait_for(2)
    await sentinel(client, log, 3)  # exactly one contact.updated between create and the sentinel
    assert log.names == ["contact.created", "contact.updated", "contact.created"]


async def test_stale_version_is_a_conflict_and_changes_nothing(client: ShopClient) -> None:
    contact = await new_contact(client, "Shona Drummond")
    await client.call("contacts.update", {"id": contact["id"], "version": 1, "notes": "first"})
    with pytest.raises(CallError) as caught:
        await client.call("contacts.update", {"id": contact["id"], "version": 1, "notes": "second"})
    assert caught.value.code == "conflict"
    assert caught.value.details["current"]["notes"] == "first"
    assert (await client.call("contacts.get", {"id": contact["id"]}))["notes"] == "first"


async def test_unknown_contact_is_not_found(client: ShopClient) -> None:
    for method, params in (("contacts.get", {"id": 9999}),
                           ("contacts.update", {"id": 9999, "version": 1, "name": "X"})):
        with pytest.raises(CallError) as caught:
            await client.call(method, params)
        assert caught.value.code == "not_found", method
        assert "9999" in caught.value.message
        assert caught.value.details["id"] == 9999


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"email": "morag@example.co.uk"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Morag", "email": "morag.example.co.uk"}, "email"),
        ({"name": 42}, "name"),
        ({"name": "Morag", "measurements": {"waist_cm": "eighty"}}, "measurements.waist_cm"),
        ({"name": "Morag", "measurments": {}}, "measurments"),
        ({"name": "Morag", "phone": "ring the bell"}, "phone"),
    ],
)
async def test_create_refusals_name_the_field_and_change_nothing(
    client: ShopClient, params: dict[str, Any], field: str
) -> None:
    log = await EventLog.attach(client)
    before = await client.call("contacts.list", {})
    with pytest.raises(CallError) as caught:
        await client.call("contacts.create", params)
    assert caught.value.code == "invalid"
    assert caught.value.details["field"] == field
    assert f"'{field}'" in caught.value.message
    after = await client.call("contacts.list", {})
    assert after["seq"] == before["seq"] == 0
    assert after["items"] == []
    await sentinel(client, log, 1)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"name": ""}, "name"),
        ({"name": ["Morag"]}, "name"),
        ({"version": "1"}, "version"),
        ({"colour": "blue"}, "colour"),
        ({"id": None}, "id"),
    ],
)
async def test_update_refusals_name_the_field_and_change_nothing(
    client: ShopClient, params: dict[str, Any], field: str
) -> None:
    contact = await new_contact(client, "Morag MacLeod", email="morag@example.co.uk")
    log = await EventLog.attach(client)
    with pytest.raises(CallError) as caught:
        await client.call("contacts.update", {"id": contact["id"], "version": 1, **params})
    assert caught.value.code == "invalid"
    assert caught.value.details["field"] == field
    current = await client.call("contacts.get", {"id": contact["id"]})
    assert current["version"] == 1 and current["email"] == "morag@example.co.uk" and current["name"] == "Morag MacLeod"
    assert current["seq"] == 1
    await sentinel(client, log, 2)


async def test_create_is_idempotent_per_message_id(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    message_id = str(uuid.uuid4())
    first = await client.call("contacts.create", {"name": "Duncan Munro"}, message_id=message_id)
    again = await client.call("contacts.create", {"name": "Duncan Munro"}, message_id=message_id)
    assert again == first
    assert len((await client.call("contacts.list", {}))["items"]) == 1
    # the same message_id for another method is refused, not silently answered with the old reply
    with pytest.raises(CallError) as caught:
        await client.call("contacts.update", {"id": first["id"], "version": 1, "name": "D"}, message_id=message_id)
    assert caught.value.code == "invalid" and caught.value.details["field"] == "message_id"
    await sentinel(client, log, 2)
