"""Dead letters: looking at what could not be handled, and sending it back where it came from.

Only the broker is used, never the shop's database: an operator needs nothing but a broker login.

Reading does not take anything away. Messages are fetched one by one with basic.get and manual
acknowledgement and held unacknowledged while we look; then every one not replayed is handed back with
basic.nack(requeue=True). RabbitMQ puts a requeued message back at its old place in a classic queue (which
`<ns>.dead` is), so the queue keeps its order. If we die or lose the connection meanwhile, the broker
requeues whatever we held: nothing is lost. Two side effects: a message handed back is marked
`redelivered`, and while one operator holds messages another one does not see them.

A replayed message is republished, with publisher confirms and `mandatory`, to where it came from: the queue
named in `x-kiltshop-queue` (via the default exchange) when the header is there, else the exchange
`x-kiltshop-exchange` with the routing key `x-kiltshop-routing-key`. Only once the broker has confirmed the
republish is the dead letter acknowledged (removed). So a crash in between can republish a message twice,
never lose it; a replayed request is protected by its message_id (the service runs a change once per
message_id and answers a repeat with the first reply), a replayed event by its seq.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import AMQPError, ChannelNotFoundEntity, DeliveryError

from app.contract import DEAD_AT, DEAD_BAD_PROPERTIES, DEAD_SEAL, REPLAYED_BY, Names
from app.contract import DEAD_EXCHANGE as EXCHANGE
from app.contract import DEAD_NO_MESSAGE_ID as NO_MESSAGE_ID
from app.contract import DEAD_QUEUE as QUEUE
from app.contract import DEAD_REASON as REASON
from app.contract import DEAD_REPLAYED as REPLAYED
from app.contract import DEAD_ROUTING_KEY as ROUTING_KEY
from app.contract import DEAD_TRUNCATED as TRUNCATED
from app.domain.timestamps import format_time
from app.messaging.rpc_client import CallError

# app/messaging/rpc_server.py gives this reason to a mutating call that came without a message_id.
NO_MESSAGE_ID_REASON = "must carry a message_id"

# Headers that describe the death, not the message: a replay leaves them off.
DEATH_HEADERS = frozenset({REASON, EXCHANGE, ROUTING_KEY, DEAD_AT, TRUNCATED, QUEUE, REPLAYED, NO_MESSAGE_ID,
                           "x-death"})
BROKER_DEATH_PREFIXES = ("x-first-death-", "x-last-death-")

PREVIEW_CHARS = 60
GET_TIMEOUT = 10.0
PUBLISH_TIMEOUT = 10.0
ANSWER_TIMEOUT = 15.0  # a replayed request: how long to wait for the shop's answer before keeping the letter


class DeadLetterError(CallError):
    """A dead-letter command that cannot be done; the message says why in plain words."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(_text(value))
    except ValueError:
        return None


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    try:
        return format_time(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class DeadLetter:
    """One message in `<ns>.dead`, as an operator sees it."""

    id: str
    message_id: str | None
    dead_at: int | None
    routing_key: str
    exchange: str | None
    queue: str | None
    reason: str
    body: bytes
    content_type: str | None
    correlation_id: str | None
    reply_to: str | None
    type: str | None
    app_id: str | None
    delivery_mode: int | None
    headers: dict[str, Any] = field(default_factory=dict)
    replayed: int = 0
    truncated: int | None = None

    @classmethod
    def from_message(cls, message: AbstractIncomingMessage) -> DeadLetter:
        headers = dict(message.headers or {})
        routing_key = _text(headers.get(ROUTING_KEY)) or (message.routing_key or "")
        dead_at = _int(headers.get(DEAD_AT))
        reason = _text(headers.get(REASON)) or "(no reason given)"
        ident = message.message_id or cls.stable_id(routing_key, dead_at, reason, message.body)
        return cls(
            id=ident,
            message_id=message.message_id,
            dead_at=dead_at,
            routing_key=routing_key,
            exchange=_text(headers[EXCHANGE]) if EXCHANGE in headers else None,
            queue=_text(headers.get(QUEUE)) or None,
            reason=reason,
            body=message.body,
            content_type=message.content_type,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            type=message.type,
            app_id=message.app_id,
            delivery_mode=int(message.delivery_mode) if message.delivery_mode else None,
            headers=headers,
            replayed=_int(headers.get(REPLAYED)) or 0,
            truncated=_int(headers.get(TRUNCATED)),
        )

    @staticmethod
    def stable_id(routing_key: str, dead_at: int | None, reason: str, body: bytes) -> str:
        """For a message without a message_id: the same message always gets the same short ID."""
        digest = hashlib.sha256()
        for part in (routing_key.encode(), str(dead_at).encode(), reason.encode(), body):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return f"h-{digest.hexdigest()[:12]}"

    @property
    def dead_at_text(self) -> str:
        iso = _iso(self.dead_at)
        return iso[:19].replace("T", " ") + "Z" if iso else "?"

    @property
    def destination(self) -> str:
        """Where a replay sends it, in words."""
        if self.queue:
            return f"queue {self.queue}"
        if self.exchange is not None:
            exchange = self.exchange or "(default exchange)"
            return f"exchange {exchange}, routing key {self.routing_key}"
        return "nowhere known"

    def preview(self, chars: int = PREVIEW_CHARS) -> str:
        text = self.body.decode("utf-8", errors="replace")
        text = "".join(c if c.isprintable() else " " for c in text)
        text = " ".join(text.split())
        return text if len(text) <= chars else text[: chars - 1] + "…"

    @property
    def is_request(self) -> bool:
        """A call to the service (the service dead-lettered it), not an event addressed back to a queue."""
        return not self.queue and self.exchange is not None

    def why_not_replayable(self) -> str | None:
        if self.headers.get(DEAD_BAD_PROPERTIES):
            return (f"its {_text(self.headers[DEAD_BAD_PROPERTIES])} did not come as text, so what it said cannot be "
                    "sent again as it was")
        if self.truncated is not None:
            return (f"its body was cut to the first {len(self.body)} of {self.truncated} bytes when it was "
                    "dead-lettered, so the original cannot be sent again")
        if not self.queue and self.exchange is None:
            return f"it does not say where it came from (no {QUEUE} or {EXCHANGE} header)"
        if self.headers.get(NO_MESSAGE_ID) or NO_MESSAGE_ID_REASON in self.reason:
            # The service's broker library (aiormq) gives every message it publishes a message_id, this dead
            # letter too: replayed, the change would run under an id its sender never knew, possibly twice.
            return ("the request came without a message_id (the one it shows was added on its way here), so "
                    "replaying it could make the change twice; its sender must send it again with a message_id")
        if self.is_request and not self.headers.get(DEAD_SEAL):
            # Without the service's seal the shop cannot run it as its sender (an older service set it aside).
            return ("it carries no seal of the shop service, so it cannot be run as its sender; its sender must "
                    "send it again")
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "dead_at": _iso(self.dead_at),
            "routing_key": self.routing_key,
            "exchange": self.exchange,
            "queue": self.queue,
            "reason": self.reason,
            "preview": self.preview(),
            "body": self.body.decode("utf-8", errors="replace"),
            "size": len(self.body),
            "truncated_from": self.truncated,
            "content_type": self.content_type,
            "correlation_id": self.correlation_id,
            "reply_to": self.reply_to,
            "replayed": self.replayed,
        }


@dataclass
class Listing:
    letters: list[DeadLetter]
    total: int  # how many were in the queue when we looked


@dataclass
class ReplayReport:
    replayed: list[tuple[DeadLetter, int]] = field(default_factory=list)  # the letter and its replay count
    kept: list[tuple[DeadLetter, str]] = field(default_factory=list)  # the letter and why it stays

    @property
    def refused(self) -> bool:
        """Something was asked for and not done: the command says so with a non-zero exit."""
        return bool(self.kept)

    def as_json(self) -> dict[str, Any]:
        return {
            "replayed": [{"id": d.id, "to": d.destination, "replayed": n} for d, n in self.replayed],
            "kept": [{"id": d.id, "why": why} for d, why in self.kept],
        }


Held = list[tuple[AbstractIncomingMessage, DeadLetter]]


class DeadLetters:
    """`<ns>.dead` for one shop, over one broker connection (the caller opens and closes it)."""

    def __init__(self, connection: AbstractConnection, names: Names, user: str) -> None:
        self._connection = connection
        self.names = names
        self.user = user
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._replies: AbstractQueue | None = None
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def peek(self, limit: int | None = None) -> Listing:
        """The first `limit` dead letters (all without it), oldest first; every one stays in the queue."""
        queue, ready = await self._open()
        held = await self._take(queue, ready if limit is None else min(ready, limit))
        await self._give_back(held)
        return Listing([letter for _message, letter in held], max(ready, len(held)))

    async def replay(self, ident: str | None) -> ReplayReport:
        """Send back the dead letters with this ID (every one, with None); acknowledge each once confirmed."""
        queue, ready = await self._open()
        held = await self._take(queue, ready)
        report = ReplayReport()
        try:
            if ident is not None and not held:
                raise DeadLetterError("not_found", f"There is no dead letter with ID {ident}: "
                                                   f"{self.names.dead_queue} is empty.")
            chosen = [(m, d) for m, d in held if ident is None or d.id == ident]
            if ident is not None and not chosen:
                raise DeadLetterError(
                    "not_found", f"There is no dead letter with ID {ident} in {self.names.dead_queue} "
                                 f"({len(held)} there; 'kiltshop dead list' shows them).")
            for message, letter in chosen:
                why = letter.why_not_replayable() or await self._republish(letter)
                if why:
                    report.kept.append((letter, why))
                    continue
                await message.ack()
                report.replayed.append((letter, letter.replayed + 1))
        finally:
            done = {id(d) for d, _n in report.replayed}
            await self._give_back([(m, d) for m, d in held if id(d) not in done])
        if ident is not None and report.kept and not report.replayed:
            raise DeadLetterError("invalid", f"Dead letter {ident} was not replayed: {report.kept[0][1]}.")
        return report

    # -- the queue --------------------------------------------------------------------------------

    async def _open(self) -> tuple[AbstractQueue, int]:
        """The dead-letter queue and how many messages are ready in it now."""
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        try:
            queue = await self._channel.declare_queue(self.names.dead_queue, passive=True)
        except ChannelNotFoundEntity:
            self._channel = None
            raise DeadLetterError(
                "unavailable", f"There is no dead-letter queue {self.names.dead_queue} on this broker: the shop "
                               f"service has never started for the shop {self.names.namespace!r} here.") from None
        self._queue = queue
        return queue, int(queue.declaration_result.message_count or 0)

    async def _take(self, queue: AbstractQueue, most: int) -> Held:
        """Up to `most` messages, in queue order, held unacknowledged. Stops at `most` so messages that die
        meanwhile (a replay that dies again, say) are left for the next look."""
        held: Held = []
        try:
            while len(held) < most:
                message = await queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT)
                if message is None:
                    break
                held.append((message, DeadLetter.from_message(message)))
        except BaseException:
            await self._give_back(held)
            raise
        return held

    async def _give_back(self, held: Iterable[tuple[AbstractIncomingMessage, DeadLetter]]) -> None:
        for message, _letter in held:
            try:
                await message.nack(requeue=True)
            except Exception:
                return  # the channel is gone: the broker has requeued everything we held

    # -- replaying --------------------------------------------------------------------------------

    async def _republish(self, letter: DeadLetter) -> str | None:
        """Publish the original message again; None once the broker confirmed it, else why not."""
        assert self._channel is not None
        headers = {k: v for k, v in letter.headers.items()
                   if k not in DEATH_HEADERS and not k.startswith(BROKER_DEATH_PREFIXES)}
        headers[REPLAYED] = letter.replayed + 1
        headers[REPLAYED_BY] = self.user
        correlation_id = letter.correlation_id
        reply_to = letter.reply_to
        answer: asyncio.Future[dict[str, Any]] | None = None
        if letter.is_request:
            # The shop answers the operator, who then knows whether it ran; the original caller is long gone.
            reply_to = (await self._reply_queue()).name
            correlation_id = uuid.uuid4().hex
            answer = asyncio.get_running_loop().create_future()
            self._answers[correlation_id] = answer
        message = aio_pika.Message(
            letter.body,
            headers=headers,
            content_type=letter.content_type,
            correlation_id=correlation_id,
            reply_to=reply_to,
            message_id=letter.message_id,
            type=letter.type,
            app_id=letter.app_id,
            user_id=self.user,  # the broker checks it: the replay is the operator's doing
            timestamp=datetime.now(UTC),
            delivery_mode=letter.delivery_mode or aio_pika.DeliveryMode.PERSISTENT,
        )
        if letter.queue:
            exchange: AbstractExchange = self._channel.default_exchange
            routing_key = letter.queue
        else:
            found = await self._exchange(letter.exchange or "")
            if isinstance(found, str):
                return found
            exchange, routing_key = found, letter.routing_key
        try:
            await exchange.publish(message, routing_key=routing_key, mandatory=True, timeout=PUBLISH_TIMEOUT)
        except DeliveryError as exc:
            frame = getattr(exc, "frame", None)
            if frame is not None and getattr(frame, "reply_code", None) == 312:
                return f"nothing takes it any more at {letter.destination} (the broker returned it: no route)"
            return f"the broker did not take it ({exc})"
        except (AMQPError, TimeoutError, ConnectionError) as exc:
            raise DeadLetterError("unavailable", f"The broker connection failed while replaying {letter.id} "
                                                 f"({exc}); it stays in {self.names.dead_queue}.") from None
        if answer is None:
            return None
        try:
            reply = await asyncio.wait_for(answer, ANSWER_TIMEOUT)
        except TimeoutError:
            return f"the shop service did not answer within {ANSWER_TIMEOUT:g} seconds (is it running?)"
        finally:
            self._answers.pop(correlation_id or "", None)
        if reply.get("ok"):
            return None
        error = reply.get("error") or {}
        return f"the shop refused it ({error.get('code', 'internal')}): {error.get('message', 'no reason given')}"

    async def _reply_queue(self) -> AbstractQueue:
        """The operator's own reply queue (the service answers only there), made on first use."""
        assert self._channel is not None
        if self._replies is None:
            self._replies = await self._channel.declare_queue(
                self.names.reply_queue(self.user, uuid.uuid4().hex), exclusive=True, auto_delete=True)
            await self._replies.consume(self._on_answer, no_ack=True)
        return self._replies

    async def _on_answer(self, message: AbstractIncomingMessage) -> None:
        future = self._answers.get(message.correlation_id or "")
        if future is None or future.done():
            return
        try:
            reply = json.loads(message.body)
        except ValueError:
            reply = {"ok": False, "error": {"code": "internal", "message": "the shop sent an unreadable answer"}}
        future.set_result(reply if isinstance(reply, dict) else {"ok": False, "error": {}})

    async def _exchange(self, name: str) -> AbstractExchange | str:
        """The exchange to republish to, or why there is none. Checked on a channel of its own, because the
        broker closes the channel of anyone who publishes to a missing exchange."""
        assert self._channel is not None
        if not name:
            return self._channel.default_exchange
        if name not in self._exchanges:
            probe = await self._connection.channel()
            try:
                await probe.declare_exchange(name, passive=True)
            except ChannelNotFoundEntity:
                return f"the exchange {name} it came from no longer exists"
            finally:
                if not probe.is_closed:
                    await probe.close()
            self._exchanges[name] = await self._channel.get_exchange(name, ensure=False)
        return self._exchanges[name]


# -- for people ---------------------------------------------------------------------------------------


def listing_text(listing: Listing, table: Any) -> str:
    """The list as a table (table is app.cli.formatting.table)."""
    if not listing.letters:
        return "No dead letters."
    rows = [(d.id, d.dead_at_text, d.routing_key, d.reason if len(d.reason) <= 80 else d.reason[:79] + "…",
             d.preview(40)) for d in listing.letters]
    text = table(("ID", "dead at", "routing key", "reason", "body"), rows)
    shown = len(listing.letters)
    if listing.total > shown:
        text += f"\n{shown} of {listing.total} dead letters shown (--limit)."
    return str(text)


def replay_text(report: ReplayReport) -> str:
    if not report.replayed and not report.kept:
        return "No dead letters."
    lines = [f"Replayed {d.id} to {d.destination}" + (f" (replay {n})" if n > 1 else "") + "."
             for d, n in report.replayed]
    lines += [f"Kept {d.id}: {why}." for d, why in report.kept]
    return "\n".join(lines)
