"""Reading and settling the outbox: rows not yet published, in seq order, under a relay lease."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from app.domain.timestamps import now_iso
from app.store.schema import outbox, relay_lease
from app.store.transactions import Transactions


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event: str
    message_id: str
    body: str


class Outbox:
    def __init__(self, store: Transactions) -> None:
        self.store = store

    async def take_lease(self, holder: str, ttl: float) -> bool:
        """True when holder may relay for the next ttl seconds (only one relay publishes at a time)."""
        now = time.time()

        def run(conn: Connection) -> bool:
            row = conn.execute(select(relay_lease).where(relay_lease.c.id == 1)).first()
            if row is None:
                conn.execute(relay_lease.insert().values(id=1, holder=holder, expires_at=now + ttl))
                return True
            if row.holder == holder or row.expires_at < now:
                conn.execute(
                    update(relay_lease).where(relay_lease.c.id == 1).values(holder=holder, expires_at=now + ttl)
                )
                return True
            return False

        return await self.store.run_write(run, notify=False)

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
