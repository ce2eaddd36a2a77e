"""The serving side of RPC: take calls off the service queues, answer each, dead-letter the unusable.

A call is acknowledged only after its reply is published (and its work committed by the handler), so a
crash mid-call means a redelivery, which the store's message_id bookkeeping makes harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue

from app.contract import CONTENT_TYPE, METHODS, MUTATING_METHODS
from app.domain.errors import ShopError
from app.domain.roles import ANONYMOUS
from app.messaging.wire import MAX_BODY_BYTES, dumps, error_reply, loads, ok_reply

log = logging.getLogger(__name__)

MAX_MESSAGE_ID = 200  # the store keeps message_ids of changes up to this length


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    message_id: str | None
    user_id: str
    app_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return self.user_id


Handler = Callable[[Call], Awaitable[Any]]


class Unusable(Exception):
    """A message we cannot serve: it is dead-lettered with this reason (and answered, if it can be)."""


class RpcServer:
    def __init__(self, channel: AbstractChannel, dead_exchange: AbstractExchange, handler: Handler) -> None:
        self._channel = channel
        self._dead = dead_exchange
        self._handler = handler
        self._tags: list[tuple[AbstractQueue, str]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.served = 0

    async def serve(self, queues: list[AbstractQueue]) -> None:
        for queue in queues:
            tag = await queue.consume(self._on_message)
            self._tags.append((queue, tag))

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new calls, then wait (up to grace seconds) for the ones in hand to finish."""
        for queue, tag in self._tags:
            try:
                await queue.cancel(tag)
            except Exception as exc:  # the channel may already be gone; calls then come back to the queue
                log.info("cancelling consumer %s: %s", tag, exc)
        self._tags.clear()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("%d calls still running at shutdown; they will be redelivered", self._in_flight)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._serve_one(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _serve_one(self, message: AbstractIncomingMessage) -> None:
        method = message.routing_key or ""
        try:
            if _expired(message):
                log.info("dropping %s: the caller stopped waiting before it was served", method)
                await message.ack()
                return
            call = _parse(message)
        except Unusable as exc:
            await self._dead_letter(message, str(exc))
            await self._reply(message, error_reply("invalid", str(exc)))
            await message.ack()
            return

        try:
            reply = ok_reply(await self._handler(call))
        except ShopError as exc:
            reply = error_reply(exc.code, exc.message, exc.details)
        except Exception as exc:
            log.exception("call %s failed", method)
            await self._dead_letter(message, f"internal error: {type(exc).__name__}: {exc}")
            reply = error_reply(
                "internal", "Something went wrong in the shop service; nothing was changed. Please try again."
            )
        await self._reply(message, reply)
        await message.ack()
        self.served += 1

    async def _reply(self, message: AbstractIncomingMessage, reply: dict[str, Any]) -> None:
        if not message.reply_to:
            return
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                dumps(reply), content_type=CONTENT_TYPE, correlation_id=message.correlation_id
            ),
            routing_key=message.reply_to,
        )

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        log.warning("dead-lettering a %s message: %s", message.routing_key, reason)
        headers: dict[str, Any] = {
            "x-kiltshop-reason": reason[:1000],
            "x-kiltshop-exchange": message.exchange or "",
            "x-kiltshop-routing-key": message.routing_key or "",
            "x-kiltshop-dead-at": int(time.time()),
        }
        if not message.message_id:
            # aiormq gives the dead letter a message_id of its own; say that the original had none.
            headers["x-kiltshop-no-message-id"] = True
        replayed = (message.headers or {}).get("x-kiltshop-replayed")
        if replayed is not None:
            headers["x-kiltshop-replayed"] = replayed  # keep counting across replays
        body = message.body if len(message.body) <= MAX_BODY_BYTES else message.body[:4096]
        if body is not message.body:
            headers["x-kiltshop-truncated"] = len(message.body)
        await self._dead.publish(
            aio_pika.Message(
                body,
                headers=headers,
                content_type=message.content_type,
                correlation_id=message.correlation_id,
                reply_to=message.reply_to,
                message_id=message.message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=message.routing_key or "unknown",
        )


def _expired(message: AbstractIncomingMessage) -> bool:
    # The broker drops a request whose expiration passes in the queue; this covers one that expired
    # while waiting in our own prefetch buffer. AMQP timestamps have whole seconds, hence the slack.
    expiration = message.expiration  # aio-pika decodes it to seconds
    if not isinstance(expiration, int | float) or message.timestamp is None:
        return False
    deadline = message.timestamp.timestamp() + float(expiration) + 1.0
    return time.time() > deadline


def _parse(message: AbstractIncomingMessage) -> Call:
    method = message.routing_key or ""
    if not message.reply_to:
        raise Unusable(f"The {method or 'unnamed'} request has no reply_to, so no answer can be sent.")
    if method not in METHODS:
        raise Unusable(f"'{method}' is not a method of this service (see docs/contract.md).")
    if len(message.body) > MAX_BODY_BYTES:
        raise Unusable(f"The request body is {len(message.body)} bytes; at most {MAX_BODY_BYTES} are accepted.")
    if message.content_type not in (None, "", CONTENT_TYPE):
        raise Unusable(f"The request's content_type is {message.content_type!r}; only {CONTENT_TYPE} is accepted.")
    try:
        params = loads(message.body) if message.body.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unusable(f"The request body is not valid JSON ({exc}).") from None
    except RecursionError:
        raise Unusable("The request body is JSON nested too deeply to read.") from None
    if not isinstance(params, dict):
        raise Unusable("The request body must be a JSON object of parameters.")
    if method in MUTATING_METHODS and not message.message_id:
        raise Unusable(f"{method} changes something, so the request must carry a message_id.")
    if message.message_id and len(message.message_id) > MAX_MESSAGE_ID:
        raise Unusable(f"The message_id is {len(message.message_id)} characters long; at most {MAX_MESSAGE_ID}.")
    return Call(
        method=method,
        params=params,
        message_id=message.message_id,
        user_id=message.user_id or ANONYMOUS,
        app_id=message.app_id,
    )

