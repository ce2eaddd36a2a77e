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
- One notifier per shop sends: it consumes both queues as the broker's *exclusive* consumer. A second notifier
  is refused (ACCESS_REFUSED), says so, and waits as a standby, asking again every few seconds; when the first
  one stops or dies the broker lets the standby in, and it takes the waiting events (unacknowledged ones
  included) from the durable queues. The standby sends no held mail either.

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
import aiormq.exceptions
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from app.config import NotifierSettings, Settings
from app.contract import (
    CONTENT_TYPE,
    DEAD_AT,
    DEAD_EXCHANGE,
    DEAD_QUEUE,
    DEAD_REASON,
    DEAD_ROUTING_KEY,
    Names,
)
from app.domain.notices import DEFAULT_SETTINGS, NOTICE_EVENTS, plan_notice, retry_delay
from app.messaging.connection import BrokerUnavailable, connect
from app.notifier.mail_content import Notice, build_message, compose, compose_digest, mail_id
from app.notifier.smtp_sender import MailNotSent, SmtpSender
from app.service.lifecycle import run_until_signalled
from app.store.notice_store import Delivery, NewDelivery, NoticeStore, iso, parse_iso
from app.store.shop_store import ShopStore

log = logging.getLogger("kiltshop.notifier")

# queue purpose -> the event it carries
QUEUES: dict[str, str] = {"order-completed": "order.completed", "order-placed": "order.placed"}
PREFETCH = 16
IDLE_SECONDS = 60.0  # the scheduler looks at held mail at least this often
TROUBLE_SECONDS = 5.0  # after an unexpected failure (database away), wait this long before trying again
STANDBY_SECONDS = 3.0  # a standby notifier asks the broker for the queues this often


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
        self._claim: AbstractChannel | None = None  # the channel holding the exclusive consumers
        self._holder: asyncio.Task[None] | None = None
        self._first_claim = asyncio.Event()
        self.active = asyncio.Event()  # set while this notifier holds the queues (else it is a standby)
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
        events, dead = await self._declare_exchanges(channel)
        confirm_channel = await self.connection.channel(publisher_confirms=True)
        self._dead = await confirm_channel.get_exchange(dead.name, ensure=False)
        await self._declare_queues(channel, events)
        self._scheduler = asyncio.create_task(self._schedule_loop(), name="notifier-scheduler")
        self._holder = asyncio.create_task(self._hold_queues(), name="notifier-queues")
        await self._first_claim.wait()  # active or standby: either way the log has said which
        log.info("notifier for shop %r: mail through %s as %s", self.names.namespace, self.notify.smtp_address,
                 self.notify.smtp_sender)

    async def _declare_exchanges(self, channel: AbstractChannel) -> tuple[AbstractExchange, AbstractExchange]:
        """The events and dead-letter exchanges, and the dead-letter queue, looked up passively: the notifier's
        own login may not declare (nor so delete) them; the service makes them. Only when one is missing (the
        notifier started first, as the development login guest) does it declare it, as the service would."""
        missing = await self._missing([self.names.events_exchange, self.names.dead_exchange],
                                      [self.names.dead_queue])
        try:
            events = await channel.declare_exchange(
                self.names.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True,
                passive=self.names.events_exchange not in missing)
            dead = await channel.declare_exchange(
                self.names.dead_exchange, aio_pika.ExchangeType.TOPIC, durable=True,
                passive=self.names.dead_exchange not in missing)
            if ("queue", self.names.dead_queue) in missing:
                # A mail given up on must land somewhere even if no service ever ran here.
                dead_queue = await channel.declare_queue(self.names.dead_queue, durable=True)
                await dead_queue.bind(dead, "#")
        except aiormq.exceptions.ChannelAccessRefused:
            raise BrokerUnavailable(
                f"The shop {self.names.namespace!r} is not set up on the broker yet and the notifier's login may "
                "not set it up: start the shop service once first (kiltshop service), then the notifier."
            ) from None
        return events, dead

    async def _missing(self, exchanges: Sequence[str], queues: Sequence[str]) -> set[Any]:
        """Which of these exchanges (by name) and queues (as ("queue", name)) are not on the broker. A passive
        look-up of a missing one closes its channel, so each look-up has a channel of its own."""
        assert self.connection is not None
        missing: set[Any] = set()
        for kind, name in [("exchange", n) for n in exchanges] + [("queue", n) for n in queues]:
            probe = await self._plain_channel()
            try:
                if kind == "exchange":
                    await probe.declare_exchange(name, passive=True)
                else:
                    await probe.declare_queue(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                missing.add(name if kind == "exchange" else ("queue", name))
            finally:
                with contextlib.suppress(Exception):
                    await probe.close()
        return missing

    async def _plain_channel(self) -> AbstractChannel:
        """A channel on the robust connection that aio-pika does not restore after a reconnect: the notifier
        takes its exclusive consumers back itself (a restored one could be refused, and nobody would know)."""
        assert self.connection is not None
        channel = aio_pika.Channel(self.connection, publisher_confirms=False)
        await channel.initialize()
        return channel

    async def _declare_queues(self, channel: AbstractChannel, events: AbstractExchange) -> list[AbstractQueue]:
        queues = []
        for purpose, key in QUEUES.items():
            queue = await channel.declare_queue(self.names.notifier_queue(purpose), durable=True)
            await queue.bind(events, key)
            queues.append(queue)
        return queues

    # -- one notifier per shop: the exclusive consumers --------------------------------------------------

    async def _take_queues(self) -> AbstractChannel:
        """Consume both queues exclusively, on a channel of their own; ChannelAccessRefused when another
        notifier has them. Always in the same order: a notifier reaches the second queue only holding the
        first, so two notifiers never end up holding one queue each."""
        channel = await self._plain_channel()
        consumers: list[tuple[AbstractQueue, str]] = []
        try:
            await channel.set_qos(prefetch_count=PREFETCH)
            for purpose in QUEUES:
                queue = await channel.get_queue(self.names.notifier_queue(purpose), ensure=False)
                consumers.append((queue, await queue.consume(self._on_message, exclusive=True)))
        except BaseException:
            with contextlib.suppress(Exception):
                await channel.close()  # a refusal closed it already; anything else: let go of the first queue
            raise
        self._claim, self._consumers = channel, consumers
        return channel

    async def _hold_queues(self) -> None:
        """Hold the queues while this process runs: take them, or wait as a standby and ask again every few
        seconds; after a lost connection, take them again (or find that the standby has them now)."""
        standby = False
        while not self._stopping.is_set():
            try:
                channel = await self._take_queues()
            except aiormq.exceptions.ChannelAccessRefused:
                if not standby:
                    log.warning(
                        "Another notifier is already sending the mails of shop %r, so this one waits as a "
                        "standby. It takes over by itself when that one stops (it asks every %.0f seconds).",
                        self.names.namespace, STANDBY_SECONDS)
                    standby = True
                self._first_claim.set()
                await self._pause(STANDBY_SECONDS)
                continue
            except Exception as exc:  # the connection is away: the robust connection is reconnecting
                log.debug("cannot take the queues now (%s); trying again", exc)
                self._first_claim.set()
                await self._pause(1.0)
                continue
            if standby:
                log.warning("The other notifier of shop %r stopped: this one sends the shop's mails now.",
                            self.names.namespace)
            else:
                log.info("this notifier sends the mails of shop %r", self.names.namespace)
            standby = False
            self.active.set()
            self.wake()  # held mail may be due
            self._first_claim.set()
            await self._until_closed(channel)
            self.active.clear()
            if not self._stopping.is_set():
                self._consumers.clear()
                log.warning("lost the broker connection; taking the queues again once it is back")

    async def _until_closed(self, channel: AbstractChannel) -> None:
        """Until the channel closes (the connection dropped) or the notifier is stopping."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        closed = asyncio.ensure_future(channel.closed())
        try:
            await asyncio.wait([stopping, closed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            closed.cancel()

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
        for task in (self._scheduler, self._holder):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._claim is not None:
            with contextlib.suppress(Exception):
                await self._claim.close()  # the standby may take the queues from now on
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
            DEAD_REASON: reason[:1000],
            DEAD_EXCHANGE: self.names.events_exchange,
            DEAD_ROUTING_KEY: routing_key,
            DEAD_AT: int(time.time()),
        }
        purpose = next((p for p, key in QUEUES.items() if key == routing_key), None)
        if purpose is not None:  # a replay goes back to this queue only, not to every subscriber of the event
            headers[DEAD_QUEUE] = self.names.notifier_queue(purpose)
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
            if not self.active.is_set():
                await self.active.wait()  # a standby leaves held mail to the active notifier
                continue
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
