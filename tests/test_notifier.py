"""The notifier against the real broker, the real service and a real SMTP server on loopback (aiosmtpd): a
completed order makes exactly one mail with the right content, a digest collects several, quiet hours hold
mail back, a server that is down and comes back gets the mail once, one that refuses for good ends in
`<ns>.dead` with the reason, and a dead letter sent back is mailed once the server takes it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import aio_pika
import pytest

from app.client.shop_client import ShopClient
from app.config import NotifierSettings, Settings
from app.contract import Names
from app.notifier.mail_content import mail_id
from app.notifier.notifier import Notifier
from app.service.shop_service import ShopService
from app.store.notice_store import NoticeStore
from tests.notifier_helpers import (
    ShiftedClock,
    SmtpServer,
    complete,
    hhmm,
    notifier_queues_idle,
    notify_settings,
    ready_order,
    want_mail,
)
from tests.shop_helpers import RawRpc, queue_state
from tests.support import wait_until

StartNotifier = Callable[..., Awaitable[Notifier]]
DOUGIE = "dougie@glen.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def start_notifier(settings: Settings, service: ShopService) -> AsyncIterator[StartNotifier]:
    """Start notifiers in this process, against the test's service, broker and database; all stopped at the end,
    and their durable queues removed from the shared broker."""
    started: list[Notifier] = []

    async def start(notify: NotifierSettings, **kwargs: Any) -> Notifier:
        notifier = Notifier(settings, notify, **kwargs)
        await notifier.start()
        started.append(notifier)
        return notifier

    yield start
    for notifier in started:
        if notifier.connection is not None and not notifier.connection.is_closed:
            await notifier.stop()
    connection = await aio_pika.connect(settings.broker_url)
    try:
        for purpose in ("order-completed", "order-placed"):
            channel = await connection.channel()
            await channel.queue_delete(Names(settings.namespace).notifier_queue(purpose))
    finally:
        await connection.close()


async def deliveries(notifier: Notifier, status: str | None = None) -> list[Any]:
    assert notifier.store is not None
    return await NoticeStore(notifier.store).deliveries(status)


async def stop_and_check_nothing_left(notifier: Notifier, settings: Settings) -> None:
    """Stop the notifier, then nothing may wait in its queues: no event can be mailed again later."""
    await notifier.stop()
    assert await notifier_queues_idle(settings.broker_url, settings.namespace)


async def test_a_completed_order_sends_exactly_one_mail_saying_what_to_collect_and_bill(
    settings: Settings, client: ShopClient, smtp: SmtpServer, start_notifier: StartNotifier
) -> None:
    await want_mail(client, "shipping", DOUGIE)
    notifier = await start_notifier(notify_settings(smtp))
    order = await ready_order(client)
    await complete(client, order)

    [mail] = await smtp.wait_for(1)
    assert mail.to == [DOUGIE] and mail.sender == "notices@macgrudder.example"
    assert mail.subject == "Kilt ready to collect: order K-0001 for Morag MacLeod, £531.00 to bill"
    text = mail.text
    for words in ("Order K-0001 for Morag MacLeod is finished and ready to collect.",
                  "Collect from: MacGrudder's workshop, Bridge of Orchy",
                  "Deliver to:   3 Loch View", "Tyndrum FK20 8RY", "Phone:        01838 400 123",
                  "1 × Eight-yard kilt (MacGregor)", "£480.00", "2 × Kilt pin", "£25.50", "£51.00",
                  "Total to bill", "£531.00", "Notes: Wedding on the 14th"):
        assert words in text, words
    await wait_until(lambda: notifier.handled["order.completed"] == 1)  # recorded sent, then acknowledged
    [sent] = await deliveries(notifier)
    assert sent.status == "sent" and sent.email == DOUGIE and sent.order_number == "K-0001"
    assert str(mail.message["Message-ID"]).strip() == sent.mail_id == mail_id([sent.event_id], sent.recipient,
                                                                 "notices@macgrudder.example")

    # The same event delivered again (as after a crash) is recognised and sends nothing.
    await wait_until(lambda: notifier.handled["order.completed"] == 1)
    connection = await aio_pika.connect(settings.broker_url)
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(sent.body.encode(), message_id=sent.event_id, content_type="application/json"),
            routing_key=Names(settings.namespace).notifier_queue("order-completed"))
    finally:
        await connection.close()
    await wait_until(lambda: notifier.handled["order.completed"] == 2)
    await stop_and_check_nothing_left(notifier, settings)
    assert len(smtp.received) == 1


async def test_a_new_order_mails_the_workshop_what_to_make_and_the_measurements(
    settings: Settings, client: ShopClient, smtp: SmtpServer, start_notifier: StartNotifier
) -> None:
    # The web store's old "new order" mail: now from the order.placed event, to a configured address.
    notifier = await start_notifier(notify_settings(smtp, notify_workshop=("macgrudder@glen.example",)))
    contact = await client.call("contacts.create", {
        "name": "Callum Fraser", "address": "12 Mill Lane, Killin", "phone": "01567 820 000",
        "measurements": {"waist_cm": 92, "hip_cm": 101.5}})
    await client.call("orders.place", {"contact_id": contact["id"], "notes": "Fitting on Saturday", "items": [
        {"description": "Eight-yard kilt", "tartan": "Fraser Hunting", "quantity": 1, "unit_price_pence": 52000}]})
    [mail] = await smtp.wait_for(1)
    assert mail.to == ["macgrudder@glen.example"]
    assert mail.subject == "New order K-0001 from Callum Fraser: 1 × Eight-yard kilt (Fraser Hunting)"
    for words in ("Callum Fraser placed order K-0001", "What to make:", "1 × Eight-yard kilt (Fraser Hunting)",
                  "Address:      12 Mill Lane, Killin", "waist 92 cm, hip 101.5 cm, length not taken",
                  "£520.00", "Notes: Fitting on Saturday"):
        assert words in mail.text, words
    await wait_until(lambda: notifier.handled["order.placed"] == 1)
    await stop_and_check_nothing_left(notifier, settings)
    assert len(smtp.received) == 1


async def test_a_digest_collects_several_orders_into_one_mail(
    settings: Settings, client: ShopClient, smtp: SmtpServer, start_notifier: StartNotifier
) -> None:
    clock = ShiftedClock()
    digest_at = clock.now() + timedelta(hours=2)
    await want_mail(client, "shipping", DOUGIE, digest=True, digest_at=hhmm(digest_at))
    notifier = await start_notifier(notify_settings(smtp), clock=clock)
    for name in ("Morag MacLeod", "Hamish Grant", "Isla Munro"):
        await complete(client, await ready_order(client, name))

    async def held() -> bool:
        return len(await deliveries(notifier, "held")) == 3

    await wait_until(held)
    assert smtp.received == []  # all three are recorded as held: nothing went out one by one
    assert await notifier_queues_idle(settings.broker_url, settings.namespace)

    clock.advance_to(digest_at + timedelta(minutes=1))
    notifier.wake()
    [mail] = await smtp.wait_for(1)
    assert mail.to == [DOUGIE]
    assert mail.subject == "Kiltshop digest: 3 kilts ready to collect (K-0001, K-0002, K-0003)"
    assert "£1,593.00 to bill in all" in mail.text
    for name in ("Morag MacLeod", "Hamish Grant", "Isla Munro"):
        assert f"for {name} is finished" in mail.text
    # the mail is accepted by the SMTP server a moment before the notifier records it sent

    async def all_sent() -> bool:
        return {d.status for d in await deliveries(notifier)} == {"sent"}

    await wait_until(all_sent)
    notifier.wake()
    await stop_and_check_nothing_left(notifier, settings)
    assert len(smtp.received) == 1


async def test_quiet_hours_hold_mail_back_until_they_end(
    settings: Settings, client: ShopClient, smtp: SmtpServer, start_notifier: StartNotifier
) -> None:
    clock = ShiftedClock()
    now = clock.now()
    await want_mail(client, "shipping", DOUGIE, quiet_start=hhmm(now - timedelta(hours=1)),
                    quiet_end=hhmm(now + timedelta(hours=1)))
    # The office address has no quiet hours: it hears at once, which shows the event was handled.
    notifier = await start_notifier(notify_settings(smtp, notify_shipping=("office@glen.example",)), clock=clock)
    await complete(client, await ready_order(client))
    [office] = await smtp.wait_for(1)
    assert office.to == ["office@glen.example"]

    async def held() -> list[Any]:
        return await deliveries(notifier, "held")

    await wait_until(held)
    [waiting] = await held()
    assert waiting.email == DOUGIE and waiting.kind == "single"
    assert hhmm(now + timedelta(hours=1)) in waiting.due_at
    assert smtp.to(DOUGIE) == []

    clock.advance(timedelta(hours=1, minutes=1))
    notifier.wake()
    await smtp.wait_for(2)
    [mail] = smtp.to(DOUGIE)
    assert "K-0001" in mail.subject
    await stop_and_check_nothing_left(notifier, settings)
    assert len(smtp.received) == 2


async def test_a_server_that_is_down_then_back_gets_the_mail_once(
    settings: Settings, client: ShopClient, start_notifier: StartNotifier
) -> None:
    smtp = SmtpServer()  # nothing listens on its port yet
    try:
        await want_mail(client, "shipping", DOUGIE)
        notifier = await start_notifier(notify_settings(smtp))
        await complete(client, await ready_order(client))

        async def tried_twice() -> bool:
            found = await deliveries(notifier)
            return bool(found) and found[0].attempts >= 2

        await wait_until(tried_twice, timeout=30)
        [waiting] = await deliveries(notifier)
        assert waiting.status == "due" and "cannot be reached" in waiting.last_error
        assert notifier.handled["order.completed"] == 0  # not acknowledged while the mail is not accepted
        state = await queue_state(settings.broker_url, Names(settings.namespace).notifier_queue("order-completed"))
        assert state is not None and state[1] == 1

        smtp.start()
        [mail] = await smtp.wait_for(1, timeout=30)
        assert "K-0001" in mail.subject
        await wait_until(lambda: notifier.handled["order.completed"] == 1)
        [sent] = await deliveries(notifier)
        assert sent.status == "sent" and sent.attempts >= 2
        await stop_and_check_nothing_left(notifier, settings)
        assert len(smtp.received) == 1
    finally:
        smtp.stop()


async def test_a_server_that_refuses_for_good_ends_in_the_dead_letters_with_the_reason(
    settings: Settings, client: ShopClient, smtp: SmtpServer, start_notifier: StartNotifier
) -> None:
    smtp.handler.refuse = "550 5.1.1 <dougie@glen.example>: mailbox unavailable"
    await want_mail(client, "shipping", DOUGIE)
    notifier = await start_notifier(notify_settings(smtp, retry_for=2.5))
    await complete(client, await ready_order(client))
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        [letter] = await raw.dead_letters(1, timeout=30)
    headers = letter.headers
    reason = str(headers["x-kiltshop-reason"])
    assert "K-0001" in reason and DOUGIE in reason and "550" in reason and "mailbox unavailable" in reason
    assert headers["x-kiltshop-routing-key"] == letter.routing_key == "order.completed"
    assert headers["x-kiltshop-exchange"] == Names(settings.namespace).events_exchange
    assert headers["x-kiltshop-queue"] == Names(settings.namespace).notifier_queue("order-completed")
    event = json.loads(letter.body)
    assert event["event"] == "order.completed" and event["data"]["number"] == "K-0001"
    await wait_until(lambda: notifier.handled["order.completed"] == 1)
    [dead] = await deliveries(notifier)
    assert dead.status == "dead" and dead.attempts >= 2 and letter.message_id == dead.event_id
    assert smtp.received == []

    # Sent back (as `kiltshop dead replay` does, to the queue it names) once the address works: mailed once.
    smtp.handler.refuse = None
    connection = await aio_pika.connect(settings.broker_url)
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(letter.body, message_id=letter.message_id, content_type="application/json"),
            routing_key=str(headers["x-kiltshop-queue"]))
    finally:
        await connection.close()
    [mail] = await smtp.wait_for(1)
    assert mail.to == [DOUGIE] and "K-0001" in mail.subject
    await wait_until(lambda: notifier.handled["order.completed"] == 2)
    await stop_and_check_nothing_left(notifier, settings)
    assert len(smtp.received) == 1


async def test_settings_changed_take_effect_on_the_next_event(
    settings: Settings, client: ShopClient, smtp: SmtpServer, start_notifier: StartNotifier
) -> None:
    notifier = await start_notifier(notify_settings(smtp))
    first = await ready_order(client, "Morag MacLeod")
    second = await ready_order(client, "Hamish Grant")
    await want_mail(client, "shipping", DOUGIE)
    await complete(client, first)
    await smtp.wait_for(1)
    current = await client.call("notices.settings.get", {"role": "shipping"})
    await client.call("notices.settings.set", {"role": "shipping", "version": current["version"],
                                               "email": "dougie@ardlui.example"})
    await complete(client, second)
    await smtp.wait_for(2)
    assert [m.to for m in smtp.received] == [[DOUGIE], ["dougie@ardlui.example"]]
    assert "Hamish Grant" in smtp.received[1].subject
    current = await client.call("notices.settings.get", {"role": "shipping"})
    await client.call("notices.settings.set", {"role": "shipping", "version": current["version"],
                                               "email_enabled": False})
    third = await ready_order(client, "Isla Munro")
    await complete(client, third)
    await wait_until(lambda: notifier.handled["order.completed"] == 3)  # handled, and nobody wants a mail any more
    await stop_and_check_nothing_left(notifier, settings)
    assert len(smtp.received) == 2


async def test_a_digest_the_server_will_not_take_is_dead_lettered_event_by_event(
    settings: Settings, client: ShopClient, smtp: SmtpServer, start_notifier: StartNotifier
) -> None:
    clock = ShiftedClock()
    digest_at = clock.now() + timedelta(hours=3)
    await want_mail(client, "shipping", DOUGIE, digest=True, digest_at=hhmm(digest_at))
    notifier = await start_notifier(notify_settings(smtp, retry_for=2.0), clock=clock)
    for name in ("Morag MacLeod", "Hamish Grant"):
        await complete(client, await ready_order(client, name))

    async def held() -> bool:
        return len(await deliveries(notifier, "held")) == 2

    await wait_until(held)
    smtp.handler.refuse = "554 5.7.1 Relaying denied"
    clock.advance_to(digest_at + timedelta(minutes=1))
    notifier.wake()
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        letters = await raw.dead_letters(2, timeout=30)
    numbers = sorted(json.loads(letter.body)["data"]["number"] for letter in letters)
    assert numbers == ["K-0001", "K-0002"]  # each event on its own, so each can be replayed to the notifier
    for letter in letters:
        assert "554" in str(letter.headers["x-kiltshop-reason"]) and "Relaying denied" in str(
            letter.headers["x-kiltshop-reason"])
        assert letter.headers["x-kiltshop-queue"] == Names(settings.namespace).notifier_queue("order-completed")
    assert {d.status for d in await deliveries(notifier)} == {"dead"}
    assert smtp.received == []
    await stop_and_check_nothing_left(notifier, settings)
