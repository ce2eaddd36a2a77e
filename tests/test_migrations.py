"""Migrations: after ShopStore.open the database schema is exactly app/store/schema.py (Alembic autogenerate finds
no difference), a reopen changes nothing, and concurrent first starts on one SQLite file all succeed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from app.store.database import sqlite_url_for
from app.store.schema import counters, metadata
from app.store.shop_store import ShopStore
from tests.shop_helpers import schema_differences


def _versions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _script_heads() -> set[str]:
    # Migrations may branch off one revision (each feature its own); the store upgrades to every head.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.store.database import ALEMBIC_INI

    return set(ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_heads())


async def test_schema_after_migration_matches_the_metadata(tmp_path: Path) -> None:
    store = await ShopStore.open(sqlite_url_for(tmp_path / "shop.sqlite3"))
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(schema_differences) == []
            assert await conn.run_sync(_versions) == _script_heads()
            assert "0002_notices" in _script_heads()
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables == set(metadata.tables) | {"alembic_version"}
    finally:
        await store.close()


async def test_reopening_keeps_data_and_counters(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "shop.sqlite3")
    store = await ShopStore.open(url)
    try:
        await store.mutate("m-1", "contacts.create", "tester",
                           lambda tx: store.create_contact(tx, {"name": "Morag MacLeod"}))
    finally:
        await store.close()
    store = await ShopStore.open(url)
    try:
        listed = await store.list_contacts(None, 10, None)
        assert [c["name"] for c in listed["items"]] == ["Morag MacLeod"] and listed["seq"] == 1
        async with store.read() as conn:
            values = {r.name: r.value for r in await conn.execute(select(counters))}
        assert values == {"event_seq": 1, "order_number": 0}
    finally:
        await store.close()


async def test_concurrent_first_starts_on_one_sqlite_file(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "nested" / "shop.sqlite3")  # the directory is made too
    stores = await asyncio.gather(*(ShopStore.open(url) for _ in range(4)))
    try:
        async with stores[0].read() as conn:
            values = {r.name: r.value for r in await conn.execute(select(counters))}
        assert values == {"event_seq": 0, "order_number": 0}  # seeded exactly once
    finally:
        for store in stores:
            await store.close()
