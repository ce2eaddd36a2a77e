"""The real `kiltshop service` process: kill -9 loses nothing accepted, SIGTERM answers the calls in hand and
exits 0, and two processes on one SQLite database share the work as competing consumers."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names
from app.store.outbox import Outbox
from app.store.shop_store import ShopStore
from tests.shop_helpers import (
    ITEM,
    EventLog,
    RawRpc,
    advance,
    assert_gap_free,
    new_contact,
    new_order,
    queue_state,
    sentinel,
    wait_serving,
)
from tests.support import ServiceProcess, wait_until


def log_text(proc: ServiceProcess) -> str:
    return proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""


async def test_kill_9_loses_nothing_and_the_restarted_service_publishes_the_rest(
    settings: Settings, service_process: ServiceProcess
) -> None:
    service_process.start()
    await wait_serving(settings.broker_url, settings.namespace)
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test") as client:
        log = await EventLog.attach(client)
        morag = await new_contact(client, "Morag MacLeod")
        order = await new_order(client, morag["id"])
        order = await advance(client, order, "start")
        service_process.kill()
        assert service_process.proc is not None and service_process.proc.returncode == -signal.SIGKILL

        # what it accepted is in the database; more changes are made meanwhile (nobody publishes them yet)
        store = await ShopStore.open(settings.database_url)
        try:
            assert (await store.get_order(order["id"]))["status"] == "in_progress"
            assert [c["name"] for c in (await store.list_contacts(None, 10, None))["items"]] == ["Morag MacLeod"]
            await store.mutate(str(uuid.uuid4()), "contacts.create", "back-office",
                               lambda tx: store.create_contact(tx, {"name": "Hamish Stewart"}))
            await store.mutate(str(uuid.uuid4()), "orders.place", "back-office",
                               lambda tx: store.place_order(tx, morag["id"], [dict(ITEM)], ""))
            assert await Outbox(store).unpublished_count() >= 2
        finally:
            await store.close()

        service_process.start()
        await wait_serving(settings.broker_url, settings.namespace)
        # the dead process's relay lease must run out first (10 s) before the new one publishes
        await wait_until(lambda: len(set(log.seqs)) >= 5, timeout=30, interval=0.1)
        unique = sorted(set(log.seqs))
        assert unique == [1, 2, 3, 4, 5]
        assert [s for i, s in enumerate(log.seqs) if s not in log.seqs[:i]] == unique  # first arrivals in order
        by_seq = {e["seq"]: e["event"] for e in log.events}
        assert [by_seq[s] for s in unique] == [
            "contact.created", "order.placed", "order.started", "contact.created", "order.placed"]
        listed = await client.call("orders.list", {})
        assert [o["number"] for o in listed["items"]] == ["K-0001", "K-0002"]
        assert listed["seq"] == 5


async def test_sigterm_answers_the_calls_in_hand_and_exits_0(
    settings: Settings, service_process: ServiceProcess
) -> None:
    service_process.start()
    await wait_serving(settings.broker_url, settings.namespace)
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test", timeout=20) as client, \
            RawRpc(settings.broker_url, settings.namespace) as raw:
        log = await EventLog.attach(client)
        # no more than the service's prefetch (32), each publish confirmed by the broker before the signal, so
        # that all of them are in the service's hands, none left queued
        sent = [await raw.publish("contacts.create", {"name": f"Customer {i}"}, message_id=uuid.uuid4().hex)
                for i in range(30)]
        await wait_until(lambda: bool(raw.replies), timeout=10, interval=0.002)
        assert service_process.proc is not None
        service_process.proc.send_signal(signal.SIGTERM)
        in_flight = sum(cid not in raw.replies for cid in sent)
        results = [await raw.reply(cid, timeout=25) for cid in sent]
        errors = [r for r in results if not r["ok"]]
        assert errors == [], errors[:3]
        assert len({r["result"]["id"] for r in results}) == 30
        assert in_flight > 0, "every call was answered before SIGTERM: nothing was in flight"
        exit_code = await asyncio.to_thread(service_process.proc.wait, 20)
        assert exit_code == 0, log_text(service_process)
        assert "Traceback" not in log_text(service_process)
        # its events were flushed before it went
        await log.wait_for(30)
        assert_gap_free(log.seqs)
    for queue in Names(settings.namespace).rpc_bindings():
        assert await queue_state(settings.broker_url, queue) == (0, 0)


async def test_two_service_processes_compete_for_calls_on_one_sqlite_database(
    settings: Settings, service_process: ServiceProcess, tmp_path: Path
) -> None:
    second = ServiceProcess(settings, tmp_path / "service-2.log")
    service_process.start()  # both start at once on a fresh database
    second.start()
    try:
        await wait_serving(settings.broker_url, settings.namespace, consumers=2, timeout=30)
        async with ShopClient(settings.broker_url, settings.namespace, app_id="test", timeout=30) as client:
            log = await EventLog.attach(client)
            contacts = await asyncio.gather(*(new_contact(client, f"Customer {i}") for i in range(30)))
            orders = await asyncio.gather(*(new_order(client, contacts[i % 30]["id"]) for i in range(60)))
            moved = await asyncio.gather(*(advance(client, o, "start") for o in orders[:30]))
            # the same placement sent twice at once to (probably) both processes still places one order
            message_id = str(uuid.uuid4())
            twice = await asyncio.gather(*(client.call("orders.place", {"contact_id": contacts[0]["id"],
                                                                        "items": [ITEM]}, message_id=message_id)
                                           for _ in range(2)))
            assert twice[0] == twice[1]
            assert {o["status"] for o in moved} == {"in_progress"}

            items: list[dict[str, Any]] = []
            items, seq = await client.list_all("orders.list")
            numbers = [o["number"] for o in items]
            assert len(numbers) == len(set(numbers)) == 61
            assert sorted(numbers) == [f"K-{n:04d}" for n in range(1, 62)]
            assert seq == 30 + 60 + 30 + 1

            await log.wait_for(seq, timeout=30)
            await sentinel(client, log, seq + 1)
            assert_gap_free(log.seqs)  # published once each, in order, whichever process relayed
            served = [log_text(p) for p in (service_process, second)]
            assert all("Traceback" not in text for text in served), served
    finally:
        second.terminate()
