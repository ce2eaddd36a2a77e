"""The outbox relay: publishes committed event rows in seq order, with publisher confirms, and marks
them sent only once the broker has confirmed them. A crash or a broker outage only delays events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractExchange

from app.contract import CONTENT_TYPE
from app.store.outbox import Outbox

log = logging.getLogger(__name__)

LEASE_SECONDS = 6.0  # after a crash, another relay takes over within this long
FLUSH_SECONDS = LEASE_SECONDS / 3  # a batch stops early so it always ends well inside the lease
PUBLISH_TIMEOUT = 1.5
IDLE_POLL_SECONDS = 1.0  # also picks up rows committed by other service processes
RETRY_SECONDS = 1.0


class OutboxRelay:
    def __init__(self, outbox: Outbox, exchange: AbstractExchange, holder: str | None = None) -> None:
        self._outbox = outbox
        self._exchange = exchange
        self._holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._renew_at = 0.0  # loop time after which the lease must be renewed before publishing
        self.published = 0

    def wake(self) -> None:
        """Something was committed: look at the outbox now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # cleared before looking, so a commit made while we look is not missed
            try:
                if await self._hold_lease() and await self.flush():
                    continue  # there may be more; keep going without waiting
                await self._sleep(IDLE_POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: rows stay unsent and are retried
                log.warning("outbox relay: %s; retrying", exc)
                await self._sleep(RETRY_SECONDS)

    async def _hold_lease(self) -> bool:
        """Take or renew the lease, writing to the store only once a third of it has passed."""
        now = asyncio.get_running_loop().time()
        if now < self._renew_at:
            return True
        if await self._outbox.take_lease(self._holder, LEASE_SECONDS):
            self._renew_at = now + LEASE_SECONDS / 3
            return True
        self._renew_at = 0.0
        return False

    async def flush(self, batch: int = 200) -> int:
        """Publish one batch of unsent rows; returns how many were confirmed."""
        rows = await self._outbox.pending(batch)
        confirmed: list[int] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FLUSH_SECONDS
        try:
            for row in rows:
                if loop.time() > deadline:
                    break  # the lease is renewed before the next batch
                await self._exchange.publish(
                    aio_pika.Message(
                        row.body.encode("utf-8"),
                        content_type=CONTENT_TYPE,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=row.message_id,
                        type=row.event,
                        headers={"seq": row.seq},
                        timestamp=datetime.now(UTC),
                    ),
                    routing_key=row.event,
                    timeout=PUBLISH_TIMEOUT,
                )
                confirmed.append(row.seq)
        finally:
            # Whatever was confirmed is marked even if a later publish failed, so it is not sent again.
            await self._outbox.mark_published(confirmed)
            self.published += len(confirmed)
        return len(confirmed)

    def request_stop(self) -> None:
        """Let run() return once its current batch is done (it keeps the lease for a final drain())."""
        self._stopping = True
        self._wake.set()

    async def drain(self, timeout: float = 5.0) -> None:
        """Publish what is still unsent before shutting down: only while holding the lease, and only once run()
        has returned, so that no other publisher (here or in another service) sends the same rows."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and await self._outbox.take_lease(self._holder, LEASE_SECONDS):
            if not await asyncio.wait_for(self.flush(), max(0.1, deadline - loop.time())):
                return

    async def stop(self) -> None:
        self.request_stop()
        try:
            await self._outbox.release_lease(self._holder)
        except Exception as exc:
            log.info("could not release the relay lease: %s", exc)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
