"""Following the shop without Qt: snapshot + events, duplicates ignored, gaps and reconnects resynced."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import aio_pika

from app.client.live_mirror import LiveShop, Mirror
from app.client.role_session import RoleSession
from app.client.shop_client import ConnectionState, ShopClient
from app.config import Settings
from app.contract import CONTENT_TYPE, Names
from tests.shop_helpers import wait_taken
from tests.support import DatabaseLock, TcpProxy, wait_until


async def publish_event(settings: Settings, event: dict[str, Any]) -> None:
    """Put an event on <ns>.events as the service's relay does (confirmed by the broker before this returns)."""
    connection = await aio_pika.connect(settings.broker_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).events_exchange, ensure=False)
        await exchange.publish(aio_pika.Message(json.dumps(event).encode(), content_type=CONTENT_TYPE,
                                                type=event["event"], headers={"seq": event["seq"]}),
                               routing_key=event["event"])
    finally:
        await connection.close()


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
        resyncs = live.resyncs
        # A redelivered seq 1, on the wire as the service sends events: ignored however new it claims to be.
        await publish_event(settings, {"seq": 1, "event": "contact.updated",
                                       "data": {**created, "name": "Old News", "version": 9}})
        # Events reach the mirror in the order they were published: once seq 2 is in, the copy was dealt with.
        second = await client.call("contacts.create", {"name": "Second Person"})
        await wait_until(lambda: second["id"] in contacts.items)
        assert contacts.items[created["id"]]["name"] == "Hamish Grant"
        assert (live.seq, live.resyncs) == (2, resyncs)  # a duplicate is no gap: no reload either
        # Seq 5 after seq 2: 3 and 4 went missing on the way, so the mirror reloads instead of applying it.
        await publish_event(settings, {"seq": 5, "event": "contact.created", "data": {**second, "id": 999}})
        await wait_until(lambda: live.resyncs > resyncs)
        assert 999 not in contacts.items  # the seq-5 event was never applied
        assert sorted(contacts.items) == sorted([created["id"], second["id"]])
        assert live.seq == 2  # the snapshot's seq


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
    client: ShopClient, settings: Settings
) -> None:
    parts = urlsplit(settings.broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    customer = ShopClient(proxy.url(settings.broker_url), settings.namespace, timeout=10)
    await customer.connect()
    try:
        contact = await client.call("contacts.create", {"name": "Fraser Grant"})
        database = DatabaseLock(settings.database_url)
        await database.hold()  # the service takes the call but cannot finish it yet
        try:
            before = proxy.bytes_down
            placing = asyncio.ensure_future(customer.call("orders.place", {"contact_id": contact["id"],
                                                                           "items": [KILT]}))
            await wait_taken(proxy, before, settings.broker_url, Names(settings.namespace).rpc_queue("orders"))
            await proxy.cut()  # the reply will have nowhere to go
            await wait_until(lambda: customer.state == ConnectionState.RECONNECTING)
        finally:
            # soon: the service's write waits for a held database only DATABASE_WAIT_S (5 s), then fails
            await database.release()

        async def placed() -> bool:
            return len((await client.call("orders.list", {"contact_id": contact["id"]}))["items"]) == 1

        await wait_until(placed)  # the service commits the order now, and its reply is lost
        await proxy.restore()
        order = await asyncio.wait_for(placing, 20)
        orders = await client.call("orders.list", {"contact_id": contact["id"]})
        assert [o["id"] for o in orders["items"]] == [order["id"]]  # one kilt, not two
    finally:
        await customer.close()
        await proxy.close()
