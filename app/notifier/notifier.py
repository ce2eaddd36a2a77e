"""`kiltshop notifier`: e-mails shop events to the people who want them, from durable queues of its own.

- Queues: `<ns>.notifier.order-completed` (order.completed, for shipping) and `<ns>.notifier.order-placed`
  (order.placed, for the workshop and sales), durable, bound to `<ns>.events`; events wait there while the
  notifier is down.
- When an event first arrives, the mails it owes are planned (who, where, now or held for quiet hours or the
  digest) and recorded in the shop's database in one transaction; a redelivered event keeps that plan.
- The event is acknowledged only once every mail it owes was accepted by the SMTP server (and noted as sent)
  or is recorded as held. A server that is down or refuses is tried again after 1, 2, 4 ... 60 seconds; once
  the first failure is older than `retry_for`, the event is published to `<ns>.dead` with the reason, and
  acknowledged.
- Held mails (quiet hours, the daily digest) are sent by a scheduler from the database when their time comes,
  with the same retries and dead-lettering; they survive a restart.
- A mail is noted as sent right after the server accepted it, so it is never sent twice for one event. The one
  window left: killed after the server accepted it and before the note was written, the mail goes out again
  after the restart, with the same Message-ID header.

It uses the shop's database directly (it runs beside the service, on the shop's side): the preferences, the
customer's contact and its own record of mails share that database and its transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from app.config import NotifierSettings, Settings
from app.contract import CONTENT_TYPE, Names
from app.domain.notices import DEFAULT_SETTINGS, NOTICE_EVENTS, plan_notice, retry_delay
from app.lifecycle import run_until_signalled
from app.messaging.connection import connect
from app.messaging.topology import declare_exchanges
from app.notifier.mail_content import Notice, build_message, compose, compose_digest, mail_id
from app.notifier.smtp_sender import MailNotSent, SmtpSender
from app.store.notice_store import Delivery, NewDelivery, NoticeStore, iso, parse_iso
from app.store.shop_store import ShopStore

log = logging.getLogger("kiltshop.notifier")

# queue purpose -> the event it carries
QUEUES: dict[str, str] = {"order-completed": "order.completed", "order-placed": "order.placed"}
PREFETCH = 16
IDLE_SECONDS = 60.0  # the scheduler looks at held mail at least this often
TROUBLE_SECONDS = 5.0  # after an unexpected failure (database away), wait this long before trying again


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class Failure:
    """A mail the server did not take: why, since when it has been failing, and how many tries failed."""

    error: str
    first_failed_at: datetime
    attempts: int


@dataclass(frozen=True)
class Recipient:
    key: str  # "user:<broker user>/<role>" or "config:<event>:<address>"
    email: str
    settings: dict[str, Any]


class Notifier:
    def __init__(self, settings: Settings, notify: NotifierSettings, *, password: str | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.notify = notify
        self.names = Names(settings.namespace)
        self.clock: Clock = clock or SystemClock()
        self.sender = SmtpSender(notify, password)
        self.store: ShopStore | None = None
        self.notices: NoticeStore | None = None
        self.connection: AbstractRobustConnection | None = None
        self._dead: AbstractExchange | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._smtp_lock = asyncio.Lock()  # one mail at a time: the server is not hammered
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._held_retry: dict[tuple[str, str], float] = {}  # held group -> monotonic time of its next try
        self.sent = 0  # mails the server accepted
        self.handled: Counter[str] = Counter()  # events taken off the queues and acknowledged, by event key

    # -- life cycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.store = await ShopStore.open(self.settings.database_url)
        self.notices = NoticeStore(self.store)
        self.connection = await connect(self.settings.broker_url, f"kiltshop-notifier {self.names.namespace}")
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        exchanges = await declare_exchanges(channel, self.names)
        # The dead-letter queue too: a mail given up on must land somewhere even if no service ever ran here.
        dead_queue = await channel.declare_queue(self.names.dead_queue, durable=True)
        await dead_queue.bind(exchanges["dead"], "#")
        confirm_channel = await self.connection.channel(publisher_confirms=True)
        self._dead = await confirm_channel.get_exchange(self.names.dead_exchange, ensure=False)
        queues = await self._declare_queues(channel, exchanges["events"])
        self._scheduler = asyncio.create_task(self._schedule_loop(), name="notifier-scheduler")
        for queue in queues:
            self._consumers.append((queue, await queue.consume(self._on_message)))
        log.info("notifier for shop %r: mail through %s as %s", self.names.namespace, self.notify.smtp_address,
                 self.notify.smtp_sender)

    async def _declare_queues(self, channel: AbstractChannel, events: AbstractExchange) -> list[AbstractQueue]:
        queues = []
        for purpose, key in QUEUES.items():
            queue = await channel.declare_queue(self.names.notifier_queue(purpose), durable=True)
            await queue.bind(events, key)
            queues.append(queue)
        return queues

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new events, let mails in hand finish (retry waits end at once), close."""
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        self._consumers.clear()
        self._stopping.set()
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("%d events still in hand at shutdown; the broker will deliver them again", self._in_flight)
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        if self.connection is not None:
            await self.connection.close()
        if self.store is not None:
            await self.store.close()

    async def run_until_signalled(self) -> None:
        await run_until_signalled(self.start, self.stop, "finishing the mails in hand")

    def wake(self) -> None:
        """Look at held mail now (after the clock moved, or new mail was held)."""
        self._wake.set()

    # -- events from the queues -----------------------------------------------------------------------

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._handle(message)
        except Exception:
            # The database or the broker is away: nothing was acknowledged; hand the event back after a pause.
            log.exception("could not handle an event; it will be tried again")
            await self._pause(TROUBLE_SECONDS)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        assert self.notices is not None
        try:
            event = _read_event(message.body)
        except ValueError as exc:
            await self._dead_letter(message.body, message.routing_key or "unknown", message.message_id,
                                    f"The notifier cannot read this event: {exc}.")
            await message.ack()
            return
        if event["event"] not in NOTICE_EVENTS:
            await self._ack(message, event)  # bound by hand to something we do not mail about
            return
        event_id = message.message_id or f"seq-{event['seq']}"
        deliveries = await self.notices.deliveries_of(event_id)
        if any(d.status == "dead" for d in deliveries):
            log.info("order %s: given up on before, and sent back: trying again", event["data"]["number"])
            deliveries = await self.notices.revive(event_id)
        if not deliveries:
            planned = await self._plan(event)
            deliveries = await self.notices.open_deliveries(
                event_id, event["event"], int(event["seq"]), str(event["data"]["number"]),
                message.body.decode("utf-8"), planned, iso(self.clock.now()))
            if any(d.status == "held" for d in deliveries):
                log.info("order %s: mail held for quiet hours or the digest", event["data"]["number"])
                self.wake()
        while True:
            due = [d for d in deliveries if d.status == "due"]
            if not due:
                await self._ack(message, event)
                return
            failed = [(d, failure) for d in due if (failure := await self._deliver([d])) is not None]
            if not failed:
                await self._ack(message, event)
                return
            if await self._given_up(failed, [event], event_id):
                await self._ack(message, event)
                return
            if await self._pause(retry_delay(max(f.attempts for _, f in failed))):
                return  # stopping: not acknowledged, so the broker hands it over again later
            deliveries = await self.notices.deliveries_of(event_id)

    async def _ack(self, message: AbstractIncomingMessage, event: dict[str, Any]) -> None:
        await message.ack()
        self.handled[str(event["event"])] += 1

    async def _plan(self, event: dict[str, Any]) -> list[NewDelivery]:
        """Who is owed a mail for this event, and when: as they chose, right now."""
        now = self.clock.now()
        planned: list[NewDelivery] = []
        seen: set[str] = set()
        for recipient in await self._recipients(event["event"]):
            if recipient.email.lower() in seen:
                continue  # one mail per address, even if it is named twice
            seen.add(recipient.email.lower())
            plan = plan_notice(recipient.settings, now)
            planned.append(NewDelivery(recipient.key, recipient.email, plan.status, plan.kind, iso(plan.due_at)))
        return planned

    async def _recipients(self, event: str) -> list[Recipient]:
        assert self.notices is not None
        people = [
            Recipient(f"user:{s['user']}/{s['role']}", s["email"], s)
            for s in await self.notices.recipients(NOTICE_EVENTS[event])
        ]
        configured = self.notify.notify_shipping if event == "order.completed" else self.notify.notify_workshop
        people += [Recipient(f"config:{event}:{address.lower()}", address, dict(DEFAULT_SETTINGS))
                   for address in configured]
        return people

    # -- sending --------------------------------------------------------------------------------------

    async def _deliver(self, deliveries: Sequence[Delivery]) -> Failure | None:
        """Send one mail for these deliveries (one recipient: one event, or a digest); None when the server
        accepted it (and it is noted as sent), else what went wrong."""
        assert self.notices is not None
        first = deliveries[0]
        events = [json.loads(d.body) for d in deliveries]
        zone = await self._zone_of(first.recipient)
        notices = [Notice(e, await self.notices.contact(int(e["data"]["contact_id"]))) for e in events]
        if any(n.contact is None for n in notices):
            log.warning("the customer of order %s is not in the notifier's database: does it use the service's?",
                        ", ".join(str(e["data"]["number"]) for e in events))
        if first.kind == "digest":
            mail = compose_digest(notices, self.notify.collect_from, zone)
        else:
            mail = compose(notices[0], self.notify.collect_from, zone)
        message_id = mail_id([d.event_id for d in deliveries], first.recipient, self.notify.smtp_sender)
        message = build_message(mail, self.notify.smtp_sender, first.email, message_id, events, self.clock.now())
        ids = [d.id for d in deliveries]
        numbers = ", ".join(str(e["data"]["number"]) for e in events)
        try:
            async with self._smtp_lock:
                if await self.notices.already_sent(ids):
                    return None  # the same event came twice at once and the other delivery sent it
                await self.sender.send(message)
                # Noted at once, before anything else can happen: the window for a repeat stays this small.
                await self.notices.mark_sent(ids, message_id, iso(self.clock.now()))
        except MailNotSent as exc:
            log.warning("order %s: mail to %s not sent: %s", numbers, first.email, exc)
            since, attempts = await self.notices.mark_failed(ids, str(exc), iso(self.clock.now()))
            return Failure(str(exc), parse_iso(since), attempts)
        self.sent += 1
        log.info("order %s: mailed %s (%s)", numbers, first.email, mail.subject)
        return None

    async def _zone_of(self, recipient: str) -> str:
        assert self.notices is not None
        if recipient.startswith("user:"):
            user, _, role = recipient[len("user:"):].rpartition("/")
            return str((await self.notices.get_settings(user, role))["timezone"])
        return str(DEFAULT_SETTINGS["timezone"])

    async def _given_up(self, failed: Sequence[tuple[Delivery, Failure]], events: Sequence[dict[str, Any]],
                        event_ids: str | Sequence[str]) -> bool:
        """True (and each event dead-lettered, the deliveries marked dead) once the first failure is older than
        retry_for. Each dead letter is the event itself, addressed back to the notifier's queue, so that
        `kiltshop dead replay` hands it to the notifier again (which then tries its mails once more)."""
        assert self.notices is not None
        first = min(f.first_failed_at for _, f in failed)
        waited = (self.clock.now() - first).total_seconds()
        if waited < self.notify.retry_for:
            return False
        tries = max(f.attempts for _, f in failed)
        problems = "; ".join(sorted({f"{d.email}: {f.error}" for d, f in failed}))
        reason = (f"Gave up e-mailing order {', '.join(str(e['data']['number']) for e in events)} after "
                  f"{tries} tries in {waited:.0f} s: {problems}")
        ids = [event_ids] if isinstance(event_ids, str) else list(event_ids)
        for event, event_id in zip(events, ids, strict=True):
            body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            await self._dead_letter(body, str(event["event"]), event_id, reason)
        await self.notices.mark_dead([d.id for d, _ in failed], reason)
        log.error("%s", reason)
        return True

    async def _dead_letter(self, body: bytes, routing_key: str, message_id: str | None, reason: str) -> None:
        assert self._dead is not None
        headers: dict[str, Any] = {
            "x-kiltshop-reason": reason[:1000],
            "x-kiltshop-exchange": self.names.events_exchange,
            "x-kiltshop-routing-key": routing_key,
            "x-kiltshop-dead-at": int(time.time()),
        }
        purpose = next((p for p, key in QUEUES.items() if key == routing_key), None)
        if purpose is not None:  # a replay goes back to this queue only, not to every subscriber of the event
            headers["x-kiltshop-queue"] = self.names.notifier_queue(purpose)
        await self._dead.publish(
            aio_pika.Message(
                body,
                headers=headers,
                content_type=CONTENT_TYPE,
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )

    async def _pause(self, seconds: float) -> bool:
        """Wait, unless the notifier is stopping; True when it is."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    # -- held mail: quiet hours and digests -------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                timeout = await self.send_held()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("held mail: %s; trying again shortly", exc)
                timeout = TROUBLE_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def send_held(self) -> float:
        """Send every held mail whose time has come; returns how long until it is worth looking again."""
        assert self.notices is not None
        loop = asyncio.get_running_loop()
        now = self.clock.now()
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for d in await self.notices.held_due(iso(now)):
            # a digest is one mail with everything due for its recipient; a held single mail stays one mail
            groups.setdefault((d.recipient, "digest" if d.kind == "digest" else d.event_id), []).append(d)
        wait = IDLE_SECONDS
        for key, deliveries in groups.items():
            next_try = self._held_retry.get(key, 0.0)
            if next_try > loop.time():
                wait = min(wait, next_try - loop.time())
                continue
            failure = await self._deliver(deliveries)
            if failure is None:
                self._held_retry.pop(key, None)
                continue
            events = [json.loads(d.body) for d in deliveries]
            if await self._given_up([(d, failure) for d in deliveries], events, [d.event_id for d in deliveries]):
                self._held_retry.pop(key, None)
                continue
            delay = retry_delay(failure.attempts)
            self._held_retry[key] = loop.time() + delay
            wait = min(wait, delay)
        upcoming = await self.notices.next_held()
        if upcoming is not None:
            wait = min(wait, max(0.05, (parse_iso(upcoming) - self.clock.now()).total_seconds()))
        return max(0.05, wait)


def _read_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict) or "seq" not in event \
            or not isinstance(event.get("event"), str):
        raise ValueError("it is not an event envelope {seq, event, at, actor, data}")
    data = event["data"]
    if event["event"] in NOTICE_EVENTS and not all(k in data for k in ("number", "contact_id", "items",
                                                                          "total_pence")):
        raise ValueError("its data is not a whole order")
    return event
