"""Kiltshop benchmarks, side by side with the raw client on the same local broker, in one run:

    .venv/bin/python bench/run.py [--quick] [--output docs/benchmarks.md]

1. call round trip (ours vs a bare aio-pika echo vs aio-pika's patterns.JsonRPC), 1 and 32 callers;
2. change to screen (a contacts.update until another process's Qt model shows it), 1/50/500 changes/s,
   1 and 8 watching windows, and the same without Qt;
3. the workshop board at 1,000 / 10,000 / 100,000 orders: first paint, memory, cost of one event;
4. service throughput: orders placed per second end to end, SQLite and PostgreSQL, 1 and 2 services.

The tables are written between the markers in the output file; the text around them is kept."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aio_pika  # noqa: E402
from aio_pika.abc import AbstractIncomingMessage  # noqa: E402
from aio_pika.patterns import JsonRPC  # noqa: E402

from app.client.shop_client import ShopClient  # noqa: E402
from app.contract import Names  # noqa: E402
from bench.stats import ms, percentile, table  # noqa: E402

BROKER = os.environ.get("KILTSHOP_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG = os.environ.get("KILTSHOP_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}


# -- processes ---------------------------------------------------------------------------------------


class Proc:
    def __init__(self, args: list[str], env: dict[str, str] | None = None, ready: str | None = None) -> None:
        self.p = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, cwd=REPO)
        if ready:
            assert self.p.stdout is not None
            line = self.p.stdout.readline()
            if ready not in line:
                raise RuntimeError(f"{args[:3]} did not start: {line!r}")

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()


def service(namespace: str, database_url: str) -> Proc:
    proc = Proc([sys.executable, "-m", "app.cli.main", "service"],
                {"KILTSHOP_BROKER_URL": BROKER, "KILTSHOP_NAMESPACE": namespace, "KILTSHOP_DATABASE_URL": database_url})
    run_apart(_wait_for_service(namespace))
    return proc


def run_apart(coro: Awaitable[Any]) -> Any:
    """Run a coroutine to the end on a loop of its own, even when called from inside another loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


async def _wait_for_service(namespace: str) -> None:
    async with ShopClient(BROKER, namespace) as client:
        for _ in range(200):
            try:
                await client.call("contacts.list", {"limit": 1}, timeout=1)
                return
            except Exception:
                await asyncio.sleep(0.1)
    raise RuntimeError("the service did not answer")


async def cleanup(namespace: str) -> None:
    names = Names(namespace)
    connection = await aio_pika.connect(BROKER)
    for queue in (*names.rpc_bindings(), names.dead_queue):
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.queue_delete(queue)
    for exchange in (names.rpc_exchange, names.events_exchange, names.dead_exchange, names.relay_exchange):
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(exchange)
    await connection.close()


# -- 1. call round trip ------------------------------------------------------------------------------


class BareClient:
    """The least a Python program can do: publish, and match the reply on an exclusive queue."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.pending: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        self.connection = await aio_pika.connect(BROKER)
        self.channel = await self.connection.channel(publisher_confirms=False)
        self.replies = await self.channel.declare_queue(exclusive=True)

        async def on_reply(message: AbstractIncomingMessage) -> None:
            future = self.pending.pop(message.correlation_id or "", None)
            if future is not None:
                future.set_result(message.body)

        await self.replies.consume(on_reply, no_ack=True)

    async def call(self, body: bytes) -> bytes:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        await self.channel.default_exchange.publish(
            aio_pika.Message(body, content_type="application/json", correlation_id=correlation_id,
                             reply_to=self.replies.name), routing_key=self.queue)
        return await future

    async def close(self) -> None:
        await self.connection.close()


async def measure(callers: int, seconds: float, make: Callable[[int], Awaitable[Callable[[], Awaitable[Any]]]]
                  ) -> dict[str, float]:
    calls = [await make(i) for i in range(callers)]
    for call in calls:  # warm up
        await call()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(call: Callable[[], Awaitable[Any]]) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in calls))
    elapsed = time.perf_counter() - started
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "rate": len(latencies) / elapsed,
            "n": len(latencies)}


async def call_round_trip(seconds: float) -> str:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    tmp = tempfile.mkdtemp()
    svc = service(namespace, f"sqlite+aiosqlite:///{tmp}/shop.sqlite3")
    echo_queue, rpc_name = f"{namespace}.echo", f"{namespace}_pattern"
    echo = Proc([sys.executable, "bench/servers.py", "echo", BROKER, echo_queue], ready="ready")
    pattern = Proc([sys.executable, "bench/servers.py", "pattern", BROKER, rpc_name], ready="ready")
    body = json.dumps({"id": 1}).encode()
    results: dict[tuple[str, int], dict[str, float]] = {}
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        async with ShopClient(BROKER, namespace) as setup:
            contact = await setup.call("contacts.create", {"name": "Bench Mark", "email": "b@example.org"})
        for callers in (1, 32):
            async def bare(_i: int) -> Callable[[], Awaitable[Any]]:
                client = BareClient(echo_queue)
                await client.start()
                closers.append(client.close)
                return lambda: client.call(body)

            async def jsonrpc(_i: int) -> Callable[[], Awaitable[Any]]:
                connection = await aio_pika.connect(BROKER)
                rpc = await JsonRPC.create(await connection.channel())
                closers.append(connection.close)
                return lambda: rpc.call(rpc_name, {"id": 1})

            async def ours_get(_i: int) -> Callable[[], Awaitable[Any]]:
                client = ShopClient(BROKER, namespace)
                await client.connect()
                closers.append(client.close)
                return lambda: client.call("contacts.get", {"id": contact["id"]})

            async def ours_amend(i: int) -> Callable[[], Awaitable[Any]]:
                client = ShopClient(BROKER, namespace)
                await client.connect()
                closers.append(client.close)
                order = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
                state = {"version": order["version"], "n": 0}

                async def amend() -> None:
                    state["n"] += 1
                    result = await client.call("orders.amend", {"id": order["id"], "version": state["version"],
                                                                "notes": f"caller {i} change {state['n']}"})
                    state["version"] = result["version"]

                return amend

            for label, make in (("bare aio-pika echo (floor)", bare), ("aio-pika patterns.JsonRPC echo", jsonrpc),
                                ("kiltshop contacts.get", ours_get), ("kiltshop orders.amend", ours_amend)):
                results[(label, callers)] = await measure(callers, seconds, make)
                for close in closers:
                    await close()
                closers.clear()
    finally:
        svc.stop()
        echo.stop()
        pattern.stop()
        await cleanup(namespace)
    rows: list[list[object]] = []
    for (label, callers), r in results.items():
        floor = results[("bare aio-pika echo (floor)", callers)]
        rows.append([label, callers, ms(r["p50"]), ms(r["p99"]), f"{r['rate']:.0f}",
                     f"{r['p50'] / floor['p50']:.2f}", f"{floor['rate'] / r['rate']:.2f}"])
    return table(["call", "callers", "p50 ms", "p99 ms", "calls/s", "p50 / floor", "time per call / floor"], rows)


# -- 2. change to screen -----------------------------------------------------------------------------


async def drive_changes(namespace: str, rate: int, count: int) -> float:
    """contacts.update at `rate` per second, `count` in all, over several contacts; returns the rate reached."""
    async with ShopClient(BROKER, namespace) as client:
        page = await client.call("contacts.list", {"limit": 50})
        contacts = {c["id"]: c["version"] for c in page["items"]}
        ids = list(contacts)
        interval = 1 / rate
        started = time.perf_counter()
        tasks = []
        locks = {i: asyncio.Lock() for i in ids}

        async def change(contact_id: int) -> None:
            async with locks[contact_id]:
                result = await client.call("contacts.update", {"id": contact_id, "version": contacts[contact_id],
                                                               "notes": f"bench {time.time()!r}"})
                contacts[contact_id] = result["version"]

        for n in range(count):
            target = started + n * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(change(ids[n % len(ids)])))
        await asyncio.gather(*tasks)
        return count / (time.perf_counter() - started)


def change_to_screen(quick: bool) -> str:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    tmp = tempfile.mkdtemp()
    svc = service(namespace, f"sqlite+aiosqlite:///{tmp}/shop.sqlite3")
    rows = []
    try:
        async def setup() -> None:
            async with ShopClient(BROKER, namespace) as client:
                for i in range(30):
                    await client.call("contacts.create", {"name": f"Watcher Contact {i}"})

        asyncio.run(setup())
        plans = [(1, 5 if quick else 10), (50, 100 if quick else 250), (500, 500 if quick else 1500)]
        for mode in ("qt", "client"):
            for windows in (1, 8):
                for rate, count in plans:
                    out = Path(tmp) / f"{mode}-{windows}-{rate}.json"
                    watcher = Proc([sys.executable, "bench/watcher.py", BROKER, namespace, mode, str(windows),
                                    str(count), str(out)], ready="ready")
                    reached = asyncio.run(drive_changes(namespace, rate, count))
                    watcher.p.wait(90)
                    latencies = [x for per_window in json.loads(out.read_text()) for x in per_window]
                    rows.append(["Qt model + table" if mode == "qt" else "client layer only", windows, rate,
                                 f"{reached:.0f}", len(latencies), ms(percentile(latencies, 50)),
                                 ms(percentile(latencies, 99))])
    finally:
        svc.stop()
        asyncio.run(cleanup(namespace))
    return table(["watcher", "windows", "target changes/s", "reached/s", "samples", "p50 ms", "p99 ms"], rows)


# -- 3. the board at scale ---------------------------------------------------------------------------


async def seed_orders(database_url: str, count: int) -> None:
    """Fill a store with `count` open orders directly (the benchmark measures loading them, not placing)."""
    from sqlalchemy import update

    from app.store.schema import contacts, counters, orders
    from app.store.shop_store import ShopStore, now_iso, order_number

    store = await ShopStore.open(database_url)
    at = now_iso()
    async with store.write() as conn:
        await conn.execute(contacts.insert(), [
            {"name": f"Customer {i}", "email": f"c{i}@example.org", "phone": "", "address": f"{i} Main St, Oban",
             "notes": "", "version": 1, "created_at": at, "updated_at": at, "updated_by": "bench"}
            for i in range(1, 501)])
        statuses = ("pending", "in_progress", "completed")
        for start in range(0, count, 5000):
            await conn.execute(orders.insert(), [
                {"number": order_number(n), "contact_id": 1 + n % 500, "status": statuses[n % 3], "items": [KILT],
                 "notes": "", "total_pence": 48000, "version": 1, "placed_at": at, "updated_at": at,
                 "updated_by": "bench"} for n in range(start + 1, min(start + 5000, count) + 1)])
        await conn.execute(update(counters).where(counters.c.name == "order_number").values(value=count))
    await store.close()


def board_scale(quick: bool) -> str:
    rows = []
    for count in (1000, 10000) if quick else (1000, 10000, 100000):
        namespace = f"bench{uuid.uuid4().hex[:6]}"
        tmp = tempfile.mkdtemp()
        db = f"sqlite+aiosqlite:///{tmp}/shop.sqlite3"
        asyncio.run(seed_orders(db, count))
        svc = service(namespace, db)
        try:
            out = Path(tmp) / "board.json"
            subprocess.run([sys.executable, "bench/board.py", BROKER, namespace, str(out)], cwd=REPO, check=True,
                           timeout=600, stdout=subprocess.DEVNULL)
            r = json.loads(out.read_text())
            rows.append([f"{count:,}", f"{r['rows']:,}", f"{r['first_paint_s']:.2f}", f"{r['rss_mb']:.0f}",
                         ms(r["event_p50_s"]), ms(r["event_p99_s"])])
        finally:
            svc.stop()
            asyncio.run(cleanup(namespace))
    return table(["orders in the shop", "rows on the board", "start to first full paint s", "resident MB",
                  "one event p50 ms", "one event p99 ms"], rows)


# -- 4. service throughput ---------------------------------------------------------------------------


async def place_orders(namespace: str, seconds: float, callers: int = 16) -> tuple[int, float]:
    """Orders placed per second, counted when their order.placed event has arrived (committed + published)."""
    async with ShopClient(BROKER, namespace) as watcher:
        placed: set[int] = set()
        await watcher.subscribe(lambda e: placed.add(e["data"]["id"]), ["order.placed"])
        async with ShopClient(BROKER, namespace) as setup:
            contact = await setup.call("contacts.create", {"name": "Throughput"})
        clients = [ShopClient(BROKER, namespace) for _ in range(callers)]
        for client in clients:
            await client.connect()
        accepted: list[int] = []
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def loop(client: ShopClient) -> None:
            while time.perf_counter() < deadline:
                order = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
                accepted.append(order["id"])

        await asyncio.gather(*(loop(c) for c in clients))
        while not set(accepted) <= placed:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        for client in clients:
            await client.close()
        return len(accepted), elapsed


def pg_database() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    name = f"kiltshop_bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    try:
        asyncio.run(create())
    except Exception:
        return None
    return PG.rsplit("/", 1)[0] + f"/{name}"


def service_throughput(seconds: float) -> str:
    rows = []
    targets = [("SQLite", None)]
    pg = pg_database()
    if pg:
        targets.append(("PostgreSQL", pg))
    for label, url in targets:
        for processes in (1, 2):
            namespace = f"bench{uuid.uuid4().hex[:6]}"
            tmp = tempfile.mkdtemp()
            db = url or f"sqlite+aiosqlite:///{tmp}/shop.sqlite3"
            if url and processes == 2:  # a fresh PostgreSQL database for each run
                db = pg_database() or url
            services = [service(namespace, db) for _ in range(processes)]
            try:
                count, elapsed = asyncio.run(place_orders(namespace, seconds))
                rows.append([label, processes, count, f"{count / elapsed:.0f}"])
            finally:
                for s in services:
                    s.stop()
                asyncio.run(cleanup(namespace))
    if not pg:
        rows.append(["PostgreSQL", "-", "-", "no server reachable on 127.0.0.1:5432"])
    return table(["store", "service processes", "orders placed", "orders/s end to end"], rows)


# -- report ------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    from importlib.metadata import version

    async def broker_version() -> str:
        connection = await aio_pika.connect(BROKER)
        props = connection.transport.connection.server_properties if connection.transport else {}
        await connection.close()
        value = props.get("version", "?")
        return value.decode() if isinstance(value, bytes) else str(value)

    rabbit = asyncio.run(broker_version())
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, RabbitMQ {rabbit}, "
            f"aio-pika {version('aio-pika')}, PySide6 {version('PySide6-Essentials')}, qasync {version('qasync')}, "
            f"SQLAlchemy {version('SQLAlchemy')}; {time.strftime('%Y-%m-%d')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test of the benchmarks)")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--only", choices=["calls", "screen", "board", "throughput"], action="append")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    seconds = 1.0 if args.quick else 4.0
    wanted = args.only or ["calls", "screen", "board", "throughput"]
    parts = [f"Measured on {machine()}{' (--quick)' if args.quick else ''}."]
    if "calls" in wanted:
        print("1/4 call round trip...", flush=True)
        parts.append("### 1. Call round trip\n\n" + asyncio.run(call_round_trip(seconds)))
        print(parts[-1], flush=True)
    if "screen" in wanted:
        print("2/4 change to screen...", flush=True)
        parts.append("### 2. Change to screen\n\n" + change_to_screen(args.quick))
        print(parts[-1], flush=True)
    if "board" in wanted:
        print("3/4 the board at scale...", flush=True)
        parts.append("### 3. The workshop board at scale\n\n" + board_scale(args.quick))
        print(parts[-1], flush=True)
    if "throughput" in wanted:
        print("4/4 service throughput...", flush=True)
        parts.append("### 4. Service throughput\n\n" + service_throughput(seconds))
        print(parts[-1], flush=True)
    block = "\n\n".join(parts)
    print(block)
    output = Path(args.output)
    text = output.read_text() if output.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = f"{head}{BEGIN}\n{block}\n{END}{rest.split(END, 1)[1]}"
    else:
        text += f"\n{BEGIN}\n{block}\n{END}\n"
    output.write_text(text)
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
