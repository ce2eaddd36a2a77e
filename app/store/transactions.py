"""The store's transactions: one engine, the threads that run a transaction as one function, and `mutate`, which
runs a change once per (sender, message_id) through the requests ledger.

A transaction's body is synchronous (a function over a sync Connection): on SQLite it runs in a worker thread
over the synchronous driver (one hop from the event loop, not one per statement as with aiosqlite), writes on one
thread (SQLite has one writer anyway), reads on a few; on PostgreSQL under AsyncConnection.run_sync on the
asyncpg engine. Every change, its history row and its event row commit together (Tx.emit).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.errors import ConflictError, InvalidError
from app.domain.timestamps import now_iso
from app.store.database import is_sqlite, make_engine, make_sync_sqlite_engine, migrate
from app.store.schema import counters, history, outbox, requests, service_keys

T = TypeVar("T")
S = TypeVar("S", bound="Transactions")

REUSED_MESSAGE_ID = (
    "This message_id was already used for a different request; use a new message_id for each new change."
)
SEAL_KEY = "dead-letter-seal"  # the service_keys row of the dead-letter seal (migration 0004_ledger)
READER_THREADS = 4  # SQLite: read transactions run on this many threads at once (WAL: readers never wait)


class Tx:
    """One write transaction: the connection, who is acting, and the events it has emitted so far."""

    def __init__(self, conn: Connection, actor: str, via: str | None = None) -> None:
        self.conn = conn
        self.actor = actor
        self.via = via[:200] if via else None  # the caller's app_id, kept in history
        self.at = now_iso()
        self.events: list[dict[str, Any]] = []

    @property
    def locking(self) -> bool:
        """Whether SELECT ... FOR UPDATE means anything here (SQLite's one writer needs no row locks)."""
        return self.conn.dialect.name != "sqlite"

    def next_counter(self, name: str) -> int:
        # The UPDATE takes the row lock, so seq is handed out in commit order and a rollback leaves no gap.
        result = self.conn.execute(
            update(counters).where(counters.c.name == name).values(value=counters.c.value + 1)
            .returning(counters.c.value)
        )
        return int(result.scalar_one())

    def emit(
        self, event: str, entity: str, data: dict[str, Any], action: str, changes: dict[str, Any]
    ) -> int:
        seq = self.next_counter("event_seq")
        body = {"seq": seq, "event": event, "at": self.at, "actor": self.actor, "data": data}
        self.conn.execute(
            outbox.insert().values(
                seq=seq,
                event=event,
                message_id=str(uuid.uuid4()),
                body=json.dumps(body, separators=(",", ":")),
                created_at=self.at,
            )
        )
        self.conn.execute(
            history.insert().values(
                entity=entity, entity_id=data["id"], seq=seq, at=self.at, actor=self.actor,
                action=action, changes=changes, via=self.via,
            )
        )
        self.events.append(body)
        return seq


def seq_of(conn: Connection) -> int:
    """The last seq handed out, as this transaction sees it."""
    return int(conn.execute(select(counters.c.value).where(counters.c.name == "event_seq")).scalar_one())


class Transactions:
    """The engine and how a transaction runs on it; the stores of contacts, orders and pickups build on it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sqlite = is_sqlite(str(engine.url))
        # In one process, writers queue here instead of spinning on SQLite's file lock.
        self._write_lock = asyncio.Lock()
        self._commit_listeners: list[Callable[[], None]] = []
        self._sync_engine: Engine | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        database = engine.url.database
        if self._sqlite and database and database != ":memory:":
            self._sync_engine = make_sync_sqlite_engine(engine, pool_size=READER_THREADS + 1)
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="kiltshop-store-write")
            self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="kiltshop-store-read")
        self._seal_key: bytes | None = None

    @classmethod
    async def open(cls: type[S], url: str) -> S:
        engine = make_engine(url)
        await migrate(engine)
        return cls(engine)

    async def close(self) -> None:
        if self._sync_engine is not None:
            await asyncio.to_thread(self._close_threads)
        await self.engine.dispose()

    def _close_threads(self) -> None:
        for executor in (self._writer, self._readers):
            if executor is not None:
                executor.shutdown(wait=True)
        if self._sync_engine is not None:
            self._sync_engine.dispose()

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call listener after every committed write (the outbox relay wakes up on it)."""
        self._commit_listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._commit_listeners:
            listener()

    async def run_read(self, fn: Callable[[Connection], T]) -> T:
        """Run fn in one read transaction: everything it reads, seq included, is one consistent snapshot."""
        if self._sync_engine is not None and self._readers is not None:
            return await self._in_thread(self._readers, self._sync_transaction, fn, False)
        async with self.engine.connect() as conn:
            if not self._sqlite:
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                return await conn.run_sync(fn)

    async def run_write(self, fn: Callable[[Connection], T], notify: bool = True) -> T:
        """Run fn in one write transaction; with notify, commit listeners hear of it once it is committed."""
        if self._sync_engine is not None and self._writer is not None:
            async with self._write_lock:
                result = await self._in_thread(self._writer, self._sync_transaction, fn, True, notify)
        else:
            async with self.engine.connect() as conn:
                await conn.execution_options(write=True)
                async with conn.begin():
                    result = await conn.run_sync(fn)
        if notify:
            self._notify()
        return result

    def _sync_transaction(self, fn: Callable[[Connection], T], write: bool) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.connect() as conn:
            if write:
                conn.execution_options(write=True)  # BEGIN IMMEDIATE (database.py)
            with conn.begin():
                return fn(conn)

    async def _in_thread(
        self, executor: ThreadPoolExecutor, run: Callable[[Callable[[Connection], T], bool], T],
        fn: Callable[[Connection], T], write: bool, notify: bool = False,
    ) -> T:
        future = executor.submit(run, fn, write)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # The caller gave up, but a transaction already running in the thread still ends (commits or rolls
            # back); if it commits, the listeners must still hear of it, on the event loop's thread.
            if notify and not future.cancelled():
                loop = asyncio.get_running_loop()

                def done(f: Future[T]) -> None:
                    if not f.cancelled() and f.exception() is None:
                        loop.call_soon_threadsafe(self._notify)

                future.add_done_callback(done)
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction on an AsyncConnection (for tools and tests; the store itself uses run_read)."""
        async with self.engine.connect() as conn:
            if not self._sqlite:
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def write(self, notify: bool = True) -> AsyncIterator[AsyncConnection]:
        """A write transaction on an AsyncConnection (for tools and tests; the store itself uses run_write);
        with notify, commit listeners hear of it once it is committed."""
        lock = self._write_lock if self._sqlite else contextlib.nullcontext()
        async with lock, self.engine.connect() as conn:
            await conn.execution_options(write=True)
            async with conn.begin():
                yield conn
        if notify:
            self._notify()

    async def current_seq(self, conn: AsyncConnection) -> int:
        """The last seq handed out, as conn's transaction sees it (seq_of for an AsyncConnection)."""
        return await conn.run_sync(seq_of)

    async def mutate(
        self,
        message_id: str,
        method: str,
        actor: str,
        change: Callable[[Tx], dict[str, Any]],
        via: str | None = None,
        digest: str | None = None,
    ) -> dict[str, Any]:
        """Run change once per (actor, message_id) and return its result; a repeat returns the first result.

        The ledger is per sender: the actor (the broker-checked user_id) is the sender, so another login's reuse
        of a message_id is a request of its own and never sees this one's reply. digest identifies the request
        (see app.service.handlers.request_digest): a repeat with another digest, or another method, is refused.
        Without a digest (tools and tests in-process) only the method is compared.

        change runs inside the write transaction (in a worker thread on SQLite): it is synchronous, e.g.
        `lambda tx: store.create_contact(tx, fields)`.
        """

        def run(conn: Connection) -> dict[str, Any]:
            seen = conn.execute(
                select(requests.c.method, requests.c.digest, requests.c.reply)
                .where(requests.c.sender == actor, requests.c.message_id == message_id)
            ).first()
            if seen is not None:
                if seen.method != method or (digest is not None and seen.digest is not None and seen.digest != digest):
                    raise InvalidError(REUSED_MESSAGE_ID, field="message_id")
                return dict(seen.reply)
            tx = Tx(conn, actor, via)
            result = change(tx)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError("ShopStore.mutate: change must be synchronous (the store's Tx methods are)")
            conn.execute(
                requests.insert().values(
                    sender=actor, message_id=message_id, method=method, digest=digest, reply=result,
                    created_at=tx.at,
                )
            )
            return result

        for _attempt in range(2):
            try:
                return await self.run_write(run)
            except IntegrityError:
                # Two deliveries of one message_id raced (PostgreSQL); the loser reads the winner's reply.
                continue
        raise ConflictError("This change was sent twice at the same moment; please try again.")

    async def seal_key(self) -> bytes:
        """The key that seals dead letters (HMAC), made by migration 0004_ledger; made here if it is missing."""
        if self._seal_key is None:
            self._seal_key = bytes.fromhex(await self._seal_key_hex())
        return self._seal_key

    async def _seal_key_hex(self) -> str:
        def read(conn: Connection) -> str | None:
            value = conn.execute(select(service_keys.c.value).where(service_keys.c.name == SEAL_KEY)).scalar()
            return None if value is None else str(value)

        def make(conn: Connection) -> str:
            value = read(conn)
            if value is None:
                value = secrets.token_hex(32)
                conn.execute(service_keys.insert().values(name=SEAL_KEY, value=value))
            return value

        value = await self.run_read(read)
        if value is not None:
            return value
        try:
            return await self.run_write(make, notify=False)
        except IntegrityError:
            # Another process made it at the same moment (PostgreSQL): theirs is the key.
            value = await self.run_read(read)
            assert value is not None
            return value
