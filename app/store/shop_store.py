"""Contacts and orders: every change, its history row and its event row in one transaction.

The store applies the shop's rules (app.domain) and writes the events it causes to the outbox; it never
talks to a broker. Mutations run once per (sender, message_id): a retried call gets the reply it got the first
time.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.billing import MINUTE_CHARS, per_local_day
from app.domain.errors import ConflictError, InvalidError, NotFoundError
from app.domain.order_states import OrderStatus, check_customer_change, next_status
from app.domain.validation import MEASUREMENT_FIELDS, total_pence
from app.store.database import is_sqlite, make_engine, make_sync_sqlite_engine, migrate
from app.store.schema import contacts, counters, history, orders, outbox, requests, service_keys

T = TypeVar("T")

REUSED_MESSAGE_ID = (
    "This message_id was already used for a different request; use a new message_id for each new change."
)
SEAL_KEY = "dead-letter-seal"  # the service_keys row of the dead-letter seal (migration 0004_ledger)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_number(n: int) -> str:
    return f"K-{n:04d}"


def contact_entity(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "name": m["name"],
        "email": m["email"],
        "phone": m["phone"],
        "address": m["address"],
        "measurements": {name: m[name] for name in MEASUREMENT_FIELDS},
        "notes": m["notes"],
        "version": m["version"],
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
        "updated_by": m["updated_by"],
        "merged_into": m["merged_into"],
    }


def order_entity(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "number": m["number"],
        "contact_id": m["contact_id"],
        "status": m["status"],
        "items": list(m["items"]),
        "notes": m["notes"],
        "total_pence": m["total_pence"],
        "version": m["version"],
        "placed_at": m["placed_at"],
        "updated_at": m["updated_at"],
        "updated_by": m["updated_by"],
    }


def pickup_entity(row: Any) -> dict[str, Any]:
    """An order with where to collect it and what to bill, from a row joined with its contact's c_* columns."""
    entity = order_entity(row)
    m = row._mapping
    entity["contact"] = {
        "id": entity["contact_id"], "name": m["c_name"], "address": m["c_address"],
        "phone": m["c_phone"], "email": m["c_email"],
    }
    entity["amount_due_pence"] = entity["total_pence"]
    return entity


def _contact_columns(fields: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in fields.items() if k != "measurements"}
    if "measurements" in fields:
        values.update(fields["measurements"])
    return values


class Tx:
    """One write transaction: the connection, who is acting, and the events it has emitted so far.

    Synchronous: a transaction's body runs as one function over a sync Connection (in the store's writer
    thread on SQLite, under AsyncConnection.run_sync on PostgreSQL), see ShopStore.run_write.
    """

    def __init__(self, conn: Connection, actor: str, via: str | None = None) -> None:
        self.conn = conn
        self.actor = actor
        self.via = via[:200] if via else None  # the caller's app_id, kept in history
        self.at = now_iso()
        self.events: list[dict[str, Any]] = []

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


READER_THREADS = 4  # SQLite: read transactions run on this many threads at once (WAL: readers never wait)


class ShopStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sqlite = is_sqlite(str(engine.url))
        # In one process, writers queue here instead of spinning on SQLite's file lock.
        self._write_lock = asyncio.Lock()
        self._commit_listeners: list[Callable[[], None]] = []
        # SQLite: each transaction runs as one function in a worker thread over the synchronous driver (one
        # hop from the event loop, not one per statement as with aiosqlite); writes on one thread (SQLite has
        # one writer anyway), reads on a few. PostgreSQL: AsyncConnection.run_sync on the asyncpg engine.
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
    async def open(cls, url: str) -> ShopStore:
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

    # -- transactions ---------------------------------------------------------------------------

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
        async with self._write_lock if self._sqlite else _nullcontext(), self.engine.connect() as conn:
            await conn.execution_options(write=True)
            async with conn.begin():
                yield conn
        if notify:
            self._notify()

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

    async def current_seq(self, conn: AsyncConnection) -> int:
        return int(
            (await conn.execute(select(counters.c.value).where(counters.c.name == "event_seq"))).scalar_one()
        )

    # -- contacts -------------------------------------------------------------------------------

    def _contact_row(self, conn: Connection, contact_id: int, lock: bool = False) -> Any:
        query = select(contacts).where(contacts.c.id == contact_id)
        if lock and not self._sqlite:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"There is no contact with id {contact_id}.", {"id": contact_id})
        return row

    async def list_contacts(
        self, q: str | None, limit: int, cursor: int | None, merged: bool = False
    ) -> dict[str, Any]:
        query = select(contacts) if merged else select(contacts).where(contacts.c.merged_into.is_(None))
        if q:
            needle = q.lower()
            query = query.where(
                or_(*(func.lower(col).contains(needle, autoescape=True) for col in
                      (contacts.c.name, contacts.c.email, contacts.c.phone, contacts.c.address)))
            )

        def run(conn: Connection) -> dict[str, Any]:
            seq = seq_of(conn)
            items, next_cursor = _page(conn, query, contacts.c.id, limit, cursor)
            return {"items": [contact_entity(r) for r in items], "seq": seq, "next_cursor": next_cursor}

        return await self.run_read(run)

    async def get_contact(self, contact_id: int) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            entity = contact_entity(self._contact_row(conn, contact_id))
            entity["history"] = _history(conn, "contact", contact_id)
            entity["seq"] = seq_of(conn)
            return entity

        return await self.run_read(run)

    def create_contact(self, tx: Tx, fields: dict[str, Any]) -> dict[str, Any]:
        values = {
            "name": "", "email": "", "phone": "", "address": "", "notes": "",
            **dict.fromkeys(MEASUREMENT_FIELDS),
            **_contact_columns(fields),
        }
        result = tx.conn.execute(
            contacts.insert().values(
                **values, version=1, created_at=tx.at, updated_at=tx.at, updated_by=tx.actor
            ).returning(*contacts.c)
        )
        entity = contact_entity(result.one())
        tx.emit("contact.created", "contact", entity, "created", {k: [None, v] for k, v in fields.items()})
        return entity

    def update_contact(
        self, tx: Tx, contact_id: int, version: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        current = contact_entity(self._contact_row(tx.conn, contact_id, lock=True))
        refuse_merged(current, "id")
        _check_version("Contact", current["name"], current, version)
        changes = {k: [current[k], v] for k, v in fields.items() if current[k] != v}
        if not changes:
            return current
        result = tx.conn.execute(
            update(contacts)
            .where(and_(contacts.c.id == contact_id, contacts.c.version == version))
            .values(**_contact_columns(fields), version=version + 1, updated_at=tx.at, updated_by=tx.actor)
            .returning(*contacts.c)
        )
        entity = contact_entity(result.one())
        tx.emit("contact.updated", "contact", entity, "updated", changes)
        return entity

    # -- orders ---------------------------------------------------------------------------------

    def _order_row(self, conn: Connection, order_id: int, lock: bool = False) -> Any:
        query = select(orders).where(orders.c.id == order_id)
        if lock and not self._sqlite:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"There is no order with id {order_id}.", {"id": order_id})
        return row

    def _orders_query(self, statuses: list[str] | None, q: str | None, contact_id: int | None) -> Select[Any]:
        query = select(orders)
        if statuses:
            query = query.where(orders.c.status.in_(statuses))
        if contact_id is not None:
            query = query.where(orders.c.contact_id == contact_id)
        if q:
            needle = q.lower()
            by_name = select(contacts.c.id).where(func.lower(contacts.c.name).contains(needle, autoescape=True))
            query = query.where(
                or_(func.lower(orders.c.number).contains(needle, autoescape=True),
                    func.lower(orders.c.notes).contains(needle, autoescape=True),
                    orders.c.contact_id.in_(by_name))
            )
        return query

    async def list_orders(
        self, statuses: list[str] | None, q: str | None, contact_id: int | None, limit: int, cursor: int | None
    ) -> dict[str, Any]:
        query = self._orders_query(statuses, q, contact_id)

        def run(conn: Connection) -> dict[str, Any]:
            seq = seq_of(conn)
            rows, next_cursor = _page(conn, query, orders.c.id, limit, cursor)
            return {"items": [order_entity(r) for r in rows], "seq": seq, "next_cursor": next_cursor}

        return await self.run_read(run)

    async def get_order(self, order_id: int) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            entity = order_entity(self._order_row(conn, order_id))
            entity["contact"] = contact_entity(self._contact_row(conn, entity["contact_id"]))
            entity["history"] = _history(conn, "order", order_id)
            entity["seq"] = seq_of(conn)
            return entity

        return await self.run_read(run)

    async def list_pickups(self, limit: int, cursor: int | None, zone: ZoneInfo) -> dict[str, Any]:
        """Completed orders waiting for collection, each with where to collect and what to bill; per day in the
        shop's time zone `zone`."""
        query = select(orders, contacts.c.name.label("c_name"), contacts.c.address.label("c_address"),
                       contacts.c.phone.label("c_phone"), contacts.c.email.label("c_email")).join(
            contacts, contacts.c.id == orders.c.contact_id
        ).where(orders.c.status == OrderStatus.COMPLETED.value)

        def run(conn: Connection) -> dict[str, Any]:
            seq = seq_of(conn)
            rows, next_cursor = _page(conn, query, orders.c.id, limit, cursor)
            count, due = conn.execute(
                select(func.count(), func.coalesce(func.sum(orders.c.total_pence), 0))
                .where(orders.c.status == OrderStatus.COMPLETED.value)
            ).one()
            # Per local day the orders became ready (a completed order's last change is its completion): summed
            # per UTC minute in SQL, then into the shop's days.
            ready_minute = func.substr(orders.c.updated_at, 1, MINUTE_CHARS)
            days = per_local_day(((minute, n, total) for minute, n, total in conn.execute(
                select(ready_minute, func.count(), func.coalesce(func.sum(orders.c.total_pence), 0))
                .where(orders.c.status == OrderStatus.COMPLETED.value)
                .group_by(ready_minute)
            )), zone)
            items = [pickup_entity(row) for row in rows]
            return {
                "items": items, "seq": seq, "next_cursor": next_cursor,
                "count": int(count), "total_due_pence": int(due),  # over every page, not just this one
                "days": days,
            }

        return await self.run_read(run)

    def place_order(
        self, tx: Tx, contact_id: int, items: list[dict[str, Any]], notes: str
    ) -> dict[str, Any]:
        refuse_merged(contact_entity(self._contact_row(tx.conn, contact_id)), "contact_id")
        number = order_number(tx.next_counter("order_number"))
        result = tx.conn.execute(
            orders.insert().values(
                number=number, contact_id=contact_id, status=OrderStatus.PENDING.value, items=items,
                notes=notes, total_pence=total_pence(items), version=1, placed_at=tx.at, updated_at=tx.at,
                updated_by=tx.actor,
            ).returning(*orders.c)
        )
        entity = order_entity(result.one())
        tx.emit("order.placed", "order", entity, "placed",
                {"items": [None, items], "notes": [None, notes], "status": [None, "pending"]})
        return entity

    def amend_order(
        self, tx: Tx, order_id: int, version: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        current = order_entity(self._order_row(tx.conn, order_id, lock=True))
        check_customer_change(current["number"], OrderStatus(current["status"]), "changed")
        _check_version("Order", current["number"], current, version)
        changes = {k: [current[k], v] for k, v in fields.items() if current[k] != v}
        if not changes:
            return current
        values = dict(fields)
        if "items" in fields:
            values["total_pence"] = total_pence(fields["items"])
        return self._write_order(tx, current, version, values, "order.amended", "amended", changes)

    def move_order(self, tx: Tx, order_id: int, version: int, action: str) -> dict[str, Any]:
        current = order_entity(self._order_row(tx.conn, order_id, lock=True))
        target, event = next_status(current["number"], OrderStatus(current["status"]), action)
        _check_version("Order", current["number"], current, version)
        return self._write_order(
            tx, current, version, {"status": target.value}, event, event.split(".", 1)[1],
            {"status": [current["status"], target.value]},
        )

    def _write_order(
        self, tx: Tx, current: dict[str, Any], version: int, values: dict[str, Any], event: str,
        action: str, changes: dict[str, Any],
    ) -> dict[str, Any]:
        result = tx.conn.execute(
            update(orders)
            .where(and_(orders.c.id == current["id"], orders.c.version == version))
            .values(**values, version=version + 1, updated_at=tx.at, updated_by=tx.actor)
            .returning(*orders.c)
        )
        entity = order_entity(result.one())
        tx.emit(event, "order", entity, action, changes)
        return entity


def refuse_merged(contact: dict[str, Any], field: str) -> None:
    """A contact merged into another is kept for its history but takes no changes and no orders."""
    if contact.get("merged_into"):
        raise InvalidError(
            f"Contact {contact['id']} ({contact['name']}) was merged into contact {contact['merged_into']}; "
            f"use contact {contact['merged_into']} instead.",
            field=field, details={"merged_into": contact["merged_into"]},
        )


def _check_version(kind: str, label: str, current: dict[str, Any], version: int) -> None:
    if current["version"] != version:
        raise ConflictError(
            f"{kind} {label} was changed by {current['updated_by']} at {current['updated_at']} after you "
            f"loaded it (you had version {version}, it is now version {current['version']}). "
            "Reload it, then make your change again.",
            {"current": current, "your_version": version},
        )


def seq_of(conn: Connection) -> int:
    """The last seq handed out, as this transaction sees it."""
    return int(conn.execute(select(counters.c.value).where(counters.c.name == "event_seq")).scalar_one())


def _page(
    conn: Connection, query: Select[Any], key: Any, limit: int, cursor: int | None
) -> tuple[list[Any], str | None]:
    if cursor is not None:
        query = query.where(key > cursor)
    rows = list(conn.execute(query.order_by(key).limit(limit + 1)).all())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(rows[-1]._mapping[key.name])
    return rows, None


def _history(conn: Connection, entity: str, entity_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(history.c.seq, history.c.at, history.c.actor, history.c.action, history.c.changes, history.c.via)
        .where(and_(history.c.entity == entity, history.c.entity_id == entity_id))
        .order_by(history.c.seq)
    )
    return [dict(r._mapping) for r in rows]


@asynccontextmanager
async def _nullcontext() -> AsyncIterator[None]:
    yield
