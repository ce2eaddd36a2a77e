"""Faults, against real parts only: the broker restarted mid-stream, the service killed with SIGKILL at random
points, a client away while notices pile up, abandoned queues, a fuzz of malformed requests, and a load run.

What each test proves is the promise of the same name in docs/reliability.md. Figures (how many retries,
calls per second, latencies) are printed, never asserted: run with -s to see them.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.client.notices import Notice, NoticeFeed, notice_queue_name
from app.client.role_session import RoleSession
from app.client.shop_client import ConnectionState, ServiceUnavailable, ShopClient
from app.config import Settings
from app.contract import CONTENT_TYPE, ERROR_CODES, METHODS, MUTATING_METHODS, RPC_GROUPS, Names
from app.messaging.outbox_relay import OutboxRelay
from app.messaging.topology import declare_exchanges
from app.messaging.wire import MAX_BODY_BYTES, loads
from app.service.shop_service import ShopService
from app.store.outbox import Outbox
from app.store.shop_store import ShopStore
from tests.conftest import delete_namespace, new_namespace
from tests.shop_helpers import (
    ITEM,
    EventLog,
    PrivateRabbit,
    advance,
    bare_publish,
    new_contact,
    new_order,
    queue_state,
    sentinel,
    wait_serving,
    wait_taken,
)
from tests.support import DatabaseLock, ServiceProcess, TcpProxy, wait_until

SEED = 20260314
T = TypeVar("T")


# -- a workload that makes real changes and remembers what it made --------------------------------------


class Workload:
    """Changes as one user makes them, each with a message_id of its own, and every entity as last replied.

    With retry_for, a change that got no reply (timeout, connection lost) is sent again with the *same*
    message_id until it gets one: the service runs it at most once and answers a repeat with the first reply.
    Each workload has contacts and orders of its own, so nothing it does conflicts with another workload.
    """

    MOVES: ClassVar[dict[str, str]] = {
        "start": "pending", "complete": "in_progress", "collect": "completed", "cancel": "pending"}

    def __init__(self, client: ShopClient, tag: str, rng: random.Random, *, retry_for: float = 0.0,
                 timeout: float = 3.0, reads: bool = False) -> None:
        self.client = client
        self.tag = tag
        self.rng = rng
        self.retry_for = retry_for
        self.timeout = timeout
        self.reads = reads
        self.contacts: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.placements = 0
        self.changes = 0
        self.reads_done = 0
        self.retries = 0
        self.latencies: list[float] = []
        self._n = 0

    async def call(self, method: str, params: dict[str, Any], message_id: str | None = None) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for
        while True:
            started = time.perf_counter()
            try:
                result = await self.client.call(method, params, timeout=self.timeout, message_id=message_id)
            except ServiceUnavailable:
                if loop.time() > deadline:
                    raise
                self.retries += 1
                await asyncio.sleep(0.2)
                continue
            self.latencies.append(time.perf_counter() - started)
            return result

    async def change(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(method, params, message_id=str(uuid.uuid4()))
        self.changes += 1
        (self.contacts if method.startswith("contacts.") else self.orders)[result["id"]] = result
        return result

    def _orders_in(self, status: str) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["status"] == status]

    async def step(self) -> None:
        self._n += 1
        n = self._n
        if not self.contacts:
            await self.change("contacts.create", {"name": f"{self.tag} customer {n}", "phone": f"01838 {n:06d}"})
            return
        actions = ["create", "update", "place", "amend", "start", "complete", "collect", "cancel"]
        weights = [6, 10, 25, 12, 15, 12, 8, 4]
        if self.reads:
            actions.append("read")
            weights.append(40)
        action = self.rng.choices(actions, weights)[0]
        if action == "read":
            await self._read()
            return
        contact = self.contacts[self.rng.choice(sorted(self.contacts))]
        if action == "create":
            await self.change("contacts.create", {"name": f"{self.tag} customer {n}", "phone": f"01838 {n:06d}"})
        elif action == "update":
            await self.change("contacts.update", {"id": contact["id"], "version": contact["version"],
                                                  "notes": f"note {n}"})
        elif action in ("amend", *self.MOVES) and (
                candidates := self._orders_in(self.MOVES.get(action, "pending"))):
            order = self.rng.choice(candidates)
            params = {"id": order["id"], "version": order["version"]}
            if action == "amend":
                params["notes"] = f"amended {n}"
            await self.change(f"orders.{action}", params)
        else:
            self.placements += 1
            await self.change("orders.place", {"contact_id": contact["id"], "items": [dict(ITEM)],
                                               "notes": f"{self.tag} placement {n}"})

    async def _read(self) -> None:
        kind = self.rng.randrange(5)
        if kind == 0 or not self.orders:
            await self.call("contacts.get", {"id": self.rng.choice(sorted(self.contacts))})
        elif kind == 1:
            await self.call("orders.get", {"id": self.rng.choice(sorted(self.orders))})
        elif kind == 2:
            await self.call("orders.list", {"contact_id": self.rng.choice(sorted(self.contacts)), "limit": 50})
        elif kind == 3:
            await self.call("contacts.list", {"q": self.tag, "limit": 20})
        else:
            await self.call("pickups.list", {"limit": 20})
        self.reads_done += 1


async def keep_working(work: Workload, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await work.step()


def merged(works: list[Workload], kind: str) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for work in works:
        out.update(getattr(work, kind))
    return out


async def assert_store_is_what_was_done(client: ShopClient, works: list[Workload]) -> int:
    """Every change is in the store exactly once: each entity is as its last reply said (a change run twice
    would show in its version), and there is no entity nobody made. Returns the store's seq."""
    contacts, seq = await client.list_all("contacts.list")
    orders, order_seq = await client.list_all("orders.list")
    assert seq == order_seq, "the shop changed while it was being checked"
    assert {c["id"]: c for c in contacts} == merged(works, "contacts")
    assert {o["id"]: o for o in orders} == merged(works, "orders")
    assert len(orders) == sum(w.placements for w in works)  # no order lost, none doubled
    assert seq == sum(w.changes for w in works)  # every change made exactly one event
    return seq


def first_occurrences(seqs: list[int]) -> list[int]:
    seen: set[int] = set()
    out = []
    for seq in seqs:
        if seq not in seen:
            seen.add(seq)
            out.append(seq)
    return out


def assert_every_seq_once_in_order(log: EventLog, last: int) -> None:
    """At least once each, duplicates identical, and deduplicated by seq exactly 1..last in order."""
    assert first_occurrences(log.seqs) == list(range(1, last + 1))
    by_seq: dict[int, dict[str, Any]] = {}
    for event in log.events:
        assert by_seq.setdefault(int(event["seq"]), event) == event, f"two different events with seq {event['seq']}"


def report(title: str, **figures: Any) -> None:
    print(f"\n[{title}] " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


# -- the broker restarted while everyone is mid-stream -------------------------------------------------


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


def mirror_differences(session: RoleSession, contacts: list[dict[str, Any]], orders: list[dict[str, Any]],
                       seq: int) -> list[str]:
    wrong = []
    if session.live.seq != seq:
        wrong.append(f"{session.role}: seq {session.live.seq}, the store's is {seq}")
    if session.contacts.items != {c["id"]: c for c in contacts if session.contacts.include(c)}:
        wrong.append(f"{session.role}: contacts differ")
    expected = {o["id"]: o for o in orders if session.orders.include(o)}
    if session.orders.items != expected:
        wrong.append(f"{session.role}: orders differ ({len(session.orders.items)} held, {len(expected)} expected)")
    return wrong


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_broker_restart_mid_stream_loses_nothing_and_every_mirror_catches_up(
    private_rabbit: PrivateRabbit, tmp_path: Path
) -> None:
    node = private_rabbit
    namespace = new_namespace()
    settings = Settings(broker_url=node.url, namespace=namespace,
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}", call_timeout=5)
    service = ShopService(settings)
    await service.start()
    clients: list[ShopClient] = []
    stop = asyncio.Event()
    writer: asyncio.Task[None] | None = None
    try:
        async def open_client(app_id: str, timeout: float = 5) -> ShopClient:
            client = ShopClient(node.url, namespace, app_id=app_id, timeout=timeout)
            await client.connect()
            clients.append(client)
            return client

        # a durable named queue bound to all events: it must get every seq, even those sent while it was cut off
        audit = await EventLog.attach(await open_client("test-audit"), queue_name=f"{namespace}.faults.audit")
        sessions = []
        for role in ("sales", "workshop", "shipping", "store"):
            session = RoleSession(await open_client(f"test-{role}"), role)
            await session.start()
            sessions.append(session)
        work = Workload(await open_client("test-writer", 3), "w", random.Random(SEED), retry_for=120)
        writer = asyncio.create_task(keep_working(work, stop))

        await wait_until(lambda: work.changes >= 30 or writer.done(), timeout=30)
        before = work.changes
        await asyncio.to_thread(node.stop)
        await asyncio.to_thread(node.start)
        at_restart = work.changes
        await wait_until(lambda: work.changes >= at_restart + 30 or writer.done(), timeout=90)
        stop.set()
        await writer  # re-raises whatever stopped the writer
        report("broker restart", changes=work.changes, before_stop=before, during_outage=at_restart - before,
               retries=work.retries, resyncs=[s.live.resyncs for s in sessions])

        checker = clients[-1]
        seq = await assert_store_is_what_was_done(checker, [work])
        contacts, _ = await checker.list_all("contacts.list")
        orders, _ = await checker.list_all("orders.list")

        def converged() -> bool:
            return not any(mirror_differences(s, contacts, orders, seq) for s in sessions)

        try:
            await wait_until(converged, timeout=40, interval=0.1)
        except AssertionError:
            raise AssertionError([d for s in sessions for d in mirror_differences(s, contacts, orders, seq)]) from None
        await wait_until(lambda: set(range(1, seq + 1)) <= set(audit.seqs), timeout=40, interval=0.1)
        assert_every_seq_once_in_order(audit, seq)
        report("broker restart", audit_deliveries=len(audit.events), distinct=seq)
    finally:
        stop.set()
        if writer is not None and not writer.done():
            writer.cancel()
        for client in clients:
            await client.close()
        await service.stop()


# -- one relay at a time -------------------------------------------------------------------------------


async def test_the_relay_lease_has_one_holder_at_a_time(tmp_path: Path) -> None:
    store = await ShopStore.open(f"sqlite+aiosqlite:///{tmp_path / 'lease.sqlite3'}")
    try:
        lease = Outbox(store)
        assert await lease.take_lease("relay-a", 0.5)
        assert not await lease.take_lease("relay-b", 6)  # held: b must wait
        assert await lease.take_lease("relay-a", 0.5)  # the holder renews it
        await asyncio.sleep(0.6)  # a crashed holder never releases: its lease runs out
        assert await lease.take_lease("relay-b", 6)
        assert not await lease.take_lease("relay-a", 6)
        await lease.release_lease("relay-b")  # a graceful stop hands it on at once
        assert await lease.take_lease("relay-a", 6)
    finally:
        await store.close()


async def test_one_relay_at_a_time_publishes_each_event_once(service: ShopService, settings: Settings) -> None:
    """Two more relays on the service's own database: the lease lets one publish, so every event goes out once."""
    assert service.store is not None
    store = service.store
    connection = await aio_pika.connect_robust(settings.broker_url)
    relays: list[OutboxRelay] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        channel = await connection.channel(publisher_confirms=True)
        events = (await declare_exchanges(channel, Names(settings.namespace)))["events"]
        async with ShopClient(settings.broker_url, settings.namespace, app_id="test-relays") as client:
            log = await EventLog.attach(client)
            relays = [OutboxRelay(Outbox(store), events, holder=f"extra-{i}") for i in range(2)]
            for relay in relays:
                store.on_commit(relay.wake)
            tasks = [asyncio.create_task(r.run()) for r in relays]
            made = await asyncio.gather(*(new_contact(client, f"Relayed {i}") for i in range(60)))
            await log.wait_for(60)
            await sentinel(client, log, 61)
            assert log.seqs == list(range(1, 62)), log.seqs  # three relays, and still each event exactly once
            assert {e["data"]["id"] for e in log.events[:60]} == {c["id"] for c in made}
            report("relays", published_by=[service.relay.published if service.relay else None,
                                           *(r.published for r in relays)])
    finally:
        for relay in relays:
            relay.request_stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await connection.close()


# -- the service killed at random points ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_the_service_killed_at_random_points_loses_and_doubles_nothing(
    settings: Settings, service_process: ServiceProcess
) -> None:
    rng = random.Random(SEED)
    events_queue = f"{settings.namespace}.faults.events"
    service_process.start()
    await wait_serving(settings.broker_url, settings.namespace, timeout=30)
    writer_client = ShopClient(settings.broker_url, settings.namespace, app_id="test-writer", timeout=3)
    audit_client = ShopClient(settings.broker_url, settings.namespace, app_id="test-audit", timeout=5)
    await writer_client.connect()
    await audit_client.connect()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        audit = await EventLog.attach(audit_client, queue_name=events_queue)
        # a short timeout: calls in the dead service's hands go unanswered and are sent again, while the first
        # copy may still be served by the next service (the store's message_id ledger keeps it to one run)
        works = [Workload(writer_client, f"w{i}", random.Random(SEED + i), retry_for=90, timeout=1.5)
                 for i in range(6)]
        tasks = [asyncio.create_task(keep_working(w, stop)) for w in works]

        def changes() -> int:
            return sum(w.changes for w in works)

        kills: list[int] = []
        outages: list[float] = []
        database = DatabaseLock(settings.database_url)
        for _ in range(5):
            await asyncio.sleep(rng.uniform(0.2, 1.5))  # while calls are in the service's hands
            if rng.random() < 0.6:
                # Calls pile up behind a held database; let go, and kill while they commit and reply one by one:
                # the likeliest moment for a change committed whose reply never left (its retry must not rerun it).
                await database.hold()
                await asyncio.sleep(0.3)
                await database.release()
                await asyncio.sleep(rng.uniform(0.0, 0.03))
            kills.append(changes())
            killed_at = time.monotonic()
            service_process.kill()
            await asyncio.sleep(rng.uniform(0.0, 2.5))  # sometimes shorter than a call's timeout, sometimes longer
            service_process.start()
            await wait_serving(settings.broker_url, settings.namespace, timeout=30)
            outages.append(round(time.monotonic() - killed_at, 1))
            await wait_until(_progressed(changes, tasks), timeout=30)  # the writers got on after the restart
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        report("service killed", kills=len(kills), changes_at_kills=kills, outages_s=outages, changes=changes(),
               retries=sum(w.retries for w in works))

        seq = await assert_store_is_what_was_done(writer_client, works)
        await wait_until(lambda: set(range(1, seq + 1)) <= set(audit.seqs), timeout=40, interval=0.1)
        assert_every_seq_once_in_order(audit, seq)
        # the database and the events agree: each entity's last event carries it as the store has it now
        last: dict[tuple[str, int], dict[str, Any]] = {}
        for event in sorted(audit.events, key=lambda e: int(e["seq"])):
            last[(event["event"].split(".")[0], event["data"]["id"])] = event["data"]
        for (kind, entity_id), data in last.items():
            fetched = await writer_client.call(f"{kind}s.get", {"id": entity_id})
            assert {k: fetched.get(k) for k in data} == data  # get adds history and more; the entity is the same
        assert {k for k in last if k[0] == "order"} == {("order", i) for i in merged(works, "orders")}
        report("service killed", audit_deliveries=len(audit.events), distinct=seq)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await writer_client.close()
        await audit_client.close()
        await delete_namespace(settings.broker_url, settings.namespace, (events_queue,))


def _progressed(changes: Any, tasks: list[asyncio.Task[None]]) -> Any:
    at = changes()
    return lambda: changes() > at or any(t.done() for t in tasks)


# -- a reply lost on its way -----------------------------------------------------------------------------


async def test_a_lost_reply_is_retried_with_the_same_message_id_and_runs_once(
    service: ShopService, client: ShopClient, settings: Settings
) -> None:
    """The order is placed, but the caller's connection dies before the reply arrives (the reply is dropped with
    its queue). The caller sends the same request again with the same message_id: it gets the first reply, and
    there is one order."""
    log = await EventLog.attach(client)  # first: the contact's event may be published after new_contact returns
    contact = await new_contact(client, "Morven Keith")
    parts = urlsplit(settings.broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    writer = ShopClient(proxy.url(settings.broker_url), settings.namespace, app_id="test-writer", timeout=5)
    await writer.connect()
    database = DatabaseLock(settings.database_url)
    params = {"contact_id": contact["id"], "items": [dict(ITEM)], "notes": "sent twice, placed once"}
    message_id = str(uuid.uuid4())
    try:
        await database.hold()  # the service will take the call and then wait for the database
        before = proxy.bytes_down
        first = asyncio.create_task(writer.call("orders.place", params, message_id=message_id))
        await wait_taken(proxy, before, settings.broker_url, Names(settings.namespace).rpc_queue("orders"))
        await proxy.cut()  # the caller's connection dies; its reply queue goes with it
        # let go at once: the service's write waits for a held database only 5 s (DATABASE_WAIT_S), then fails
        await database.release()  # the service places the order and replies into the void
        with pytest.raises(ServiceUnavailable):
            await first

        async def placed_orders() -> list[dict[str, Any]]:
            return list((await client.call("orders.list", {"contact_id": contact["id"]}))["items"])

        await wait_until(placed_orders)
        placed = await placed_orders()
        assert [o["notes"] for o in placed] == ["sent twice, placed once"]

        await proxy.restore()
        assert await writer.wait_connected(20)
        again = await writer.call("orders.place", params, message_id=message_id)  # the retry
        assert again == placed[0]  # the first reply, unchanged
        await writer.call("orders.place", params, message_id=message_id)  # and once more, for good measure
        assert (await client.call("orders.list", {"contact_id": contact["id"]}))["items"] == placed
        await sentinel(client, log, 3)  # one event for the placement, nothing for the repeats
        assert log.names == ["contact.created", "order.placed", "contact.created"]
    finally:
        await database.release()
        await writer.close()
        await proxy.close()


# -- a client away for a while --------------------------------------------------------------------------


async def finished_order(client: ShopClient, contact_id: int) -> dict[str, Any]:
    return await advance(client, await new_order(client, contact_id), "start", "complete")


async def test_notices_missed_while_away_arrive_on_return(client: ShopClient, settings: Settings) -> None:
    parts = urlsplit(settings.broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    shipping = ShopClient(proxy.url(settings.broker_url), settings.namespace, app_id="test-shipping", timeout=3)
    await shipping.connect()
    shown: list[Notice] = []
    reopened: ShopClient | None = None
    try:
        await NoticeFeed(shipping, "shipping", lambda _id: None, shown.append).start()
        contact = await new_contact(client, "Seonaid Fraser")
        first = await finished_order(client, contact["id"])
        await wait_until(lambda: len(shown) == 1)

        # the network goes: the notices keep in the person's durable queue meanwhile
        await proxy.cut()
        await wait_until(lambda: shipping.state == ConnectionState.RECONNECTING)
        while_cut = [await finished_order(client, contact["id"]) for _ in range(3)]
        await proxy.restore()
        await wait_until(lambda: len(shown) == 4, timeout=30)
        assert [n.order_id for n in shown] == [o["id"] for o in [first, *while_cut]]
        assert all("Seonaid Fraser" in n.text and n.title.startswith("Kilt ready") for n in shown)

        # the app closed altogether: the next start shows what came meanwhile, and nothing shown before
        await shipping.close()
        while_closed = [await finished_order(client, contact["id"]) for _ in range(2)]
        queue = notice_queue_name(settings.namespace, "guest", "shipping")

        async def waiting(count: int, consumers: int) -> bool:
            return await queue_state(settings.broker_url, queue) == (count, consumers)

        await wait_until(lambda: waiting(2, 0))  # the events follow the replies a moment later
        reopened = ShopClient(settings.broker_url, settings.namespace, app_id="test-shipping-again", timeout=3)
        await reopened.connect()
        again: list[Notice] = []
        await NoticeFeed(reopened, "shipping", lambda _id: "Seonaid Fraser", again.append).start()
        await wait_until(lambda: len(again) == 2)
        later = await finished_order(client, contact["id"])
        await wait_until(lambda: len(again) == 3)
        assert [n.order_id for n in again] == [o["id"] for o in [*while_closed, later]]
        await wait_until(lambda: waiting(0, 1))  # every notice shown was acknowledged
    finally:
        await shipping.close()
        if reopened is not None:
            await reopened.close()
        await proxy.close()


async def test_an_abandoned_notice_queue_expires(service: ShopService, settings: Settings) -> None:
    name = f"{settings.namespace}.notices.test.abandoned"
    away = ShopClient(settings.broker_url, settings.namespace, app_id="test-away")
    await away.connect()
    try:
        await away.subscribe(lambda _event: None, ["order.completed"], queue_name=name, expires_ms=1000)
        await asyncio.sleep(2.0)  # twice its x-expires: in use (it has a consumer), so it stays
        assert await queue_state(settings.broker_url, name) == (0, 1)
    finally:
        await away.close()
    left = time.monotonic()

    async def gone() -> bool:
        return await queue_state(settings.broker_url, name) is None

    # a look (even a passive declare) counts as use and restarts its clock: look less often than it expires
    await wait_until(gone, timeout=20, interval=1.5)
    report("abandoned queue", x_expires_ms=1000, gone_after_s=round(time.monotonic() - left, 1))


# -- a fuzz of malformed requests ------------------------------------------------------------------------


@dataclass
class Case:
    routing_key: str
    body: bytes
    content_type: str | None
    message_id: str | None
    reply_to: bool
    expiration: str | None
    timestamp: bool


PARAM_NAMES = sorted({"q", "limit", "cursor", "id", "version", "name", "email", "phone", "address", "notes",
                      "measurements", "status", "contact_id", "items", "x", "", "ID", "name "})
JUNK_KEYS = ["orders.delete", "contacts.drop", "pickups.everything", "orders.place.now", "ORDERS.PLACE", "nonsense",
             "contacts", "notices", "notices.a.b.c", "", "orders..place", "amq.rabbitmq.reply-to", "orders.list.x"]
SPECIAL_BODIES = [b"", b"  ", b"null", b"[]", b"42", b'"text"', b"{", b'{"name": "Morag"', b"\xef\xbb\xbf{}",
                  b"[" * 3000 + b"]" * 3000, b'{"name": NaN}', b'{"name": Infinity}', b"{}", b"\x00",
                  b'{"name": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}', b'{"id": 1e400}', b'{"id": -0}']

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
           | st.sampled_from(["", " ", "\x00", "Morag", "K-0001", "pending", "in_progress", "²"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
plausible = st.integers(1, 4) | st.sampled_from(["Morag", "a@b.c", None, [dict(ITEM)], [{**ITEM, "quantity": 0}],
                                                 {"waist_cm": 80}, ["pending"], 500, 0])
params = st.dictionaries(st.sampled_from(PARAM_NAMES), plausible | json_values, max_size=5)
# Calls that are right, or nearly: so that some succeed, and the shop's seq moves exactly when they do.
ids = st.integers(1, 4)
nearly_valid_bodies: dict[str, Any] = {
    "contacts.create": st.fixed_dictionaries({"name": st.text(max_size=12)}, optional={"phone": st.text(max_size=8)}),
    "contacts.update": st.fixed_dictionaries({"id": ids, "version": ids, "notes": st.text(max_size=12)}),
    "orders.place": st.fixed_dictionaries({"contact_id": ids, "items": st.just([dict(ITEM)])},
                                          optional={"notes": st.text(max_size=12)}),
    "orders.amend": st.fixed_dictionaries({"id": ids, "version": ids, "notes": st.text(max_size=12)}),
    **{f"orders.{move}": st.fixed_dictionaries({"id": ids, "version": ids})
       for move in ("start", "complete", "collect", "cancel")},
    "orders.get": st.fixed_dictionaries({"id": ids}),
    "contacts.list": st.fixed_dictionaries({}, optional={"q": st.text(max_size=5), "limit": st.integers(1, 600)}),
}
nearly_valid = st.sampled_from(sorted(nearly_valid_bodies)).flatmap(lambda method: st.builds(
    Case, routing_key=st.just(method), body=nearly_valid_bodies[method].map(lambda p: json.dumps(p).encode()),
    content_type=st.sampled_from([CONTENT_TYPE, None]), message_id=st.just("fresh") | st.sampled_from(["fuzz-1"]),
    reply_to=st.just(True), expiration=st.sampled_from([None, "60000"]), timestamp=st.booleans()))

malformed = st.builds(
    Case,
    routing_key=st.sampled_from(METHODS) | st.sampled_from(METHODS) | st.sampled_from(JUNK_KEYS)
    | st.builds("{}.{}".format, st.sampled_from(RPC_GROUPS), st.from_regex(r"[a-z_]{1,12}", fullmatch=True)),
    body=params.map(lambda p: json.dumps(p).encode()) | params.map(lambda p: json.dumps(p).encode())
    | st.sampled_from(SPECIAL_BODIES) | st.binary(max_size=40) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=st.just(CONTENT_TYPE) | st.sampled_from(
        [None, "", "text/plain", "application/json; charset=utf-8", "application/x-python-pickle"]),
    message_id=st.none() | st.just("fresh") | st.sampled_from(["fuzz-1", "fuzz-2", "", "m" * 201])
    | st.text(min_size=1, max_size=40),
    reply_to=st.sampled_from([True, True, True, False]),
    expiration=st.sampled_from([None, "60000"]),
    timestamp=st.booleans(),
)
cases = malformed | malformed | nearly_valid


def topic_matches(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    if pattern[0] == "#":
        return any(topic_matches(pattern[1:], words[i:]) for i in range(len(words) + 1))
    return bool(words) and pattern[0] in ("*", words[0]) and topic_matches(pattern[1:], words[1:])


def routable(routing_key: str) -> bool:
    """Whether <ns>.rpc routes the key to a service queue (by the topic bindings the contract gives)."""
    return any(topic_matches(binding.split("."), routing_key.split("."))
               for binding in Names("any").rpc_bindings().values())


def unusable(case: Case) -> bool:
    """What docs/contract.md ("Dead letters") says is dead-lettered."""
    if not case.reply_to or case.routing_key not in METHODS or len(case.body) > MAX_BODY_BYTES:
        return True
    if case.content_type not in (None, "", CONTENT_TYPE, "application/json; charset=utf-8"):
        return True
    try:
        body = loads(case.body) if case.body.strip() else {}
    except (ValueError, RecursionError):
        return True
    if not isinstance(body, dict):
        return True
    if case.routing_key in MUTATING_METHODS and not case.message_id:
        return True
    return bool(case.message_id and len(case.message_id) > 200)


class LoopThread:
    """An event loop of its own in a thread: hypothesis drives examples synchronously, the shop runs here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class FuzzRig:
    settings: Settings
    service: ShopService | None = None
    client: ShopClient | None = None
    connection: Any = None
    reply_queue: str = ""
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dead: dict[str, list[AbstractIncomingMessage]] = field(default_factory=dict)
    expected_dead: set[str] = field(default_factory=set)
    unroutable: set[str] = field(default_factory=set)
    outcomes: dict[str, int] = field(default_factory=dict)

    async def start(self) -> None:
        self.service = ShopService(self.settings)
        await self.service.start()
        self.client = ShopClient(self.settings.broker_url, self.settings.namespace, app_id="test-fuzz")
        await self.client.connect()
        self.connection = await aio_pika.connect(self.settings.broker_url)
        channel = await self.connection.channel()
        # the service answers only the sender's own reply queue, named for its login
        replies = await channel.declare_queue(Names(self.settings.namespace).reply_queue("guest", uuid.uuid4().hex),
                                              exclusive=True, auto_delete=True)
        self.reply_queue = replies.name

        async def on_reply(message: AbstractIncomingMessage) -> None:
            self.replies.setdefault(message.correlation_id or "", []).append(json.loads(message.body))

        async def on_dead(message: AbstractIncomingMessage) -> None:
            self.dead.setdefault(message.correlation_id or "", []).append(message)

        await replies.consume(on_reply, no_ack=True)
        dead = await channel.declare_queue(Names(self.settings.namespace).dead_queue, passive=True)
        await dead.consume(on_dead, no_ack=True)

    async def stop(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self.client is not None:
            await self.client.close()
        if self.service is not None:
            await self.service.stop()

    async def seq(self) -> int:
        assert self.client is not None
        return int((await self.client.call("contacts.list", {"limit": 1}))["seq"])

    async def run(self, case: Case) -> None:
        self._count("examples")
        correlation_id = uuid.uuid4().hex
        if case.message_id == "fresh":
            case = replace(case, message_id=str(uuid.uuid4()))
        message_id = case.message_id
        props: dict[str, Any] = {"correlation_id": correlation_id, "user_id": "guest"}
        for name, value in (("content_type", case.content_type), ("message_id", message_id),
                            ("expiration", case.expiration)):
            if value is not None:
                props[name] = value
        if case.reply_to:
            props["reply_to"] = self.reply_queue
        if case.timestamp:
            props["timestamp"] = datetime.now(UTC).replace(microsecond=0)
        before = await self.seq()
        await bare_publish(self.settings.broker_url, Names(self.settings.namespace).rpc_exchange,
                           case.routing_key, case.body, **props)
        if not routable(case.routing_key):
            self.unroutable.add(correlation_id)
            self._count("unroutable")
            return
        reply: dict[str, Any] | None = None
        if case.reply_to:
            await wait_until(lambda: correlation_id in self.replies, timeout=15)
            reply = self.replies[correlation_id][0]
            code = "ok" if reply["ok"] else reply["error"]["code"]
            assert code in ("ok", *ERROR_CODES), reply
            assert code != "internal", (case, reply)  # the service failed on this input: a bug
            self._count(code)
            dead_lettered = code == "invalid" and reply["error"]["details"] == {}
            assert dead_lettered == unusable(case), (case, reply)
        else:
            dead_lettered = True
            self._count("no reply_to")
        if dead_lettered:
            self.expected_dead.add(correlation_id)
            await wait_until(lambda: correlation_id in self.dead, timeout=15)
            self._count("dead-lettered")
            assert "x-kiltshop-reason" in (self.dead[correlation_id][0].headers or {})
        after = await self.seq()
        if after != before:  # the data changes only when a change was made and answered
            assert reply is not None and reply["ok"] and case.routing_key in MUTATING_METHODS, (case, reply)
            assert after == before + 1, (case, before, after)
            self._count("changed the shop")

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    async def finish(self) -> None:
        assert self.client is not None
        # still serving: a valid call works
        made = await self.client.call("contacts.create", {"name": "After The Fuzz"}, message_id=str(uuid.uuid4()))
        assert made["name"] == "After The Fuzz"
        await asyncio.sleep(0.5)  # stragglers: a reply or dead letter that should not exist would show up
        assert set(self.dead) == self.expected_dead
        assert all(len(v) == 1 for v in self.dead.values())
        assert not (set(self.replies) & self.unroutable)
        assert all(len(v) == 1 for v in self.replies.values())


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_fuzzed_requests_each_get_a_reply_or_a_dead_letter_and_change_nothing_unless_answered(
    settings: Settings, namespace: str
) -> None:
    runner = LoopThread()
    rig = FuzzRig(settings)
    try:
        runner.run(rig.start())

        @hypothesis_settings(max_examples=150, deadline=None, database=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(case=cases)
        def one(case: Case) -> None:
            runner.run(rig.run(case))

        one()
        runner.run(rig.finish())
        report("fuzz", **rig.outcomes)
        assert rig.outcomes.get("ok", 0) > 0 and rig.outcomes.get("dead-lettered", 0) > 0
    finally:
        runner.run(rig.stop())
        runner.close()


# -- load ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_load_twenty_clients_lose_no_call(settings: Settings, service_process: ServiceProcess) -> None:
    duration = 8.0
    service_process.start()
    await wait_serving(settings.broker_url, settings.namespace, timeout=30)
    clients = [ShopClient(settings.broker_url, settings.namespace, app_id=f"test-load-{i}", timeout=15)
               for i in range(20)]
    for client in clients:
        await client.connect()
    try:
        works = [Workload(c, f"load{i}", random.Random(SEED + i), timeout=15, reads=True)
                 for i, c in enumerate(clients)]
        stop = asyncio.Event()
        started = time.perf_counter()
        tasks = [asyncio.create_task(keep_working(w, stop)) for w in works]
        await asyncio.sleep(duration)
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - started
        failed = [r for r in results if isinstance(r, BaseException)]
        assert failed == [], failed[:3]  # no call failed, none went unanswered

        latencies = sorted(lat for w in works for lat in w.latencies)
        calls = len(latencies)
        report("load", clients=len(clients), seconds=round(elapsed, 1), calls=calls,
               changes=sum(w.changes for w in works), reads=sum(w.reads_done for w in works),
               calls_per_s=round(calls / elapsed), p50_ms=round(statistics.median(latencies) * 1000, 1),
               p99_ms=round(latencies[min(calls - 1, int(calls * 0.99))] * 1000, 1),
               max_ms=round(latencies[-1] * 1000, 1))
        await assert_store_is_what_was_done(clients[0], works)
    finally:
        for client in clients:
            await client.close()
