"""The shop service: the store, the call queues and the outbox relay, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from aio_pika.abc import AbstractRobustConnection

from app.config import Settings
from app.contract import Names
from app.messaging.connection import connect
from app.messaging.outbox_relay import OutboxRelay, WakeLine
from app.messaging.rpc_server import RpcServer
from app.messaging.topology import declare_exchanges, declare_relay_wake, declare_service_queues
from app.service.handlers import ShopHandlers
from app.service.lifecycle import run_until_signalled
from app.store.outbox import Outbox
from app.store.shop_store import ShopStore

log = logging.getLogger(__name__)

PREFETCH = 32  # calls in hand at once per service process


class ShopService:
    def __init__(self, settings: Settings, *, relay: bool = True) -> None:
        self.settings = settings
        self.names = Names(settings.namespace)
        self._with_relay = relay
        # Running as the broker's guest is development mode: guest callers may then do everything.
        self.dev_mode = settings.broker_user == "guest"
        self.store: ShopStore | None = None
        self.connection: AbstractRobustConnection | None = None
        self.server: RpcServer | None = None
        self.relay: OutboxRelay | None = None
        self.wake_line: WakeLine | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        self.store = await ShopStore.open(self.settings.database_url)
        self.connection = await connect(self.settings.broker_url, f"kiltshop-service {self.names.namespace}")
        call_channel = await self.connection.channel()
        await call_channel.set_qos(prefetch_count=PREFETCH)
        queues = await declare_service_queues(call_channel, self.names)
        # Events and dead letters go out on a channel with publisher confirms.
        confirm_channel = await self.connection.channel(publisher_confirms=True)
        exchanges = await declare_exchanges(confirm_channel, self.names)
        self.server = RpcServer(call_channel, exchanges["dead"], ShopHandlers(
            self.store, self.names.namespace, dev_mode=self.dev_mode, timezone=self.settings.timezone),
            self.names, await self.store.seal_key())
        if self._with_relay:
            # Its own channel without confirms: a ring is fire-and-forget, and nothing it does can close the
            # channel that events and dead letters go out on.
            wake_channel = await self.connection.channel(publisher_confirms=False)
            self.wake_line = WakeLine(*await declare_relay_wake(wake_channel, self.names, uuid.uuid4().hex[:12]))
            self.relay = OutboxRelay(Outbox(self.store), exchanges["events"], wake_line=self.wake_line)
            await self.wake_line.listen(self.relay.wake)
            self.store.on_commit(self.relay.committed)
            self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        await self.server.serve([queues[name] for name in self.names.rpc_bindings()])
        log.info("shop service serving namespace %r on %s", self.names.namespace, self.settings.broker_address)

    async def stop(self) -> None:
        """Graceful: stop taking calls, finish those in hand, flush the outbox, close."""
        if self.server is not None:
            await self.server.stop()
        if self.relay is not None and self._relay_task is not None:
            # First let the relay loop finish its batch, then drain: a flush running beside the loop's own
            # would publish the same rows twice.
            self.relay.request_stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._relay_task), 5)
            except Exception:
                self._relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._relay_task
            with contextlib.suppress(Exception):
                await self.relay.drain(5)
            await self.relay.stop()
        if self.connection is not None:
            await self.connection.close()
        if self.store is not None:
            await self.store.close()
        self._stopped.set()

    async def abort(self) -> None:
        """Stop at once, as a crash would: nothing is flushed, nothing is finished."""
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
        if self.connection is not None:
            await self.connection.close()
        if self.store is not None:
            await self.store.close()

    async def run_until_signalled(self) -> None:
        await run_until_signalled(self.start, self.stop, "finishing calls in hand")
