"""The outbox relay: publishes committed event rows in seq order, with publisher confirms, and marks
them sent only once the broker has confirmed them. A crash or a broker outage only delays events.

With several service processes one relay at a time holds the lease (a row in the store) and publishes.
A process that commits a change without holding it rings the service-internal `<ns>.relay` exchange, and
every process's relay hears that (WakeLine), so the holder publishes at once rather than at its next poll.
The lease is short and fenced: the holder publishes nothing later than LEASE_MARGIN before its lease could
have run out (counted from before the renewal write began), and a taker waits TAKEOVER_GRACE past its end,
so an old holder never publishes after a new one started."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractQueue

from app.contract import CONTENT_TYPE
from app.store.outbox import Outbox

log = logging.getLogger(__name__)

LEASE_SECONDS = 1.2  # after a holder dies, another relay publishes within about this + TAKEOVER_GRACE
RENEW_SECONDS = 0.4  # the holder renews this often, whether or not it has anything to publish
LEASE_MARGIN = 0.25  # the holder starts no publish later than this before its lease could run out
TAKEOVER_GRACE = 0.2  # a taker waits this long past the end of another's lease (clock steps, a frame in flight)
CHECK_SECONDS = 0.2  # a relay without the lease reads (never writes) the lease row this often
# How long one publish waits for the broker's confirm before it counts as failed and is tried again (the row
# stays unsent). Independent of the lease: the lease is renewed by its own task, and the fencing is on when a
# publish starts, so a slow confirm never lets two relays publish at once.
PUBLISH_TIMEOUT = 1.5
IDLE_POLL_SECONDS = 1.0  # the safety net, should a wake from another process be lost
RETRY_SECONDS = 1.0
BATCH = 200


class WakeLine:
    """The service processes' doorbell: `<ns>.relay` (fanout, service-internal) and this process's own queue on
    it. A ring is one tiny transient message without a confirm; a lost ring only costs the holder's poll."""

    def __init__(self, exchange: AbstractExchange, queue: AbstractQueue) -> None:
        # Kept here: the robust channel restores the exchange, the queue and its consumer after a reconnect.
        self.exchange = exchange
        self.queue = queue
        self._ringing: asyncio.Task[None] | None = None
        self._again = False
        self.heard = 0  # rings heard, from any process (this one included)

    async def listen(self, on_ring: Callable[[], None]) -> None:
        async def heard(_message: AbstractIncomingMessage) -> None:
            self.heard += 1
            on_ring()

        await self.queue.consume(heard, no_ack=True)

    def ring(self) -> None:
        """Wake every relay. Rings made while one is being sent become one more ring after it (never fewer than
        one ring sent after each call, so a commit is never left waiting for the poll)."""
        if self._ringing is not None and not self._ringing.done():
            self._again = True
            return
        self._ringing = asyncio.get_running_loop().create_task(self._send(), name="outbox-relay-ring")

    async def _send(self) -> None:
        while True:
            self._again = False
            try:
                await self.exchange.publish(
                    aio_pika.Message(b"", delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT, expiration=5),
                    routing_key="",
                )
            except Exception as exc:  # the broker is away: the holder's poll picks the rows up
                log.debug("could not wake the outbox relay: %s", exc)
            if not self._again:
                return


class OutboxRelay:
    def __init__(self, outbox: Outbox, exchange: AbstractExchange, holder: str | None = None,
                 wake_line: WakeLine | None = None) -> None:
        self._outbox = outbox
        self._exchange = exchange
        self._holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake_line = wake_line
        self._wake = asyncio.Event()
        self._stopping = False
        self._valid_until = 0.0  # loop time: publishing is allowed before this (LEASE_MARGIN inside the lease)
        self._lease_trouble = False
        self.published = 0

    @property
    def holding(self) -> bool:
        """True while this relay may start a publish."""
        return asyncio.get_running_loop().time() < self._valid_until

    def wake(self) -> None:
        """Something was committed: look at the outbox now rather than at the next poll."""
        self._wake.set()

    def committed(self) -> None:
        """A change was committed in this process: publish it now, or have the relay that holds the lease do it."""
        if self.holding or self._wake_line is None:
            self._wake.set()
        else:
            self._wake_line.ring()

    async def run(self) -> None:
        keeper = asyncio.create_task(self._keep_lease(), name="outbox-relay-lease")
        try:
            while not self._stopping:
                self._wake.clear()  # cleared before looking, so a commit made while we look is not missed
                try:
                    if self.holding and await self.flush():
                        continue  # there may be more; keep going without waiting
                    await self._sleep(IDLE_POLL_SECONDS)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker or database away: rows stay unsent and are retried
                    log.warning("outbox relay: %s; retrying", exc)
                    await self._sleep(RETRY_SECONDS)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _take(self) -> bool:
        """Take or renew the lease; on success publishing is allowed until LEASE_MARGIN before it could end,
        counted from before the write began (the write may wait for the database's lock)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        if not await self._outbox.take_lease(self._holder, LEASE_SECONDS, TAKEOVER_GRACE):
            self._valid_until = 0.0
            return False
        self._valid_until = max(self._valid_until, started + LEASE_SECONDS - LEASE_MARGIN)
        return True

    async def _keep_lease(self) -> None:
        """The holder renews every RENEW_SECONDS; the others read the lease and write only once it can be taken."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            wait = CHECK_SECONDS
            try:
                held = self.holding
                take, wait = (True, 0.0) if held else await self._may_take()
                if take and await self._take():
                    if not held:
                        self._wake.set()  # just taken: publish what waited for the old holder
                    wait = RENEW_SECONDS - (loop.time() - started)
                if self._lease_trouble:
                    log.info("outbox relay: the database answers again")
                    self._lease_trouble = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the lease simply runs out if this goes on; the loop keeps trying
                if not self._lease_trouble:
                    log.warning("outbox relay: cannot keep the lease (%s); retrying", exc)
                    self._lease_trouble = True
                wait = CHECK_SECONDS
            await asyncio.sleep(min(max(0.01, wait), RENEW_SECONDS))

    async def _may_take(self) -> tuple[bool, float]:
        """Whether the lease can be taken now; if not, how long to wait before looking again (a dead holder's
        lease is taken as soon as it can be, not up to CHECK_SECONDS later)."""
        lease = await self._outbox.read_lease()  # wall clock, as the row is: several processes, maybe machines
        if lease is None or lease.holder == self._holder:
            return True, 0.0
        free_in = lease.expires_at + TAKEOVER_GRACE - time.time()
        if free_in < 0:
            return True, 0.0
        return False, min(CHECK_SECONDS, free_in + 0.005)

    async def flush(self, batch: int = BATCH) -> int:
        """Publish one batch of unsent rows under the lease (taking it if it is free); returns how many were
        confirmed. Each row is marked sent before the next is published: a relay taking over after a crash
        sends again at most the one row whose mark was lost, right after its first copy and before anything
        newer, so no event ever arrives after a newer one."""
        if not self.holding and not await self._take():
            return 0
        rows = await self._outbox.pending(batch)
        confirmed = 0
        for row in rows:
            await self._channel_ready()
            if not self.holding:
                break  # the lease could run out before the broker has it: leave the rest to whoever holds it
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
            await self._outbox.mark_published([row.seq])
            confirmed += 1
            self.published += 1
        return confirmed

    async def _channel_ready(self) -> None:
        # A robust channel's publish first waits for a lost connection to come back, which can take longer than
        # the lease: wait here, before the lease is checked, so the check is made just before the frame is sent.
        channel = getattr(self._exchange, "channel", None)
        if channel is not None:
            await asyncio.wait_for(channel.get_underlay_channel(), PUBLISH_TIMEOUT)

    def request_stop(self) -> None:
        """Let run() return once its current batch is done (it keeps the lease for a final drain())."""
        self._stopping = True
        self._wake.set()

    async def drain(self, timeout: float = 5.0) -> None:
        """Publish what is still unsent before shutting down: only while holding the lease, and only once run()
        has returned, so that no other publisher (here or in another service) sends the same rows."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and await self._take():
            if not await asyncio.wait_for(self.flush(), max(0.1, deadline - loop.time())):
                return

    async def stop(self) -> None:
        self.request_stop()
        self._valid_until = 0.0
        try:
            await self._outbox.release_lease(self._holder)
        except Exception as exc:
            log.info("could not release the relay lease: %s", exc)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
