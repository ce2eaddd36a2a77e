"""The requests ledger is per sender and knows what each request asked for: (sender, message_id) is the key, and a
digest of method + body tells a true repeat from a different request under a used id.

End to end: a private broker node with per-role logins (the broker checks user_id against the login, so two
senders need two logins), the shop service in this process, and the store and sales logins as clients. Then the
store itself (ShopStore.mutate, no broker), and the migration that brought the ledger per sender (0004_ledger) from
a database at 0003, on SQLite and, when it is reachable, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from app.client.shop_client import CallError, ShopClient
from app.config import Settings
from app.domain.errors import InvalidError
from app.service.handlers import request_digest
from app.service.shop_service import ShopService
from app.store.database import ALEMBIC_INI, DATABASE_WAIT_S, make_engine, sqlite_url_for
from app.store.schema import requests, service_keys
from app.store.shop_store import ShopStore, Tx
from tests.conftest import PG_URL, reachable
from tests.shop_helpers import PrivateRabbit, schema_differences
from tests.shop_helpers import ProvisionedShop as Shop

NS = "ledger"
VHOST = "ledger-shop"
KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}
REUSED = "This message_id was already used for a different request; use a new message_id for each new change."

needs_rabbit = pytest.mark.skipif(not PrivateRabbit.available(), reason="needs the rabbitmq-server package")


# -- end to end: two logins, one message_id --------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    with Shop(NS, VHOST) as provisioned:
        yield provisioned


@pytest.fixture
async def service(shop: Shop, tmp_path: Path) -> AsyncIterator[ShopService]:
    settings = Settings(broker_url=shop.role_url("service"), namespace=NS,
                        database_url=sqlite_url_for(tmp_path / "shop.sqlite3"))
    svc = ShopService(settings)
    assert not svc.dev_mode  # every call is checked against its login's role
    await svc.start()
    yield svc
    await svc.stop()


@pytest.fixture
async def store_login(shop: Shop, service: ShopService) -> AsyncIterator[ShopClient]:
    async with ShopClient(shop.role_url("store"), NS, app_id="test-webstore", timeout=10) as client:
        yield client


@pytest.fixture
async def sales(shop: Shop, service: ShopService) -> AsyncIterator[ShopClient]:
    async with ShopClient(shop.role_url("sales"), NS, app_id="test-sales", timeout=10) as client:
        yield client


async def shop_state(client: ShopClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Every contact, every order and the last event's seq (the few of a test fit in one page)."""
    contacts = await client.call("contacts.list", {"limit": 200})
    orders = await client.call("orders.list", {"limit": 200})
    assert contacts["next_cursor"] is None and orders["next_cursor"] is None
    return contacts["items"], orders["items"], max(contacts["seq"], orders["seq"])


@needs_rabbit
async def test_another_login_reusing_a_message_id_gets_its_own_contact(
    store_login: ShopClient, sales: ShopClient
) -> None:
    message_id = f"shared-{uuid.uuid4()}"
    theirs = await store_login.call("contacts.create", {"name": "Ailsa Web", "email": "ailsa@example.co.uk"},
                                    message_id=message_id)
    mine = await sales.call("contacts.create", {"name": "Morag Desk", "phone": "01838 400123"},
                            message_id=message_id)
    assert mine["id"] != theirs["id"]
    assert (mine["name"], mine["phone"], mine["updated_by"]) == ("Morag Desk", "01838 400123", f"{NS}.sales")
    # even the very same body under the store's id is sales' own request: a contact of its own
    same = await sales.call("contacts.create", {"name": "Ailsa Web", "email": "ailsa@example.co.uk"},
                            message_id=message_id + "-2")
    again = await store_login.call("contacts.create", {"name": "Ailsa Web", "email": "ailsa@example.co.uk"},
                                   message_id=message_id + "-2")
    assert again["id"] != same["id"] and again["updated_by"] == f"{NS}.store"

    contacts, _orders, seq = await shop_state(sales)
    assert {c["id"]: c["name"] for c in contacts} == {
        theirs["id"]: "Ailsa Web", mine["id"]: "Morag Desk", same["id"]: "Ailsa Web", again["id"]: "Ailsa Web",
    }
    assert seq == 4  # four contacts, four events
    # and each login's own repeat still gets its own first reply
    assert await sales.call("contacts.create", {"name": "Morag Desk", "phone": "01838 400123"},
                            message_id=message_id) == mine
    assert await store_login.call("contacts.create", {"name": "Ailsa Web", "email": "ailsa@example.co.uk"},
                                  message_id=message_id) == theirs
    assert (await shop_state(sales))[2] == 4


@needs_rabbit
async def test_the_store_replaying_an_order_id_of_sales_never_gets_sales_reply(
    store_login: ShopClient, sales: ShopClient
) -> None:
    customer = await sales.call("contacts.create", {"name": "Isla Grant"})
    message_id = str(uuid.uuid4())
    params = {"contact_id": customer["id"], "items": [KILT], "notes": "Wedding on the 14th; pays by card, 4417"}
    placed = await sales.call("orders.place", params, message_id=message_id)

    # a refusal of its own: the same id for an order of a customer who is not there
    with pytest.raises(CallError) as refused:
        await store_login.call("orders.place", {"contact_id": 999_999, "items": [KILT]}, message_id=message_id)
    assert refused.value.code == "not_found"
    assert "4417" not in refused.value.message and placed["number"] not in refused.value.message
    # the same body under the same id: an order of its own (the store may order for any customer)
    own = await store_login.call("orders.place", params, message_id=message_id)
    assert own["number"] != placed["number"] and own["id"] != placed["id"]
    assert own["updated_by"] == f"{NS}.store" and placed["updated_by"] == f"{NS}.sales"

    _contacts, orders, seq = await shop_state(sales)
    assert sorted(o["number"] for o in orders) == sorted([placed["number"], own["number"]])
    assert seq == 3  # the contact and two orders
    assert await sales.call("orders.place", params, message_id=message_id) == placed  # sales' repeat: its reply


@needs_rabbit
async def test_the_same_login_reusing_a_message_id_for_another_request_is_refused_and_changes_nothing(
    sales: ShopClient,
) -> None:
    message_id = str(uuid.uuid4())
    customer = await sales.call("contacts.create", {"name": "Fiona Bell"}, message_id=message_id)
    order_id = str(uuid.uuid4())
    order = await sales.call("orders.place", {"contact_id": customer["id"], "items": [KILT]}, message_id=order_id)
    before = await shop_state(sales)

    other_body = ("contacts.create", {"name": "Someone Else"}, message_id)
    more_kilts = ("orders.place", {"contact_id": customer["id"], "items": [{**KILT, "quantity": 2}]}, order_id)
    other_method = ("contacts.update", {"id": customer["id"], "version": 1, "notes": "x"}, message_id)
    for method, params, used_id in (other_body, more_kilts, other_method):
        with pytest.raises(CallError) as refused:
            await sales.call(method, params, message_id=used_id)
        assert (refused.value.code, refused.value.message) == ("invalid", REUSED), method
        assert refused.value.details.get("field") == "message_id"
    assert await shop_state(sales) == before  # no contact, no order, no event, nothing changed
    assert (await sales.call("orders.get", {"id": order["id"]}))["version"] == order["version"]


@needs_rabbit
async def test_the_same_login_repeating_a_request_gets_the_first_reply_and_no_second_event(
    sales: ShopClient,
) -> None:
    customer = await sales.call("contacts.create", {"name": "Catriona Muir"})
    message_id = str(uuid.uuid4())
    params = {"contact_id": customer["id"], "items": [KILT], "notes": "Fitting on Friday"}
    first = await sales.call("orders.place", params, message_id=message_id)
    before = await shop_state(sales)
    reordered = {"notes": "Fitting on Friday", "items": [dict(reversed(list(KILT.items())))],
                 "contact_id": customer["id"]}  # the same request, its keys in another order
    assert await sales.call("orders.place", reordered, message_id=message_id) == first
    assert await sales.call("orders.place", params, message_id=message_id) == first
    assert await shop_state(sales) == before
    assert before[2] == 2  # the contact's event and the order's, no more


# -- the store: ShopStore.mutate and the digest ----------------------------------------------------------------


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[ShopStore]:
    store = await ShopStore.open(sqlite_url_for(tmp_path / "shop.sqlite3"))
    yield store
    await store.close()


class Counted:
    """A contacts.create change that counts how often it runs."""

    def __init__(self, store: ShopStore, name: str) -> None:
        self.store, self.name, self.runs = store, name, 0

    def __call__(self, tx: Tx) -> dict[str, Any]:
        self.runs += 1
        return self.store.create_contact(tx, {"name": self.name})


def test_the_digest_is_of_the_method_and_the_canonical_body() -> None:
    body = {"contact_id": 3, "items": [{"quantity": 1, "tartan": "Ross"}], "notes": "Pleats to the stripe"}
    reordered = {"notes": "Pleats to the stripe", "items": [{"tartan": "Ross", "quantity": 1}], "contact_id": 3}
    digest = request_digest("orders.place", body)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert request_digest("orders.place", reordered) == digest
    assert request_digest("orders.amend", body) != digest
    assert request_digest("orders.place", {**body, "notes": "Pleats to the sett"}) != digest
    assert request_digest("orders.place", {**body, "contact_id": 4}) != digest
    # a lone surrogate (valid JSON, not encodable as UTF-8) still has a digest, its own
    assert request_digest("contacts.create", {"name": "\ud800"}) != request_digest("contacts.create", {"name": "?"})


async def test_mutate_runs_once_per_sender_and_refuses_another_request_under_a_used_id(
    sqlite_store: ShopStore,
) -> None:
    store = sqlite_store
    digest = request_digest("contacts.create", {"name": "Morag"})
    first = Counted(store, "Morag")
    reply = await store.mutate("m-1", "contacts.create", "ledger.store", first, digest=digest)
    # the same sender, id, method and digest: the first reply, nothing run
    again = Counted(store, "Morag")
    assert await store.mutate("m-1", "contacts.create", "ledger.store", again, digest=digest) == reply
    assert again.runs == 0
    # another body or another method under the same id: refused, nothing run
    for method, other in (("contacts.create", request_digest("contacts.create", {"name": "Other"})),
                          ("contacts.update", digest)):
        refused = Counted(store, "Other")
        with pytest.raises(InvalidError) as caught:
            await store.mutate("m-1", method, "ledger.store", refused, digest=other)
        assert str(caught.value) == REUSED and caught.value.details["field"] == "message_id"
        assert refused.runs == 0
    # another sender: a request of its own, with its own reply
    sales = Counted(store, "Morag")
    theirs = await store.mutate("m-1", "contacts.create", "ledger.sales", sales, digest=digest)
    assert sales.runs == 1 and theirs["id"] != reply["id"] and theirs["updated_by"] == "ledger.sales"
    # without a digest (in-process tools), only the method is compared
    assert await store.mutate("m-1", "contacts.create", "ledger.store", Counted(store, "x")) == reply

    async with store.read() as conn:
        rows = {(r.sender, r.message_id): r.digest for r in await conn.execute(select(requests))}
    assert rows == {("ledger.store", "m-1"): digest, ("ledger.sales", "m-1"): digest}
    assert [c["name"] for c in (await store.list_contacts(None, 10, None))["items"]] == ["Morag", "Morag"]


async def test_the_seal_key_is_one_per_database_and_made_again_if_missing(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "shop.sqlite3")
    first, second = await ShopStore.open(url), await ShopStore.open(url)
    try:
        key = await first.seal_key()
        assert isinstance(key, bytes) and len(key) == 32
        assert await second.seal_key() == key
        async with first.write(notify=False) as conn:
            await conn.execute(delete(service_keys))
        fresh = [ShopStore(first.engine), ShopStore(second.engine)]  # no key in memory yet
        made = await asyncio.gather(*(s.seal_key() for s in fresh))
        assert made[0] == made[1] and len(made[0]) == 32 and made[0] != key
        async with first.read() as conn:
            assert len((await conn.execute(select(service_keys))).all()) == 1
    finally:
        await first.close()
        await second.close()


# -- the migration from 0003 -------------------------------------------------------------------------------------


def _admin_dsn() -> str:
    parts = urlsplit(PG_URL.replace("+asyncpg", ""))
    return urlunsplit(parts._replace(path=parts.path or "/postgres"))


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url_for(tmp_path / "old.sqlite3")
        return
    if not reachable(PG_URL, 5432):
        pytest.skip(f"no PostgreSQL at {PG_URL} (set KILTSHOP_TEST_PG_URL to run the PostgreSQL tests)")
    pytest.importorskip("asyncpg")
    name = f"kiltshop_ledger_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.skip(f"cannot create a PostgreSQL database at {PG_URL}: {exc}")
    try:
        yield urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_the_migration_from_0003_keeps_old_replies_under_no_sender_and_makes_the_seal(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    try:
        def to_0003(conn: Connection) -> None:
            config = Config(str(ALEMBIC_INI))  # as `alembic upgrade` would, on this connection
            config.attributes["connection"] = conn
            command.upgrade(config, "0003_import")
            conn.execute(text("INSERT INTO requests (message_id, method, reply, created_at) VALUES "
                              "('old-1', 'contacts.create', :reply, '2026-01-05T10:00:00.000Z')"),
                         {"reply": '{"id": 41, "name": "Before the upgrade"}'})

        async with engine.connect() as conn:
            await conn.run_sync(to_0003)
            await conn.commit()
    finally:
        await engine.dispose()

    store = await ShopStore.open(fresh_url)  # migrates to every head, 0004_ledger among them
    try:
        async with store.read() as conn:
            rows = [tuple(r) for r in await conn.execute(
                select(requests.c.sender, requests.c.message_id, requests.c.method, requests.c.digest,
                       requests.c.reply))]
            assert rows == [("", "old-1", "contacts.create", None, {"id": 41, "name": "Before the upgrade"})]
            keys = [tuple(r) for r in await conn.execute(select(service_keys))]
            assert await conn.run_sync(schema_differences) == []
        assert [name for name, _value in keys] == ["dead-letter-seal"]
        assert len(keys[0][1]) == 64 and await store.seal_key() == bytes.fromhex(keys[0][1])
        # nobody sends as '': the old id is a new request for a sender of today, kept apart from the old row
        digest = request_digest("contacts.create", {"name": "After the upgrade"})
        made = await store.mutate("old-1", "contacts.create", "ledger.sales",
                                  lambda tx: store.create_contact(tx, {"name": "After the upgrade"}), digest=digest)
        assert made["name"] == "After the upgrade"
        async with store.read() as conn:
            senders = sorted(r.sender for r in await conn.execute(select(requests.c.sender)))
        assert senders == ["", "ledger.sales"]
    finally:
        await store.close()


# -- a locked database fails fast --------------------------------------------------------------------------------


async def test_a_locked_database_fails_a_change_well_within_a_clients_call_timeout(sqlite_store: ShopStore) -> None:
    """Another writer holds SQLite's lock: the change gives up after DATABASE_WAIT_S, while a caller (10 s) still
    waits for the answer, rather than waiting 30 s and committing behind a caller who has given up."""
    path = str(sqlite_store.engine.url.database)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            await sqlite_store.mutate("m-locked", "contacts.create", "ledger.sales",
                                      lambda tx: sqlite_store.create_contact(tx, {"name": "Kept waiting"}))
        waited = time.monotonic() - started
        assert DATABASE_WAIT_S - 0.5 <= waited < 8, waited
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await sqlite_store.list_contacts(None, 10, None))["items"] == []
