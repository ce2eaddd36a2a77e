"""Reading and settling the outbox: rows not yet published, in seq order, under a relay lease."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.domain.timestamps import now_iso
from app.store.schema import outbox, relay_lease
from app.store.transactions import Transactions


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event: str
    message_id: str
    body: str


@dataclass(frozen=True)
class Lease:
    holder: str
    expires_at: float  # wall-clock seconds (time.time()); 0 once released


class Outbox:
    def __init__(self, store: Transactions) -> None:
        self.store = store

    async def read_lease(self) -> Lease | None:
        """Who holds the relay lease and until when, without writing (relays that do not hold it look often)."""
        def run(conn: Connection) -> Lease | None:
            row = conn.execute(select(relay_lease.c.holder, relay_lease.c.expires_at)
                               .where(relay_lease.c.id == 1)).first()
            return None if row is None else Lease(row.holder, float(row.expires_at))

        return await self.store.run_read(run)

    async def take_lease(self, holder: str, ttl: float, grace: float = 0.0) -> bool:
        """True when holder may relay for the next ttl seconds (only one relay publishes at a time). Another
        holder's lease is taken only once it ended more than grace seconds ago."""
        now = time.time()  # before the write waits for its lock: the lease never lasts longer than ttl from here

        def run(conn: Connection) -> bool:
            # One conditional UPDATE, not a read then a write: two takers racing on PostgreSQL (READ COMMITTED)
            # would both have read the old row; the second UPDATE re-checks the condition on the first's row.
            taken = conn.execute(
                update(relay_lease)
                .where(relay_lease.c.id == 1,
                       or_(relay_lease.c.holder == holder, relay_lease.c.expires_at < now - grace))
                .values(holder=holder, expires_at=now + ttl)
            ).rowcount
            if taken:
                return True
            if conn.execute(select(relay_lease.c.id).where(relay_lease.c.id == 1)).first() is not None:
                return False
            conn.execute(relay_lease.insert().values(id=1, holder=holder, expires_at=now + ttl))
            return True

        try:
            return await self.store.run_write(run, notify=False)
        except IntegrityError:
            return False  # the very first lease, inserted by another relay at the same moment

    async def release_lease(self, holder: str) -> None:
        def run(conn: Connection) -> None:
            conn.execute(
                update(relay_lease)
                .where(relay_lease.c.id == 1, relay_lease.c.holder == holder)
                .values(expires_at=0.0)
            )

        await self.store.run_write(run, notify=False)

    async def pending(self, limit: int = 200) -> list[OutboxRow]:
        def run(conn: Connection) -> list[OutboxRow]:
            rows = conn.execute(
                select(outbox.c.seq, outbox.c.event, outbox.c.message_id, outbox.c.body)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.seq)
                .limit(limit)
            )
            return [OutboxRow(r.seq, r.event, r.message_id, r.body) for r in rows]

        return await self.store.run_read(run)

    async def mark_published(self, seqs: list[int]) -> None:
        if not seqs:
            return
        def run(conn: Connection) -> None:
            conn.execute(update(outbox).where(outbox.c.seq.in_(seqs)).values(published_at=now_iso()))

        await self.store.run_write(run, notify=False)

    async def unpublished_count(self) -> int:
        def run(conn: Connection) -> int:
            count = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None)))
            return int(count.scalar_one())

        return await self.store.run_read(run)
