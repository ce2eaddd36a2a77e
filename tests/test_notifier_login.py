"""The notifier's own login (`<ns>.notifier`), provisioned on a private broker node: running as it, the notifier
mails a completed order; the same login cannot consume a service queue or the dead letters, publish an event,
make a call, or delete the shop's exchanges (the broker refuses: 403); and the service answers `forbidden` to
any call that carries it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiormq.exceptions import AMQPError

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names
from app.domain.errors import ForbiddenError
from app.messaging.connection import BrokerUnavailable
from app.messaging.rpc_server import Call
from app.notifier.notifier import Notifier
from app.service.handlers import ShopHandlers
from app.service.shop_service import ShopService
from app.store.shop_store import ShopStore
from tests.notifier_helpers import SmtpServer, complete, notify_settings
from tests.shop_helpers import PrivateRabbit
from tests.shop_helpers import ProvisionedShop as Shop

pytestmark = pytest.mark.skipif(not PrivateRabbit.available(), reason="needs the rabbitmq-server package")

NS = "mailer"
VHOST = "mailer-shop"
NOTIFIER = f"{NS}.notifier"
OFFICE = "office@glen.example"


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    with Shop(NS, VHOST) as provisioned:
        assert NOTIFIER in provisioned.passwords
        assert any("its own notifier queues" in line for line in provisioned.said)
        yield provisioned


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}"


@pytest.fixture
async def service(shop: Shop, database_url: str) -> AsyncIterator[ShopService]:
    svc = ShopService(Settings(broker_url=shop.url(f"{NS}.service"), namespace=NS, database_url=database_url))
    assert not svc.dev_mode
    await svc.start()
    yield svc
    await svc.stop()


async def refused(shop: Shop, action: Any) -> str:
    """What the broker said when the notifier's login tried `action(channel)`."""
    connection = await aio_pika.connect(shop.url(NOTIFIER))
    try:
        channel = await connection.channel(publisher_confirms=True)
        with pytest.raises(AMQPError) as caught:
            await action(channel)
        return str(caught.value)
    finally:
        await connection.close()


async def test_before_the_service_ever_ran_the_notifier_says_to_start_it_first(
    shop: Shop, database_url: str
) -> None:
    """First in this module: the vhost is new, no service has declared the shop's exchanges, and the notifier's
    login may not declare them."""
    smtp = SmtpServer().start()
    notifier = Notifier(Settings(broker_url=shop.url(NOTIFIER), namespace=NS, database_url=database_url),
                        notify_settings(smtp))
    try:
        with pytest.raises(BrokerUnavailable) as caught:
            await notifier.start()
        assert "start the shop service once first" in str(caught.value)
    finally:
        await notifier.stop()
        smtp.stop()


async def test_the_notifier_runs_as_its_own_login_and_may_do_nothing_else(
    shop: Shop, service: ShopService, database_url: str
) -> None:
    smtp = SmtpServer().start()
    notifier = Notifier(Settings(broker_url=shop.url(NOTIFIER), namespace=NS, database_url=database_url),
                        notify_settings(smtp, notify_shipping=(OFFICE,)))
    await notifier.start()
    try:
        assert notifier.active.is_set()
        async with ShopClient(shop.url(f"{NS}.sales"), NS) as sales, \
                ShopClient(shop.url(f"{NS}.workshop"), NS) as workshop:
            contact = await sales.call("contacts.create", {"name": "Morag MacLeod", "address": "3 Loch View"})
            order = await sales.call("orders.place", {"contact_id": contact["id"], "items": [
                {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}]})
            order = await workshop.call("orders.start", {"id": order["id"], "version": order["version"]})
            await complete(workshop, order)
        [mail] = await smtp.wait_for(1, timeout=20)
        assert mail.to == [OFFICE] and "K-0001" in mail.subject
    finally:
        await notifier.stop()
        smtp.stop()

    names = Names(NS)

    async def ignore(_message: Any) -> None:
        raise AssertionError("the notifier's login took a call off a service queue")

    async def consume_calls(channel: Any) -> None:
        queue = await channel.get_queue(names.rpc_queue("orders"), ensure=False)
        await queue.consume(ignore)

    async def read_dead_letters(channel: Any) -> None:
        queue = await channel.get_queue(names.dead_queue, ensure=False)
        await queue.get(no_ack=False, fail=False)

    async def publish_event(channel: Any) -> None:
        events = await channel.get_exchange(names.events_exchange, ensure=False)
        forged = {"seq": 999, "event": "order.completed", "at": "2026-01-01T00:00:00Z", "actor": "x", "data": {}}
        await events.publish(aio_pika.Message(json.dumps(forged).encode()), routing_key="order.completed")

    async def call(channel: Any) -> None:
        rpc = await channel.get_exchange(names.rpc_exchange, ensure=False)
        await rpc.publish(aio_pika.Message(b"{}", content_type="application/json", reply_to="amq.rabbitmq.reply-to",
                                           message_id=str(uuid.uuid4())), routing_key="orders.list")

    async def delete_events(channel: Any) -> None:
        await channel.exchange_delete(names.events_exchange)

    for action in (consume_calls, read_dead_letters, publish_event, call, delete_events):
        said = await refused(shop, action)
        assert "ACCESS_REFUSED" in said, (action.__name__, said)


async def test_the_service_answers_forbidden_to_the_notifiers_login(tmp_path: Path) -> None:
    """The second gate, should the broker ever let a call from the notifier's login through."""
    store = await ShopStore.open(f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    try:
        handlers = ShopHandlers(store, NS, dev_mode=False)
        for method in ("orders.list", "pickups.billing", "notices.settings.get"):
            with pytest.raises(ForbiddenError) as caught:
                await handlers(Call(method, {"role": "shipping"}, str(uuid.uuid4()), NOTIFIER))
            assert "notifier" in str(caught.value)
    finally:
        await store.close()
