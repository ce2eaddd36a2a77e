"""The store on PostgreSQL: a fresh database per test run (created and dropped here), migrated by ShopStore.open,
and a core sample of the shop's behaviour, including concurrent writers and the service over the broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from app.client.shop_client import CallError, ShopClient
from app.config import Settings
from app.domain.errors import ConflictError, InvalidError, LockedError, NotFoundError
from app.domain.validation import clean_contact_fields, clean_items
from app.service.shop_service import ShopService
from app.store.database import ALEMBIC_INI
from app.store.outbox import Outbox
from app.store.schema import counters, orders, outbox, service_keys
from app.store.shop_store import ShopStore
from tests.conftest import PG_URL, reachable
from tests.shop_helpers import ITEM, EventLog, assert_gap_free, new_contact, new_order, schema_differences


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin(sql: str) -> None:
    import asyncpg

    dsn = _with_database(PG_URL.replace("+asyncpg", ""), urlsplit(PG_URL).path.lstrip("/") or "postgres")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _new_database() -> Iterator[str]:
    """A PostgreSQL database of its own (created here, dropped afterwards), or the test is skipped."""
    if not reachable(PG_URL, 5432):
        pytest.skip(f"no PostgreSQL at {PG_URL} (set KILTSHOP_TEST_PG_URL to run the PostgreSQL tests)")
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        pytest.skip("asyncpg is not installed (pip install -e '.[postgres]')")
    name = f"kiltshop_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.skip(f"cannot create a PostgreSQL database at {PG_URL}: {exc}")
    try:
        yield _with_database(PG_URL, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """One database for the module's tests (they share it, and say so where it matters)."""
    yield from _new_database()


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A database nothing has migrated yet."""
    yield from _new_database()


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[ShopStore]:
    s = await ShopStore.open(pg_url)
    yield s
    await s.close()


def change(store: ShopStore, method: str, *args: Any) -> Any:
    """A change through the store as the handlers make it, under a fresh message_id."""
    action = {
        "contacts.create": lambda tx: store.create_contact(tx, clean_contact_fields(args[0], partial=False)),
        "contacts.update": lambda tx: store.update_contact(tx, args[0], args[1],
                                                           clean_contact_fields(args[2], partial=True)),
        "orders.place": lambda tx: store.place_order(tx, args[0], clean_items(args[1]), ""),
        "orders.amend": lambda tx: store.amend_order(tx, args[0], args[1], args[2]),
    }.get(method) or (lambda tx: store.move_order(tx, args[0], args[1], method.split(".")[1]))
    return store.mutate(str(uuid.uuid4()), method, "tester", action)


async def all_seqs(store: ShopStore) -> list[int]:
    async with store.read() as conn:
        return [r.seq for r in await conn.execute(select(outbox.c.seq).order_by(outbox.c.seq))]


async def assert_store_gap_free(store: ShopStore) -> None:
    seqs = await all_seqs(store)
    assert_gap_free(seqs)
    async with store.read() as conn:
        assert await store.current_seq(conn) == len(seqs)


async def test_migrations_run_and_rerun(pg_url: str) -> None:
    first = await ShopStore.open(pg_url)
    second = await ShopStore.open(pg_url)  # a second start finds the schema at head
    try:
        async with second.read() as conn:
            names = {r.name for r in await conn.execute(select(counters.c.name))}
            assert await conn.run_sync(schema_differences) == []
        assert names == {"event_seq", "order_number"}
    finally:
        await first.close()
        await second.close()


async def test_concurrent_starts_migrate_once(empty_pg_url: str) -> None:
    """Three services starting at once on an empty database: one migrates, the others wait and find it done."""
    # Without the migration lock they block each other on the half-made schema: fail in seconds, not at the timeout
    opening = asyncio.gather(*(ShopStore.open(empty_pg_url) for _ in range(3)), return_exceptions=True)
    results = await asyncio.wait_for(opening, 30)
    stores = [r for r in results if isinstance(r, ShopStore)]
    try:
        assert len(stores) == 3, [r for r in results if not isinstance(r, ShopStore)]
        head = ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_heads()
        async with stores[0].read() as conn:
            assert await conn.run_sync(schema_differences) == []
            versions = [r[0] for r in await conn.execute(text("SELECT version_num FROM alembic_version"))]
            # the rows each migration seeds are there once, not once per service
            counter_names = sorted(r.name for r in await conn.execute(select(counters.c.name)))
            keys = (await conn.execute(select(func.count()).select_from(service_keys))).scalar_one()
        assert sorted(versions) == sorted(head)  # each branch's head, once
        assert counter_names == ["event_seq", "order_number"]
        assert keys == 1
        # and all three work on it
        for i, s in enumerate(stores):
            await change(s, "contacts.create", {"name": f"Started {i}"})
        await assert_store_gap_free(stores[0])
    finally:
        for s in stores:
            await s.close()


async def test_create_update_and_conflict(store: ShopStore) -> None:
    contact = await change(store, "contacts.create", {"name": "Morag MacLeod", "email": "morag@example.co.uk"})
    assert contact["version"] == 1 and contact["updated_by"] == "tester"
    updated = await change(store, "contacts.update", contact["id"], 1, {"phone": "01838 400123"})
    assert updated["version"] == 2 and updated["phone"] == "01838 400123"
    with pytest.raises(ConflictError) as caught:
        await change(store, "contacts.update", contact["id"], 1, {"phone": "01838 000000"})
    assert caught.value.details["current"]["version"] == 2
    with pytest.raises(NotFoundError):
        await change(store, "contacts.update", 10**6, 1, {"phone": "01838 000000"})
    got = await store.get_contact(contact["id"])
    assert [h["action"] for h in got["history"]] == ["created", "updated"]
    await assert_store_gap_free(store)


async def test_orders_states_and_locks(store: ShopStore) -> None:
    contact = await change(store, "contacts.create", {"name": "Callum Fraser"})
    order = await change(store, "orders.place", contact["id"], [ITEM])
    assert order["status"] == "pending" and order["number"].startswith("K-")
    amended = await change(store, "orders.amend", order["id"], 1, {"notes": "rush"})
    started = await change(store, "orders.start", order["id"], amended["version"])
    with pytest.raises(LockedError):
        await change(store, "orders.amend", order["id"], started["version"], {"notes": "late"})
    with pytest.raises(InvalidError):
        await change(store, "orders.collect", order["id"], started["version"])
    done = await change(store, "orders.complete", order["id"], started["version"])
    pickups = await store.list_pickups(500, None, ZoneInfo("Europe/London"))
    assert order["id"] in [p["id"] for p in pickups["items"]]
    collected = await change(store, "orders.collect", order["id"], done["version"])
    assert collected["status"] == "collected"
    listed = await store.list_orders(["collected"], None, contact["id"], 10, None)
    assert [o["id"] for o in listed["items"]] == [order["id"]]
    async with store.read() as conn:
        assert listed["seq"] == await store.current_seq(conn)
    await assert_store_gap_free(store)


async def test_placement_is_idempotent_even_when_raced(store: ShopStore) -> None:
    contact = await change(store, "contacts.create", {"name": "Isla Grant"})
    items = clean_items([ITEM])

    def place(message_id: str) -> Any:
        return store.mutate(message_id, "orders.place", "tester",
                            lambda tx: store.place_order(tx, contact["id"], items, ""))

    message_id = str(uuid.uuid4())
    first = await place(message_id)
    assert await place(message_id) == first
    raced_id = str(uuid.uuid4())
    raced = await asyncio.gather(*(place(raced_id) for _ in range(4)))
    assert all(r == raced[0] for r in raced)
    async with store.read() as conn:
        count = (await conn.execute(
            select(func.count()).select_from(orders).where(orders.c.contact_id == contact["id"])
        )).scalar_one()
    assert count == 2
    await assert_store_gap_free(store)


async def test_concurrent_writers_keep_seq_gap_free(store: ShopStore, pg_url: str) -> None:
    other = await ShopStore.open(pg_url)  # a second service process's store, on its own connections
    try:
        contacts = await asyncio.gather(*(change(s, "contacts.create", {"name": f"Writer {i}"})
                                          for i, s in enumerate([store, other] * 10)))
        results = await asyncio.gather(
            *(change(s, "contacts.update", c["id"], 1, {"notes": f"by {n}"})
              for c in contacts for n, s in (("a", store), ("b", other))),
            return_exceptions=True,
        )
        assert sum(isinstance(r, dict) for r in results) == 20
        assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, dict))
        placed = await asyncio.gather(*(change(s, "orders.place", c["id"], [ITEM])
                                        for c in contacts for s in (store, other)))
        numbers = [o["number"] for o in placed]
        assert len(set(numbers)) == 40
        await assert_store_gap_free(store)
    finally:
        await other.close()


async def test_service_on_postgresql_over_the_broker(pg_url: str, settings: Settings) -> None:
    pg_settings = Settings(broker_url=settings.broker_url, namespace=settings.namespace, database_url=pg_url)
    svc = ShopService(pg_settings)
    await svc.start()
    try:
        async with ShopClient(settings.broker_url, settings.namespace, app_id="test") as client:
            log = await EventLog.attach(client)
            assert svc.store is not None
            async with svc.store.read() as conn:
                base = await svc.store.current_seq(conn)
            contact = await new_contact(client, "Kirsty Cameron")
            results = await asyncio.gather(
                *(client.call("contacts.update", {"id": contact["id"], "version": 1, "notes": n}) for n in "ab"),
                return_exceptions=True,
            )
            assert sorted(type(r).__name__ for r in results) == ["CallError", "dict"]
            assert next(r for r in results if isinstance(r, CallError)).code == "conflict"
            order = await new_order(client, contact["id"])
            message_id = str(uuid.uuid4())
            twice = await asyncio.gather(*(client.call("orders.place", {"contact_id": contact["id"],
                                                                        "items": [ITEM]}, message_id=message_id)
                                           for _ in range(2)))
            assert twice[0] == twice[1] and twice[0]["id"] != order["id"]
            for bad, field in (({"name": "Mo\x00rag"}, "name"), ({"name": "M", "notes": "a\x00b"}, "notes")):
                with pytest.raises(CallError) as caught:
                    await client.call("contacts.create", bad)
                assert (caught.value.code, caught.value.details.get("field")) == ("invalid", field)
            with pytest.raises(CallError) as caught:
                await client.call("orders.get", {"id": 2**31})
            assert caught.value.code == "invalid"
            await log.wait_for_seq(base + 4)
            # the relay also publishes what the store-only tests above left unpublished, all in seq order
            assert_gap_free(log.seqs, start=log.seqs[0])
            assert log.seqs[-1] == base + 4
            assert (await client.call("orders.list", {"contact_id": contact["id"]}))["seq"] == base + 4
            assert await Outbox(svc.store).unpublished_count() == 0
    finally:
        await svc.stop()


async def test_duplicates_and_merge_on_postgresql(store: ShopStore) -> None:
    """The review queue and contacts.merge on PostgreSQL: a pair raced twice is queued once, the merge moves
    the orders, marks the merged contact and keeps seq gap-free."""
    from app.store.duplicate_store import DuplicateStore

    duplicates = DuplicateStore(store)
    keep = await change(store, "contacts.create", {"name": "Mhairi O'Brien", "phone": "07700 900461"})
    gone = await change(store, "contacts.create", {"name": "Mhairi Ó Briain", "email": "m@example.ie"})
    order = await change(store, "orders.place", gone["id"], [ITEM])

    def flag() -> Any:
        return store.mutate(str(uuid.uuid4()), "contacts.flag_duplicate", "tester",
                            lambda tx: duplicates.flag(tx, gone["id"], keep["id"], 90, "similar names"))

    pairs = await asyncio.gather(flag(), flag(), flag())
    assert len({p["id"] for p in pairs}) == 1 and pairs[0]["first_id"] == keep["id"]
    result = await store.mutate(str(uuid.uuid4()), "contacts.merge", "tester", lambda tx: duplicates.merge(
        tx, keep["id"], 1, gone["id"], 1, clean_contact_fields({"email": "m@example.ie"}, partial=True)))
    assert result["contact"]["email"] == "m@example.ie" and result["merged"]["merged_into"] == keep["id"]
    assert [(o["id"], o["contact_id"]) for o in result["orders"]] == [(order["id"], keep["id"])]
    assert [p["status"] for p in result["pairs"]] == ["merged"]
    listed = [c["id"] for c in (await store.list_contacts(None, 500, None))["items"]]
    assert keep["id"] in listed and gone["id"] not in listed  # the database is shared by this module's tests
    with pytest.raises(InvalidError):
        await change(store, "orders.place", gone["id"], [ITEM])
    await assert_store_gap_free(store)
