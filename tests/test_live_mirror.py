"""Following the shop without Qt: snapshot + events, duplicates ignored, gaps and reconnects resynced."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from app.client.live_mirror import LiveShop, Mirror
from app.client.role_session import RoleSession
from app.client.shop_client import ConnectionState, ShopClient
from app.config import Settings
from tests.support import TcpProxy, wait_until

KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}


async def test_mirror_follows_changes_made_elsewhere(client: ShopClient, settings: Settings) -> None:
    await client.call("contacts.create", {"name": "Before Snapshot"})
    async with ShopClient(settings.broker_url, settings.namespace) as watcher:
        contacts = Mirror("contact", "contacts.list")
        live = LiveShop(watcher, [contacts])
        await live.start()
        assert [c["name"] for c in contacts.items.values()] == ["Before Snapshot"]
        created = await client.call("contacts.create", {"name": "Isla Munro"})
        await client.call("contacts.update", {"id": created["id"], "version": 1, "phone": "01838 400 123"})
        await wait_until(lambda: contacts.items.get(created["id"], {}).get("phone") == "01838 400 123")
        assert live.seq == 3


async def test_duplicates_are_ignored_and_a_gap_reloads(client: ShopClient, settings: Settings) -> None:
    async with ShopClient(settings.broker_url, settings.namespace) as watcher:
        contacts = Mirror("contact", "contacts.list")
        live = LiveShop(watcher, [contacts])
        await live.start()
        created = await client.call("contacts.create", {"name": "Hamish Grant"})
        await wait_until(lambda: live.seq == 1)
        stale = {"seq": 1, "event": "contact.updated", "data": {**created, "name": "Old News", "version": 9}}
        live._on_event(stale)  # a redelivered seq: ignored however new it claims to be
        assert contacts.items[created["id"]]["name"] == "Hamish Grant"
        resyncs = live.resyncs
        # Seq 2 and 3 happen while this mirror "misses" them: it sees only seq 3 and must reload.
        await client.call("contacts.update", {"id": created["id"], "version": 1, "name": "Hamish J. Grant"})
        updated = await client.call("contacts.create", {"name": "Third Person"})
        live._on_event({"seq": 5, "event": "contact.created", "data": {**updated, "id": 999}})
        await wait_until(lambda: live.resyncs > resyncs)
        assert contacts.items[created["id"]]["name"] == "Hamish J. Grant"
        assert 999 not in contacts.items  # the forged seq-5 event was never applied
        assert live.seq >= 3


async def test_reconnect_resyncs_changes_made_while_cut_off(client: ShopClient, settings: Settings) -> None:
    parts = urlsplit(settings.broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    watcher = ShopClient(proxy.url(settings.broker_url), settings.namespace, timeout=3)
    await watcher.connect()
    try:
        session = RoleSession(watcher, "workshop")
        await session.start()
        contact = await client.call("contacts.create", {"name": "Eilidh Ross"})
        first = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
        await wait_until(lambda: first["id"] in session.orders.items)

        await proxy.cut()
        await wait_until(lambda: watcher.state == ConnectionState.RECONNECTING)
        # Meanwhile the shop goes on: these events never reach the cut-off client's queue.
        second = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
        await client.call("orders.cancel", {"id": first["id"], "version": first["version"]})
        renamed = await client.call("contacts.update", {"id": contact["id"], "version": 1, "name": "Eilidh Ross-Munro"})

        await proxy.restore()
        await wait_until(lambda: watcher.state == ConnectionState.CONNECTED, timeout=20)
        await wait_until(lambda: second["id"] in session.orders.items, timeout=20)
        assert first["id"] not in session.orders.items  # cancelled: off the board
        assert session.contacts.items[contact["id"]]["name"] == renamed["name"]
        # and it is live again afterwards
        third = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
        await wait_until(lambda: third["id"] in session.orders.items)
    finally:
        await watcher.close()
        await proxy.close()


async def test_a_reply_lost_with_the_connection_is_fetched_again_not_done_twice(
    client: ShopClient, settings: Settings, service: Any
) -> None:
    parts = urlsplit(settings.broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    customer = ShopClient(proxy.url(settings.broker_url), settings.namespace, timeout=10)
    await customer.connect()
    try:
        contact = await client.call("contacts.create", {"name": "Fraser Grant"})
        async with service.store._write_lock:  # the service takes the call but cannot finish it yet
            placing = asyncio.ensure_future(customer.call("orders.place", {"contact_id": contact["id"],
                                                                           "items": [KILT]}))
            await asyncio.sleep(0.3)
            await proxy.cut()  # the reply will have nowhere to go
            await wait_until(lambda: customer.state == ConnectionState.RECONNECTING)
        await asyncio.sleep(0.3)  # the service commits the order now, and its reply is lost
        await proxy.restore()
        order = await asyncio.wait_for(placing, 20)
        orders = await client.call("orders.list", {"contact_id": contact["id"]})
        assert [o["id"] for o in orders["items"]] == [order["id"]]  # one kilt, not two
    finally:
        await customer.close()
        await proxy.close()
