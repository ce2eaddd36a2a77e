"""The transactional outbox: events reach subscribers in seq order, gap-free and exactly as committed, even when
the service dies between commit and publish or the broker is down while changes are made."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.service.shop_service import ShopService
from app.store.outbox import Outbox
from app.store.shop_store import ShopStore
from tests.conftest import delete_namespace, new_namespace
from tests.shop_helpers import ITEM, EventLog, PrivateRabbit, advance, assert_gap_free, new_contact, new_order, sentinel
from tests.support import wait_until


def first_occurrences(seqs: list[int]) -> list[int]:
    seen: set[int] = set()
    out = []
    for seq in seqs:
        if seq not in seen:
            seen.add(seq)
            out.append(seq)
    return out


async def store_change(store: ShopStore, change: Any, method: str = "contacts.create") -> dict[str, Any]:
    """One change straight through the store, as the service would make it (the store knows no broker)."""
    result: dict[str, Any] = await store.mutate(str(uuid.uuid4()), method, "back-office", change)
    return result


async def test_events_carry_the_committed_state(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contact = await new_contact(client, "Ailsa Sinclair")
    order = await new_order(client, contact["id"], notes="gift")
    await log.wait_for(2)
    placed = log.events[1]
    assert placed["event"] == "order.placed"
    assert placed["data"] == order
    assert placed["actor"] == "guest"
    assert placed["at"] == order["placed_at"]
    assert log.events[0]["data"] == contact


async def test_a_service_dying_between_commit_and_publish_loses_no_event(settings: Settings) -> None:
    mute = ShopService(settings, relay=False)  # serves calls, never publishes
    await mute.start()
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test") as client:
        log = await EventLog.attach(client)
        contact = await new_contact(client, "Lachlan Buchanan")
        other = await new_contact(client, "Iona Grant")
        order = await new_order(client, contact["id"])
        await advance(client, order, "start")
        await client.call("contacts.update", {"id": other["id"], "version": 1, "phone": "01838 400300"})
        assert mute.store is not None
        assert await Outbox(mute.store).unpublished_count() == 5
        await mute.abort()  # a crash: nothing flushed, nothing finished
        assert log.events == []

        revived = ShopService(settings)
        await revived.start()
        try:
            await log.wait_for(5)
            assert log.seqs == [1, 2, 3, 4, 5]
            assert log.names == ["contact.created", "contact.created", "order.placed", "order.started",
                                 "contact.updated"]
            await client.call("contacts.list", {})
            assert revived.store is not None
            await wait_until(lambda: _unpublished(revived.store), 10)
            await sentinel(client, log, 6)  # each event exactly once: the next one is seq 6 and nothing in between
            assert log.seqs == [1, 2, 3, 4, 5, 6]
        finally:
            await revived.stop()


async def _unpublished(store: ShopStore | None) -> bool:
    assert store is not None
    return await Outbox(store).unpublished_count() == 0


async def test_graceful_stop_flushes_the_outbox(settings: Settings) -> None:
    svc = ShopService(settings)
    await svc.start()
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test") as client:
        log = await EventLog.attach(client)
        contacts = await asyncio.gather(*(new_contact(client, f"Guest {i}") for i in range(10)))
        await svc.stop()
        await log.wait_for(10)
        assert_gap_free(log.seqs)
        assert {e["data"]["id"] for e in log.events} == {c["id"] for c in contacts}
    store = await ShopStore.open(settings.database_url)
    try:
        assert await Outbox(store).unpublished_count() == 0
    finally:
        await store.close()


# -- a broker that is down ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_rabbit() -> Iterator[PrivateRabbit]:
    if not PrivateRabbit.available():
        pytest.skip("no /usr/lib/rabbitmq/bin/rabbitmq-server here to run a private RabbitMQ node")
    node = PrivateRabbit()
    try:
        node.start()
        yield node
    finally:
        node.cleanup()


async def test_events_made_while_the_broker_is_down_arrive_after_it_returns(
    private_rabbit: PrivateRabbit, tmp_path: Path
) -> None:
    namespace = new_namespace()
    settings = Settings(broker_url=private_rabbit.url, namespace=namespace,
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}", call_timeout=10)
    svc = ShopService(settings)
    await svc.start()
    client = ShopClient(private_rabbit.url, namespace, app_id="test")
    await client.connect()
    store = await ShopStore.open(settings.database_url)
    audit_queue = f"{namespace}.audit"
    try:
        log = await EventLog.attach(client, queue_name=audit_queue)  # durable: keeps events while we are away
        morag = await new_contact(client, "Morag MacLeod")
        order = await new_order(client, morag["id"])
        await log.wait_for(2)

        await asyncio.to_thread(private_rabbit.stop)
        hamish = await store_change(store, lambda tx: store.create_contact(tx, {"name": "Hamish Stewart"}))
        await store_change(store, lambda tx: store.place_order(tx, hamish["id"], [dict(ITEM)], "by phone"),
                           "orders.place")
        await store_change(store, lambda tx: store.move_order(tx, order["id"], 1, "start"), "orders.start")
        await store_change(store, lambda tx: store.update_contact(tx, morag["id"], 1, {"notes": "VIP"}),
                           "contacts.update")
        assert await Outbox(store).unpublished_count() == 4
        await asyncio.sleep(1.5)  # the relay tries (and fails) to publish while the broker is away
        assert await Outbox(store).unpublished_count() == 4

        await asyncio.to_thread(private_rabbit.start)
        await wait_until(lambda: len(set(log.seqs)) >= 6, timeout=40, interval=0.1)
        assert first_occurrences(log.seqs) == [1, 2, 3, 4, 5, 6]
        by_seq = {e["seq"]: e["event"] for e in log.events}
        assert [by_seq[s] for s in range(1, 7)] == [
            "contact.created", "order.placed", "contact.created", "order.placed", "order.started",
            "contact.updated"]
        # the service took calls again once the broker was back
        assert await client.wait_connected(20)
        await wait_until(lambda: _unpublished(store), 20)
        listed = await client.call("orders.list", {})
        assert listed["seq"] == 6 and [o["status"] for o in listed["items"]] == ["in_progress", "pending"]
    finally:
        await client.close()
        await svc.stop()
        await store.close()
        if private_rabbit.port_open():
            await delete_namespace(private_rabbit.url, namespace, (audit_queue,))


async def test_seq_is_gap_free_across_many_concurrent_writers(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contacts = await asyncio.gather(*(new_contact(client, f"Writer {i}") for i in range(20)))
    results = await asyncio.gather(
        *(client.call("contacts.update", {"id": c["id"], "version": 1, "notes": "a"}) for c in contacts),
        *(client.call("contacts.update", {"id": c["id"], "version": 1, "notes": "b"}) for c in contacts),
        return_exceptions=True,
    )
    assert sum(isinstance(r, dict) for r in results) == 20  # one of each pair wins
    await log.wait_for(40)
    assert (await client.call("contacts.list", {}))["seq"] == 40
    await sentinel(client, log, 41)
    assert_gap_free(log.seqs)


async def test_history_seq_matches_the_events(client: ShopClient) -> None:
    log = await EventLog.attach(client)
    contact = await new_contact(client)
    order = await advance(client, await new_order(client, contact["id"]), "start", "complete")
    await log.wait_for(4)
    fetched = await client.call("orders.get", {"id": order["id"]})
    assert [h["seq"] for h in fetched["history"]] == [e["seq"] for e in log.events if e["event"].startswith("order")]
    assert new_namespace() != new_namespace()
