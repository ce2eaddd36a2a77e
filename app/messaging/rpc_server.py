"""The serving side of RPC: take calls off the service queues, answer each, dead-letter the unusable.

A call is acknowledged only after its reply is published (and its work committed by the handler), so a
crash mid-call means a redelivery, which the store's message_id bookkeeping makes harmless.

Every message taken ends in one of: answered, dead-lettered (and answered when it can be), dropped as expired,
or left to the broker to deliver again because our connection went away. Nothing a sender puts in a message
(properties, headers, body) can leave it unacknowledged or stop the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelInvalidStateError
from aiormq.exceptions import AMQPError

from app.contract import (
    CONTENT_TYPE,
    DEAD_AT,
    DEAD_BAD_PROPERTIES,
    DEAD_EXCHANGE,
    DEAD_NO_MESSAGE_ID,
    DEAD_REASON,
    DEAD_REPLAYED,
    DEAD_ROUTING_KEY,
    DEAD_SEAL,
    DEAD_SENDER,
    DEAD_TRUNCATED,
    METHODS,
    MUTATING_METHODS,
    Names,
)
from app.domain.errors import ForbiddenError, ShopError
from app.domain.roles import ANONYMOUS
from app.messaging.frame_guard import printable, undecodable
from app.messaging.seal import seal, verify
from app.messaging.wire import MAX_BODY_BYTES, dumps, error_reply, loads, ok_reply

log = logging.getLogger(__name__)

MAX_MESSAGE_ID = 200  # the store keeps message_ids of changes up to this length

# The string properties of a message (and where it was published): each must be UTF-8 text to be served.
TEXT_PROPERTIES = ("routing_key", "exchange", "content_type", "content_encoding", "correlation_id", "reply_to",
                   "expiration", "message_id", "type", "user_id", "app_id", "cluster_id")

INTERNAL_WORDS = ("Something went wrong in the shop service; nothing was changed. The request was set aside for "
                  "the shop's operator, who will send it through once the fault is mended: do not send it again.")


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    message_id: str | None
    user_id: str
    app_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Set on a dead letter sent back by an operator: their login. user_id is then the original sender's.
    replayed_by: str | None = None

    @property
    def actor(self) -> str:
        return self.user_id


Handler = Callable[[Call], Awaitable[Any]]


class Unusable(Exception):
    """A message we cannot serve: it is dead-lettered with this reason (and answered, if it can be)."""


class RpcServer:
    def __init__(self, channel: AbstractChannel, dead_exchange: AbstractExchange, handler: Handler,
                 names: Names, seal_key: bytes | None = None) -> None:
        """seal_key: the store's dead-letter seal (ShopStore.seal_key); without it dead letters are not sealed
        and replays cannot run as their sender."""
        self._channel = channel
        self._dead = dead_exchange
        self._handler = handler
        self._names = names
        self._seal_key = seal_key
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
        try:
            await self._answer(message)
        except (AMQPError, ConnectionError, ChannelInvalidStateError) as exc:
            # Our connection or channel went away mid-call: the broker delivers the call again (the ledger makes
            # that harmless); acknowledging is impossible now anyway.
            log.info("connection lost while serving %s: %s", printable(message.routing_key), exc)
            return
        except Exception as exc:  # a fault in answering itself: set the message aside rather than hold it
            log.exception("answering a %s message failed", printable(message.routing_key))
            try:
                await self._dead_letter(message, f"internal error while answering: {type(exc).__name__}")
            except Exception as again:
                log.error("could not dead-letter it either (%s); it is dropped", again)
        await self._settle(message)

    async def _settle(self, message: AbstractIncomingMessage) -> None:
        if message.processed:
            return
        try:
            await message.ack()
        except (AMQPError, ConnectionError, ChannelInvalidStateError) as exc:
            log.info("could not acknowledge (%s): the broker will deliver it again", exc)

    async def _answer(self, message: AbstractIncomingMessage) -> None:
        method = printable(message.routing_key)
        if _expired(message):
            log.info("dropping %s: the caller stopped waiting before it was served", method)
            return
        try:
            call = self._parse(message)
        except Unusable as exc:
            # A sealed replay that is still unusable stays where it was (in <ns>.dead); its operator is told.
            if not self._sealed_replay(message):
                await self._dead_letter(message, str(exc))
            await self._reply(message, error_reply("invalid", str(exc)))
            return
        except ShopError as exc:  # a replay that cannot run as its sender: refused, not dead-lettered again
            await self._reply(message, error_reply(exc.code, exc.message, exc.details))
            return

        try:
            reply = ok_reply(await self._handler(call))
        except ShopError as exc:
            reply = error_reply(exc.code, exc.message, exc.details)
        except Exception as exc:
            log.exception("call %s failed", method)
            if call.replayed_by is None:  # a replay's original stays in <ns>.dead; its operator is told
                await self._dead_letter(message, f"internal error: {type(exc).__name__}: {exc}")
            reply = error_reply("internal", INTERNAL_WORDS)
        await self._reply(message, reply)
        self.served += 1

    def _may_reply_to(self, message: AbstractIncomingMessage) -> bool:
        """Replies go only to the sender's own reply queue, never where any reply_to points (the service's
        rights are wider than the sender's)."""
        reply_to = message.reply_to
        if not reply_to or undecodable(reply_to) or undecodable(message.user_id):
            return False
        return self._names.is_own_reply_queue(reply_to, message.user_id or ANONYMOUS)

    async def _reply(self, message: AbstractIncomingMessage, reply: dict[str, Any]) -> None:
        if not self._may_reply_to(message):
            return
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                dumps(reply), content_type=CONTENT_TYPE, correlation_id=printable(message.correlation_id) or None
            ),
            routing_key=str(message.reply_to),
        )

    def _parse(self, message: AbstractIncomingMessage) -> Call:
        bad = bad_properties(message)
        if bad:
            raise Unusable(f"The request's {' and '.join(bad)} {'is' if len(bad) == 1 else 'are'} not UTF-8 text, "
                           "so it cannot be served.")
        method = message.routing_key or ""
        user = message.user_id or ANONYMOUS
        if not message.reply_to:
            raise Unusable(f"The {method or 'unnamed'} request has no reply_to, so no answer can be sent.")
        if not self._may_reply_to(message):
            raise Unusable(
                f"The request's reply_to {message.reply_to!r} is not a reply queue of the login {user!r} "
                f"({self._names.reply_queue(user, '<token>')}), so no answer is sent there.")
        if method not in METHODS:
            raise Unusable(f"'{method}' is not a method of this service (see docs/contract.md).")
        if len(message.body) > MAX_BODY_BYTES:
            raise Unusable(f"The request body is {len(message.body)} bytes; at most {MAX_BODY_BYTES} are accepted.")
        check_content_type(message.content_type, message.content_encoding)
        params = parse_body(message.body)
        if method in MUTATING_METHODS and not message.message_id:
            raise Unusable(f"{method} changes something, so the request must carry a message_id.")
        if message.message_id and len(message.message_id) > MAX_MESSAGE_ID:
            raise Unusable(f"The message_id is {len(message.message_id)} characters long; at most {MAX_MESSAGE_ID}.")
        sender, replayed_by = self._sender(message, user)
        return Call(method=method, params=params, message_id=message.message_id, user_id=sender,
                    app_id=message.app_id, replayed_by=replayed_by)

    def _sender(self, message: AbstractIncomingMessage, user: str) -> tuple[str, str | None]:
        """Who the call runs as: its user_id, or, for a sealed dead letter sent back, its original sender
        (the login that sent it back is then replayed_by; app/service/handlers.py checks it is an operator)."""
        headers = message.headers or {}
        if DEAD_SENDER not in headers:
            return user, None
        sender = _header_text(headers.get(DEAD_SENDER))
        if not self._sealed_replay(message):
            raise ForbiddenError(
                f"This request says it is a dead letter of {sender or 'someone'} sent back, but it does not carry "
                "the shop service's seal for that, so it was not run.", {"sender": sender})
        return sender, user

    def _sealed_replay(self, message: AbstractIncomingMessage) -> bool:
        """A dead letter sent back whose seal holds: what it says was really sent by its sender."""
        headers = message.headers or {}
        sender = _header_text(headers.get(DEAD_SENDER))
        given = _header_text(headers.get(DEAD_SEAL))
        if self._seal_key is None or not sender or not given or not message.message_id or bad_properties(message):
            return False
        return verify(self._seal_key, given, sender, message.routing_key or "", message.message_id, message.body)

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        routing_key = printable(message.routing_key)
        log.warning("dead-lettering a %s message: %s", routing_key, reason)
        headers: dict[str, Any] = {
            DEAD_REASON: reason[:1000],
            DEAD_EXCHANGE: printable(message.exchange),
            DEAD_ROUTING_KEY: routing_key,
            DEAD_AT: int(time.time()),
            DEAD_SENDER: printable(message.user_id) or ANONYMOUS,
        }
        bad = bad_properties(message)
        if bad:
            headers[DEAD_BAD_PROPERTIES] = ", ".join(bad)
        if not message.message_id:
            # aiormq gives the dead letter a message_id of its own; say that the original had none.
            headers[DEAD_NO_MESSAGE_ID] = True
        elif not bad and self._seal_key is not None:
            headers[DEAD_SEAL] = seal(self._seal_key, headers[DEAD_SENDER], routing_key, message.message_id,
                                      message.body)
        replayed = _header_int((message.headers or {}).get(DEAD_REPLAYED))
        if replayed is not None:
            headers[DEAD_REPLAYED] = replayed  # keep counting across replays
        body = message.body if len(message.body) <= MAX_BODY_BYTES else message.body[:4096]
        if body is not message.body:
            headers[DEAD_TRUNCATED] = len(message.body)
        await self._dead.publish(
            aio_pika.Message(
                body,
                headers=headers,
                content_type=printable(message.content_type) or None,
                correlation_id=printable(message.correlation_id) or None,
                reply_to=printable(message.reply_to) or None,
                message_id=printable(message.message_id) or None,
                app_id=printable(message.app_id) or None,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key or "unknown",
        )


def bad_properties(message: AbstractIncomingMessage) -> list[str]:
    """The names of the message's string properties that are not UTF-8 text (see frame_guard.py)."""
    return [name for name in TEXT_PROPERTIES if undecodable(getattr(message, name, None))]


_MEDIA_TYPE = re.compile(r"\s*([^;\s]+)\s*(.*)")


def check_content_type(content_type: str | None, content_encoding: str | None) -> None:
    """JSON in UTF-8 only: `application/json`, optionally with `charset=utf-8` (any case, quoted or not)."""
    if content_encoding not in (None, "", "identity"):
        raise Unusable(f"The request's content_encoding is {content_encoding!r}; send the JSON body as it is.")
    if content_type in (None, ""):
        return
    match = _MEDIA_TYPE.match(content_type)
    media = match.group(1).lower() if match else ""
    charsets = [value.strip().strip('"').lower() for name, _, value in
                (part.partition("=") for part in (match.group(2).split(";") if match else []) if part.strip())
                if name.strip().lower() == "charset"]
    if media != CONTENT_TYPE or any(c not in ("utf-8", "utf8") for c in charsets):
        raise Unusable(f"The request's content_type is {content_type!r}; only {CONTENT_TYPE} (in UTF-8) is accepted.")


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's parameters: a JSON object of valid Unicode text."""
    try:
        text = body.decode("utf-8")
        params = loads(body) if text.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unusable(f"The request body is not valid JSON ({exc}).") from None
    except RecursionError:
        raise Unusable("The request body is JSON nested too deeply to read.") from None
    if not isinstance(params, dict):
        raise Unusable("The request body must be a JSON object of parameters.")
    # JSON may spell a lone surrogate (\ud800), which is no character: nothing could store or send it back.
    if _ESCAPED_SURROGATE.search(text) and _holds_surrogate(params):
        raise Unusable("The request body holds text that is not valid Unicode (a lone surrogate such as "
                       "\\ud800); send real characters in UTF-8.")
    return params


def _holds_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if undecodable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _header_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return ""
    return value if isinstance(value, str) and not undecodable(value) else ""


def _header_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _expired(message: AbstractIncomingMessage) -> bool:
    # The broker drops a request whose expiration passes in the queue; this covers one that expired
    # while waiting in our own prefetch buffer. AMQP timestamps have whole seconds, hence the slack.
    expiration = message.expiration  # aio-pika decodes it to seconds
    if not isinstance(expiration, int | float) or message.timestamp is None:
        return False
    deadline = message.timestamp.timestamp() + float(expiration) + 1.0
    return time.time() > deadline
