"""Engine set-up and schema migrations (Alembic), for SQLite files and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
MIGRATION_LOCK_KEY = 0x6B696C74  # "kilt": the PostgreSQL advisory lock taken while migrating
# How long a SQLite statement waits for another writer's lock before it fails ("database is locked"), and how long
# connecting to PostgreSQL (asyncpg) may take. Shorter than a client's call timeout (10 s by default), so a locked
# or unreachable database fails the call while the caller still waits for the answer, instead of the write
# happening later behind a caller who has given up and may try again.
DATABASE_WAIT_S = 5


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_url_for(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def make_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Every transaction ends in an explicit COMMIT or ROLLBACK, so the pool need not roll back again
        # on check-in (with aiosqlite each statement is a hop to its thread).
        engine = create_async_engine(url, connect_args={"timeout": DATABASE_WAIT_S}, pool_reset_on_return=None)
        _sqlite_transactions(engine.sync_engine)
        return engine
    connect_args = {"timeout": DATABASE_WAIT_S} if url.startswith("postgresql+asyncpg") else {}
    return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)


def make_sync_sqlite_engine(engine: AsyncEngine, pool_size: int) -> Engine:
    """A synchronous pysqlite engine on the same file as an aiosqlite engine, set up the same way (WAL,
    foreign keys, busy timeout, BEGIN IMMEDIATE for writes). The store runs each transaction on it in one
    worker thread, one hop from the event loop instead of one per statement."""
    url = engine.url.set(drivername="sqlite+pysqlite")
    sync_engine = create_engine(
        url, connect_args={"timeout": DATABASE_WAIT_S, "check_same_thread": False}, pool_reset_on_return=None,
        pool_size=pool_size, max_overflow=0,
    )
    _sqlite_transactions(sync_engine)
    return sync_engine


def _sqlite_transactions(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and never takes the write lock up front;
    # we issue BEGIN ourselves so a write transaction can take it at once (BEGIN IMMEDIATE) and two
    # processes never deadlock upgrading a read lock. WAL lets readers go on while one writes.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={DATABASE_WAIT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _alembic_config(connection: Connection) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; safe to run on every start."""

    def _upgrade(connection: Connection) -> None:
        command.upgrade(_alembic_config(connection), "heads")

    # Several services may start at once on one database: the first migrates, the others wait, then find the
    # schema at head. SQLite: BEGIN IMMEDIATE (see write) takes the write lock up front, so a second process
    # waits for it instead of failing to upgrade a read lock ("database is locked"). PostgreSQL: an advisory
    # lock held until the migration transaction ends.
    # SQLite also needs a file lock: Alembic's batch migrations rebuild tables in steps, and engines that
    # meet half way (or switch the journal to WAL meanwhile) get "database is locked" or a missing table.
    async with _sqlite_migration_lock(engine), engine.connect() as conn:
        await conn.execution_options(write=True)
        async with conn.begin():
            if not is_sqlite(str(engine.url)):
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade)


@asynccontextmanager
async def _sqlite_migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    path = engine.url.database
    if not is_sqlite(str(engine.url)) or not path or path == ":memory:":
        yield
        return
    fd = os.open(f"{path}.migrate-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        # flock blocks: wait in a thread so other engines in this same process can finish meanwhile.
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
