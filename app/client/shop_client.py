"""The client layer that the windows and the CLI share: calls and events, knowing only the wire contract.

It never touches the database; everything goes through the broker as docs/contract.md describes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection

from app.contract import MAX_PAGE_SIZE, MUTATING_METHODS, Names
from app.messaging.connection import connect
from app.messaging.event_subscriber import EventHandler, subscribe
from app.messaging.rpc_client import CallError, RpcClient, ServiceUnavailable, canonical_body

log = logging.getLogger(__name__)

__all__ = ["CallError", "ConnectionState", "ServiceUnavailable", "ShopClient"]


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


StateListener = Callable[[ConnectionState], None]

# How long a change that got no answer is remembered: the same change asked again within it reuses the first
# message_id, so pressing Save again after "the shop did not answer" cannot make it twice.
REPEAT_WINDOW_S = 15 * 60


class ShopClient:
    def __init__(self, broker_url: str, namespace: str, app_id: str = "kiltshop", timeout: float = 10.0) -> None:
        self.broker_url = broker_url
        self.names = Names(namespace)
        self.app_id = app_id
        self.timeout = timeout
        self.user = unquote(urlsplit(broker_url).username or "guest")
        self.state = ConnectionState.OFFLINE
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._rpc: RpcClient | None = None
        # aio-pika restores only the queues we still hold, so keep every subscription here.
        self._subscriptions: list[tuple[AbstractChannel, AbstractQueue]] = []
        self._state_listeners: list[StateListener] = []
        self._reconnect_listeners: list[Callable[[], None]] = []
        # (method, canonical body) -> (message_id, when) of each change that ended with no answer
        self._unanswered: dict[tuple[str, bytes], tuple[str, float]] = {}
        self.repeat_window = REPEAT_WINDOW_S

    # -- connection -----------------------------------------------------------------------------

    async def connect(self) -> None:
        self._connection = await connect(self.broker_url, f"{self.app_id} {self.names.namespace}", self.timeout)
        self._connection.close_callbacks.add(self._on_close)
        self._connection.reconnect_callbacks.add(self._on_reconnect)
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        reply_channel = await self._connection.channel()
        self._rpc = RpcClient(self._channel, self.names, self.user, self.app_id, self.timeout, reply_channel)
        await self._rpc.start()
        self._set_state(ConnectionState.CONNECTED)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
        self._subscriptions.clear()
        self._set_state(ConnectionState.OFFLINE)

    async def __aenter__(self) -> ShopClient:
        await self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def on_state(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def on_reconnect(self, listener: Callable[[], None]) -> None:
        """listener runs after the connection came back and our queues were restored."""
        self._reconnect_listeners.append(listener)

    def _set_state(self, state: ConnectionState) -> None:
        if state == self.state:
            return
        self.state = state
        for listener in list(self._state_listeners):
            listener(state)

    def _on_close(self, _sender: Any, exc: BaseException | None = None) -> None:
        if self._connection is None:
            return  # we closed it ourselves
        if self._rpc is not None:
            self._rpc.fail_pending("The connection to the message broker was lost.")
        self._set_state(ConnectionState.RECONNECTING)

    def _on_reconnect(self, _sender: Any) -> None:
        self._set_state(ConnectionState.CONNECTED)
        for listener in list(self._reconnect_listeners):
            listener()

    # -- calls ----------------------------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None,
                   message_id: str | None = None, app_id: str | None = None) -> Any:
        """One call. A change sent without a message_id gets a new one, unless the same change (same method,
        same parameters) ended with no answer in the last repeat_window seconds: then it is sent again under
        that first message_id, and the service's ledger makes sure it is done only once."""
        repeat_key: tuple[str, bytes] | None = None
        if message_id is None and method in MUTATING_METHODS:
            repeat_key = (method, canonical_body(params))
            message_id = self._unanswered_id(repeat_key)
        message_id = message_id or str(uuid.uuid4())
        try:
            result = await self._call(method, params, timeout, message_id, app_id)
        except ServiceUnavailable:
            if repeat_key is not None:
                self._unanswered[repeat_key] = (message_id, time.monotonic())
            raise
        except CallError:
            if repeat_key is not None:
                self._unanswered.pop(repeat_key, None)  # answered (refused): a repeat is a new request
            raise
        if repeat_key is not None:
            self._unanswered.pop(repeat_key, None)
        return result

    def _unanswered_id(self, key: tuple[str, bytes]) -> str | None:
        now = time.monotonic()
        for old, (_id, when) in list(self._unanswered.items()):
            if now - when > self.repeat_window:
                del self._unanswered[old]
        remembered = self._unanswered.get(key)
        return remembered[0] if remembered else None

    async def _call(self, method: str, params: dict[str, Any] | None, timeout: float | None, message_id: str,
                    app_id: str | None) -> Any:
        # One message_id for every attempt: a call whose reply was lost with the connection is sent once more,
        # and the service's ledger makes sure it is done only once.
        for attempt in (1, 2):
            if self.state == ConnectionState.RECONNECTING:
                # A blip: wait for the connection rather than fail at once.
                await self.wait_connected(timeout or self.timeout)
            if self._rpc is None or self.state != ConnectionState.CONNECTED:
                raise ServiceUnavailable("Not connected to the message broker right now.")
            try:
                return await self._rpc.call(method, params, timeout=timeout, message_id=message_id, app_id=app_id)
            except ServiceUnavailable as exc:
                if not exc.lost or attempt == 2:
                    raise
                log.info("connection lost during %s; sending it again with the same message_id", method)
                await asyncio.sleep(0.05)
        raise AssertionError("unreachable")

    async def list_all(
        self, method: str, params: dict[str, Any] | None = None, *,
        progress: Callable[[int], None] | None = None, page_size: int = MAX_PAGE_SIZE,
    ) -> tuple[list[dict[str, Any]], int]:
        """Every item of a paged list call, and the seq of its first page (the snapshot's base)."""
        items: list[dict[str, Any]] = []
        base_seq: int | None = None
        cursor: str | None = None
        while True:
            page = await self.call(method, {**(params or {}), "limit": page_size, "cursor": cursor})
            if base_seq is None:
                base_seq = int(page["seq"])
            items.extend(page["items"])
            if progress is not None:
                progress(len(items))
            cursor = page.get("next_cursor")
            if not cursor:
                return items, base_seq

    # -- events ---------------------------------------------------------------------------------

    async def subscribe(
        self, handler: EventHandler, keys: Iterable[str] = ("#",), *, queue_name: str | None = None,
        expires_ms: int | None = None, prefetch: int = 256,
    ) -> None:
        """Hand every matching event to handler. A named queue is durable and keeps events while we are away."""
        assert self._connection is not None, "connect() first"
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await subscribe(channel, self.names, keys, handler, login=self.user, queue_name=queue_name,
                                expires_ms=expires_ms)
        self._subscriptions.append((channel, queue))

    async def wait_connected(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.state != ConnectionState.CONNECTED:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True
