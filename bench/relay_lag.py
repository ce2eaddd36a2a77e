"""Event lag with one and with two service processes, and across the death of the relay lease holder:

    .venv/bin/python bench/relay_lag.py [--orders 500] [--rate 50] [--after-kill 4] [--output docs/benchmarks.md]

Lag is measured as a person would feel it: from the reply of an `orders.place` to a follower (another
connection, subscribed to `order.placed`) hearing its event; an event heard before the reply counts as 0.
Orders are sent at a steady rate (open loop: a slow call does not hold back the next), so with two
processes about half of them are answered by the process that does not hold the relay lease.

1. a bare confirmed publish to an exchange, heard by a subscriber (the broker's floor);
2. one service process (the shop's floor), SQLite;
3. two service processes on one SQLite file (and on one PostgreSQL database when one is reachable);
4. two processes, then SIGKILL of the lease holder mid-stream: the largest lag of an event heard after the
   kill, how long after the kill the first event came, and whether the stream stayed gap-free and in order.

The table is written between its own markers in the output file (the rest of the file is kept)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aio_pika  # noqa: E402
from aio_pika.abc import AbstractIncomingMessage  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app.client.shop_client import ShopClient  # noqa: E402
from app.contract import Names  # noqa: E402
from app.store.schema import relay_lease  # noqa: E402
from app.store.shop_store import ShopStore  # noqa: E402
from bench.run import BROKER, KILT, Proc, cleanup, machine, pg_database  # noqa: E402
from bench.stats import ms, percentile, table  # noqa: E402

BEGIN, END = "<!-- bench:relay-lag:begin -->", "<!-- bench:relay-lag:end -->"


def start_services(namespace: str, database_url: str, count: int) -> list[Proc]:
    env = {"KILTSHOP_BROKER_URL": BROKER, "KILTSHOP_NAMESPACE": namespace, "KILTSHOP_DATABASE_URL": database_url}
    procs = [Proc([sys.executable, "-m", "app.cli.main", "service"], env) for _ in range(count)]
    asyncio.run(wait_consumers(namespace, count))
    return procs


async def wait_consumers(namespace: str, count: int, timeout: float = 60) -> None:
    """Until every call queue has `count` consumers (each service process consumes each queue)."""
    names = Names(namespace)
    deadline = time.monotonic() + timeout
    connection = await aio_pika.connect(BROKER)
    try:
        while time.monotonic() < deadline:
            try:
                channel = await connection.channel()
                counts = [(await channel.declare_queue(q, passive=True)).declaration_result.consumer_count
                          for q in names.rpc_bindings()]
                await channel.close()
                if min(counts) >= count:
                    return
            except Exception:
                pass
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    raise RuntimeError(f"{count} service processes did not start")


async def lease_holder_pid(database_url: str) -> int | None:
    store = await ShopStore.open(database_url)
    try:
        async with store.read() as conn:
            row = (await conn.execute(select(relay_lease.c.holder, relay_lease.c.expires_at))).first()
    finally:
        await store.close()
    if row is None or row.expires_at < time.time():
        return None
    return int(row.holder.split(":")[1])  # "host:pid:object" (OutboxRelay)


class Stream:
    """Orders placed at a steady rate; reply and event times by order id; the seqs as heard, in order."""

    def __init__(self) -> None:
        self.replied: dict[int, float] = {}
        self.heard: dict[int, float] = {}
        self.seqs: list[int] = []
        self.failed = 0

    def on_event(self, event: dict[str, Any]) -> None:
        self.seqs.append(int(event["seq"]))
        if event["event"] == "order.placed":
            self.heard.setdefault(int(event["data"]["id"]), time.perf_counter())

    def lags(self, ids: list[int] | None = None) -> list[float]:
        ids = list(self.replied) if ids is None else ids
        return [max(0.0, self.heard[i] - self.replied[i]) for i in ids if i in self.heard and i in self.replied]

    def order_problems(self) -> dict[str, int]:
        """Gaps, duplicates, and events heard after a newer one (a late duplicate, or a first arrival out of order)."""
        seen: set[int] = set()
        highest = 0
        late = 0
        for seq in self.seqs:
            if seq < highest:
                late += 1
            highest = max(highest, seq)
            seen.add(seq)
        missing = len(set(range(1, highest + 1)) - seen)
        return {"missing": missing, "duplicates": len(self.seqs) - len(seen), "after a newer one": late}


async def place(namespace: str, stream: Stream, orders: int, rate: float,
                on_tick: Any = None) -> None:
    async with ShopClient(BROKER, namespace, app_id="bench-relay-lag") as follower, \
            ShopClient(BROKER, namespace, app_id="bench-relay-lag", timeout=15) as caller:
        await follower.subscribe(stream.on_event, ["#"])
        contact = await caller.call("contacts.create", {"name": "Lag Bench"})
        started = time.perf_counter()

        async def one() -> None:
            try:
                order = await caller.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
            except Exception:
                stream.failed += 1
                return
            stream.replied[int(order["id"])] = time.perf_counter()

        tasks = []
        for n in range(orders):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if on_tick is not None:
                await on_tick(n)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 20
        while not set(stream.replied) <= set(stream.heard) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)


def lag_row(label: str, stream: Stream) -> list[object]:
    lags = stream.lags()
    late = sum(1 for i in stream.replied if i not in stream.heard)
    return [label, len(lags), ms(percentile(lags, 50)), ms(percentile(lags, 95)), ms(percentile(lags, 99)),
            ms(max(lags) if lags else float("nan")), late + stream.failed]


def run_services(label: str, database_url: str, processes: int, orders: int, rate: float) -> list[object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    procs = start_services(namespace, database_url, processes)
    try:
        stream = Stream()
        asyncio.run(place(namespace, stream, orders, rate))
        return lag_row(label, stream)
    finally:
        for proc in procs:
            proc.stop()
        asyncio.run(cleanup(namespace))


def run_kill(database_url: str, rate: float, before: float, after: float) -> tuple[list[object], dict[str, Any]]:
    """Two processes; SIGKILL the lease holder `before` seconds into the stream, go on for `after` seconds."""
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    procs = start_services(namespace, database_url, 2)
    stream = Stream()
    killed: dict[str, Any] = {}

    async def tick(n: int) -> None:
        if n == int(before * rate):
            pid = await lease_holder_pid(database_url)
            victim = next((p for p in procs if p.p.pid == pid), None)
            if victim is None:
                raise RuntimeError(f"no lease holder among the service processes (lease says pid {pid})")
            os.kill(victim.p.pid, signal.SIGKILL)
            killed["at"] = time.perf_counter()
            killed["n"] = n

    try:
        asyncio.run(place(namespace, stream, int((before + after) * rate), rate, tick))
    finally:
        for proc in procs:
            proc.stop()
        asyncio.run(cleanup(namespace))
    at = killed["at"]
    after_kill = [i for i, t in stream.heard.items() if t > at]
    lags = stream.lags(after_kill)
    first = min((stream.heard[i] for i in after_kill), default=float("nan"))
    facts = {"first event after the kill s": first - at, **stream.order_problems()}
    row = ["2 (SQLite), holder SIGKILLed", len(lags), ms(percentile(lags, 50)), ms(percentile(lags, 95)),
           ms(percentile(lags, 99)), ms(max(lags) if lags else float("nan")),
           sum(1 for i in stream.replied if i not in stream.heard) + stream.failed]
    return row, facts


async def bare_publish(count: int, rate: float) -> list[object]:
    """Publish persistent messages with a confirm to a topic exchange; a subscriber on another connection."""
    name = f"bench{uuid.uuid4().hex[:6]}.bare"
    waiting: dict[str, asyncio.Future[float]] = {}
    lags: list[float] = []
    publisher = await aio_pika.connect(BROKER)
    listener = await aio_pika.connect(BROKER)
    try:
        channel = await publisher.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, auto_delete=True)
        listen = await listener.channel()
        queue = await listen.declare_queue(exclusive=True)
        await queue.bind(name, "#")

        async def on_message(message: AbstractIncomingMessage) -> None:
            future = waiting.pop(message.message_id or "", None)
            if future is not None:
                future.set_result(time.perf_counter())

        await queue.consume(on_message, no_ack=True)
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        for n in range(count):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message_id = uuid.uuid4().hex
            waiting[message_id] = heard = loop.create_future()
            t0 = time.perf_counter()
            await exchange.publish(aio_pika.Message(b'{"bench":1}', message_id=message_id,
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key="order.placed")
            lags.append(await asyncio.wait_for(heard, 10) - t0)
        with contextlib.suppress(Exception):
            await exchange.delete()
    finally:
        await publisher.close()
        await listener.close()
    return ["bare confirmed publish (broker floor; publish to heard)", len(lags), ms(percentile(lags, 50)),
            ms(percentile(lags, 95)), ms(percentile(lags, 99)), ms(max(lags)), 0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="orders per second")
    parser.add_argument("--before-kill", type=float, default=4.0, help="seconds of orders before the SIGKILL")
    parser.add_argument("--after-kill", type=float, default=4.0, help="seconds of orders after the SIGKILL")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL even when it is reachable")
    parser.add_argument("--only", choices=["bare", "one", "two", "pg", "kill"], action="append",
                        help="run only these rows (repeatable)")
    parser.add_argument("--output", help="write the table into this Markdown file (between its markers)")
    args = parser.parse_args()
    wanted = args.only or ["bare", "one", "two", "pg", "kill"]
    rows: list[list[object]] = []
    facts: dict[str, Any] = {}
    tmp = tempfile.mkdtemp()
    if "bare" in wanted:
        print("bare confirmed publish...", flush=True)
        rows.append(asyncio.run(bare_publish(args.orders, args.rate)))
    if "one" in wanted:
        print("one service process...", flush=True)
        rows.append(run_services("1 (SQLite)", f"sqlite+aiosqlite:///{tmp}/one.sqlite3", 1, args.orders, args.rate))
    if "two" in wanted:
        print("two service processes...", flush=True)
        rows.append(run_services("2 (SQLite)", f"sqlite+aiosqlite:///{tmp}/two.sqlite3", 2, args.orders, args.rate))
    pg = None if args.no_pg or "pg" not in wanted else pg_database()
    if pg:
        print("two service processes on PostgreSQL...", flush=True)
        rows.append(run_services("2 (PostgreSQL)", pg, 2, args.orders, args.rate))
    if "kill" in wanted:
        print("two service processes, the lease holder killed...", flush=True)
        kill_row, facts = run_kill(f"sqlite+aiosqlite:///{tmp}/kill.sqlite3", args.rate, args.before_kill,
                                   args.after_kill)
        rows.append(kill_row)
    report = "\n".join([
        f"Measured on {machine()}; {args.orders} orders at {args.rate:.0f}/s per row "
        f"(the kill row: {args.before_kill:.0f} s + {args.after_kill:.0f} s at the same rate, events heard "
        "after the kill).",
        "",
        table(["service processes", "events", "lag p50 ms", "p95 ms", "p99 ms", "max ms", "not heard"], rows),
        *(["", "After the SIGKILL: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in facts.items()) + "."]
          if facts else []),
    ])
    print(report)
    if args.output:
        output = Path(args.output)
        text = output.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            text = f"{head}{BEGIN}\n{report}\n{END}{rest.split(END, 1)[1]}"
        else:
            text += f"\n{BEGIN}\n{report}\n{END}\n"
        output.write_text(text)
        print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
