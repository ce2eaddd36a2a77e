"""The calling side of RPC: JSON requests with a timeout the broker enforces, and replies matched by
correlation_id on one exclusive reply queue per client, named for the client's login
(`<ns>.reply.<login>.<token>`: the broker lets only that login use it, and the service replies only there)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import AMQPError, ChannelAccessRefused, ChannelNotFoundEntity, DeliveryError

from app.contract import CONTENT_TYPE, MUTATING_METHODS, Names
from app.messaging.wire import loads


def canonical_body(params: dict[str, Any] | None) -> bytes:
    """The request body: JSON with sorted keys, so the same parameters always make the same bytes (a repeat
    with the same message_id must match the first's body in the service's ledger)."""
    return json.dumps(params or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class CallError(Exception):
    """The service refused the call; code is one of the contract's error codes."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class ServiceUnavailable(CallError):
    """Nobody answered: the service is not running, or the broker connection is down."""

    def __init__(self, message: str, lost: bool = False) -> None:
        super().__init__("unavailable", message)
        # True when the connection dropped while the call was under way: it may have been done, and only its
        # reply lost, so it is safe to send again only with the same message_id.
        self.lost = lost


class RpcClient:
    def __init__(self, channel: AbstractChannel, names: Names, user_id: str, app_id: str,
                 timeout: float = 10.0, reply_channel: AbstractChannel | None = None) -> None:
        """channel must be opened with publisher confirms and on_return_raises=True."""
        self._channel = channel
        # Replies are consumed on a channel of their own: a refused publish (403) closes the publishing
        # channel only, and the reply queue's consumer carries on.
        self._reply_channel = reply_channel or channel
        self._names = names
        self._user_id = user_id
        self._app_id = app_id
        self.timeout = timeout
        self._exchange: AbstractExchange | None = None
        self._reply_queue: AbstractQueue | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}

    async def start(self) -> None:
        self._exchange = await self._channel.get_exchange(self._names.rpc_exchange, ensure=False)
        # The client names the queue itself, so a robust reconnect re-declares it under the same name.
        self._reply_queue = await self._reply_channel.declare_queue(
            self._names.reply_queue(self._user_id, uuid.uuid4().hex), exclusive=True, auto_delete=True
        )
        await self._reply_queue.consume(self._on_reply, no_ack=True)

    def fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ServiceUnavailable(reason, lost=True))

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None,
        message_id: str | None = None, app_id: str | None = None,
    ) -> Any:
        """Send one call and return its result; raises CallError with the service's refusal.

        app_id overrides the client's own for this call (the service keeps it in the history as `via`)."""
        assert self._exchange is not None and self._reply_queue is not None, "start() first"
        timeout = timeout or self.timeout
        # Every request carries a message_id: it is the idempotency key of a change, and aiormq needs it
        # to match a request the broker returns unroutable (no service queue bound) to its publish.
        message_id = message_id or str(uuid.uuid4())
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            try:
                await self._exchange.publish(
                    aio_pika.Message(
                        canonical_body(params),
                        content_type=CONTENT_TYPE,
                        correlation_id=correlation_id,
                        reply_to=self._reply_queue.name,
                        expiration=timeout,
                        timestamp=datetime.now(UTC),
                        message_id=message_id,
                        user_id=self._user_id,
                        app_id=app_id or self._app_id,
                        # A change waiting in a (durable) service queue survives a broker restart; a read is
                        # cheaper transient, and one lost is simply asked again.
                        delivery_mode=(aio_pika.DeliveryMode.PERSISTENT if method in MUTATING_METHODS
                                       else aio_pika.DeliveryMode.NOT_PERSISTENT),
                    ),
                    routing_key=method,
                    mandatory=True,
                    timeout=timeout,
                )
            except DeliveryError:
                raise ServiceUnavailable(
                    "The shop service is not running: nobody is there to take the call."
                ) from None
            except ChannelNotFoundEntity:
                # The broker is there, but the service never declared this shop's exchanges on it.
                raise ServiceUnavailable(
                    f"The shop service is not running: it has never started for the shop "
                    f"{self._names.namespace!r} on this broker."
                ) from None
            except ChannelAccessRefused:
                # The broker's own permissions for this login do not cover the method.
                raise CallError(
                    "forbidden", f"Your login ({self._user_id}) may not use {method}.", {"method": method}
                ) from None
            except (AMQPError, ConnectionError, RuntimeError) as exc:
                raise ServiceUnavailable(f"The connection to the message broker is down ({exc}).", lost=True) from None
            try:
                reply = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise ServiceUnavailable(
                    f"The shop service did not answer {method} within {timeout:g} seconds."
                ) from None
        finally:
            self._pending.pop(correlation_id, None)
        if reply.get("ok"):
            return reply.get("result")
        error = reply.get("error") or {}
        raise CallError(error.get("code", "internal"), error.get("message", "The call failed."),
                        error.get("details"))

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is None or future.done():
            return  # a reply to a call we gave up on
        try:
            reply = loads(message.body)
            if not isinstance(reply, dict):
                raise ValueError("reply is not an object")
        except ValueError as exc:
            future.set_exception(CallError("internal", f"The service sent an unreadable reply ({exc})."))
            return
        future.set_result(reply)
