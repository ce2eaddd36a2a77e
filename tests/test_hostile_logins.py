"""Hostile clients with the shop's own per-role logins, on a private broker node (`kiltshop provision`).

The store login is the web store's server identity: a stranger holding it may call what the store may, but no
message of theirs may stop the shop for the others, make the service write into a queue that is not theirs, or
run as another login; and the operator's replay of a dead letter runs as its original sender or says loudly why
it cannot.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from app.client.shop_client import CallError, ShopClient
from app.config import Settings
from app.contract import DEAD_SEAL, DEAD_SENDER, Names
from app.service.shop_service import ShopService
from tests.hostile_client import HostileClient
from tests.shop_helpers import PrivateRabbit, cli_env, run_cli
from tests.shop_helpers import ProvisionedShop as Shop
from tests.support import wait_until

pytestmark = pytest.mark.skipif(not PrivateRabbit.available(), reason="needs the rabbitmq-server package")

NS = "hostile"
VHOST = "hostile-shop"
NAMES = Names(NS)
STORE, SALES, SERVICE = f"{NS}.store", f"{NS}.sales", f"{NS}.service"


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    with Shop(NS, VHOST) as provisioned:
        yield provisioned


@pytest.fixture
async def service(shop: Shop, tmp_path: Path) -> AsyncIterator[ShopService]:
    settings = Settings(broker_url=shop.url(SERVICE), namespace=NS,
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    svc = ShopService(settings)
    assert not svc.dev_mode
    await svc.start()
    await dead_count(shop, purge=True)
    yield svc
    await svc.stop()


async def dead_count(shop: Shop, purge: bool = False) -> int:
    """How many dead letters wait in <ns>.dead (after emptying it, with purge)."""
    connection = await aio_pika.connect(shop.url(SERVICE))
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(NAMES.dead_queue, durable=True, passive=True)
        if purge:
            await queue.purge()
            return 0
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def wait_dead(shop: Shop, count: int) -> None:
    async def there() -> bool:
        return await dead_count(shop) >= count

    await wait_until(there, 10, interval=0.05)


@pytest.fixture
async def sales(shop: Shop, service: ShopService) -> AsyncIterator[ShopClient]:
    async with ShopClient(shop.url(SALES), NS, app_id="test-sales", timeout=5) as client:
        yield client


def operator_env(shop: Shop) -> dict[str, str]:
    return cli_env(shop.url(SERVICE), NS)


async def publish_as(shop: Shop, user: str, routing_key: str, body: bytes, **props: Any) -> None:
    """One request as `user`, with aio-pika (its properties are text; only reply_to etc. are chosen freely)."""
    connection = await aio_pika.connect(shop.url(user))
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(NAMES.rpc_exchange, ensure=False)
        props.setdefault("content_type", "application/json")
        await exchange.publish(aio_pika.Message(body, user_id=user, **props), routing_key=routing_key)
    finally:
        await connection.close()


async def test_one_undecodable_message_from_the_store_login_does_not_stop_sales(
    shop: Shop, service: ShopService, sales: ShopClient
) -> None:
    """The issue's reproduction as the store login: orders.list, correlation_id b'\\xff\\xfe', no expiration."""
    reconnects: list[object] = []
    assert service.connection is not None
    service.connection.reconnect_callbacks.add(lambda *args: reconnects.append(args))
    async with HostileClient(shop.url(STORE)) as hostile:
        await hostile.publish(NAMES.rpc_exchange, "orders.list", b"{}", correlation_id=b"\xff\xfe",
                              reply_to=NAMES.reply_queue(STORE, "x").encode(), user_id=STORE.encode(),
                              content_type=b"application/json")
    slowest = 0.0
    for _ in range(17):
        started = time.monotonic()
        await sales.call("contacts.list", {"limit": 1})
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 1.0
    await wait_dead(shop, 1)
    listed = await run_cli(operator_env(shop), "dead", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [letter] = json.loads(listed.stdout)["items"]
    assert "correlation_id" in letter["reason"] and letter["correlation_id"] == "\\xff\\xfe"
    assert reconnects == []


async def test_the_store_login_cannot_make_the_service_fill_another_queue(
    shop: Shop, service: ShopService, sales: ShopClient
) -> None:
    """The confused deputy: replies go only to the caller's own reply queue, whatever reply_to says."""
    connection = await aio_pika.connect(shop.url(SERVICE))
    try:
        channel = await connection.channel()
        target = await channel.declare_queue(NAMES.notifier_queue("ready"), durable=True)
        sales_replies = await channel.declare_queue(NAMES.reply_queue(SALES, "victim"), auto_delete=True)
        for _ in range(25):
            for reply_to in (target.name, sales_replies.name):
                await publish_as(shop, STORE, "orders.list", b'{"limit": 500}', reply_to=reply_to,
                                 correlation_id=uuid.uuid4().hex)
        await wait_dead(shop, 50)
        for queue in (target, sales_replies):
            again = await channel.declare_queue(queue.name, passive=True)
            assert again.declaration_result.message_count == 0, queue.name
        await target.delete()
    finally:
        await connection.close()
    assert (await sales.call("contacts.list", {"limit": 1}))["items"] == []


async def test_a_replay_runs_as_its_original_sender(shop: Shop, service: ShopService, sales: ShopClient) -> None:
    """The store's change, dead-lettered (here: for a reply_to that was not its own), sent back by the operator:
    it runs with the store's rights, as the store, and the operator hears that it ran."""
    message_id = uuid.uuid4().hex
    await publish_as(shop, STORE, "contacts.create", json.dumps({"name": "Ishbel Grant"}).encode(),
                     message_id=message_id, reply_to=NAMES.notifier_queue("ready"))
    await wait_dead(shop, 1)
    assert (await sales.call("contacts.list", {}))["items"] == []  # it did not run

    result = await run_cli(operator_env(shop), "dead", "replay", message_id)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert f"Replayed {message_id}" in result.stdout
    [contact] = (await sales.call("contacts.list", {}))["items"]
    assert contact["name"] == "Ishbel Grant" and contact["updated_by"] == STORE
    history = (await sales.call("contacts.get", {"id": contact["id"]}))["history"]
    assert history[0]["actor"] == STORE and history[0]["via"].endswith(f"sent again by {SERVICE}")
    assert await dead_count(shop) == 0


async def test_a_replay_the_shop_refuses_is_kept_and_said_loudly(
    shop: Shop, service: ShopService, sales: ShopClient
) -> None:
    message_id = uuid.uuid4().hex
    await publish_as(shop, STORE, "contacts.create", b"{name: Ishbel", message_id=message_id,
                     reply_to=NAMES.reply_queue(STORE, "gone"))
    await wait_dead(shop, 1)
    result = await run_cli(operator_env(shop), "dead", "replay", message_id)
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = result.stderr.strip()
    assert line.startswith("kiltshop: ") and len(line.splitlines()) == 1 and "Traceback" not in line
    assert "the shop refused it (invalid)" in line and "not valid JSON" in line
    everything = await run_cli(operator_env(shop), "dead", "replay", "--all")
    assert everything.returncode == 1 and "Kept " in everything.stdout
    assert await dead_count(shop) == 1  # kept once: a replay is never dead-lettered again
    assert (await sales.call("contacts.list", {}))["items"] == []


async def test_no_one_but_the_operator_runs_a_request_as_someone_else(
    shop: Shop, service: ShopService, sales: ShopClient
) -> None:
    """Neither a made-up seal nor a real one (taken from the dead queue) lets the store login run a request as
    sales: only the service login may send dead letters back."""
    message_id = uuid.uuid4().hex
    body = json.dumps({"name": "Sealed By Sales"}).encode()
    # A real sealed dead letter of sales' (a reply_to that was not its own).
    await publish_as(shop, SALES, "contacts.create", body, message_id=message_id, reply_to=NAMES.notifier_queue("x"))
    await wait_dead(shop, 1)
    connection = await aio_pika.connect(shop.url(SERVICE))
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(NAMES.dead_queue, durable=True, passive=True)
        letter = await queue.get(timeout=10)
        assert letter is not None
        seal = letter.headers[DEAD_SEAL]
        assert letter.headers[DEAD_SENDER] == SALES
        await letter.nack(requeue=True)
    finally:
        await connection.close()

    async with ShopClient(shop.url(STORE), NS, app_id="stranger", timeout=5) as store:
        replies: dict[str, Any] = {}
        connection = await aio_pika.connect(shop.url(STORE))
        try:
            channel = await connection.channel()
            mine = await channel.declare_queue(NAMES.reply_queue(STORE, uuid.uuid4().hex), exclusive=True)

            async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                replies[message.correlation_id or ""] = json.loads(message.body)

            await mine.consume(on_reply, no_ack=True)
            exchange = await channel.get_exchange(NAMES.rpc_exchange, ensure=False)
            for name, given in (("made-up", "00" * 32), ("real", seal)):
                await exchange.publish(aio_pika.Message(
                    body, message_id=message_id, user_id=STORE, reply_to=mine.name, correlation_id=name,
                    content_type="application/json",
                    headers={DEAD_SENDER: SALES, DEAD_SEAL: given, "x-kiltshop-replayed": 1}),
                    routing_key="contacts.create")
            await wait_until(lambda: len(replies) == 2, 10)
        finally:
            await connection.close()
        assert replies["made-up"]["error"]["code"] == "forbidden" and "seal" in replies["made-up"]["error"]["message"]
        assert replies["real"]["error"]["code"] == "forbidden"
        assert "operator" in replies["real"]["error"]["message"]
        with pytest.raises(CallError):
            await store.call("contacts.get", {"id": 1})
    assert (await sales.call("contacts.list", {}))["items"] == []
    # The operator may: it runs as sales.
    result = await run_cli(operator_env(shop), "dead", "replay", "--all")
    assert result.returncode == 0, (result.stdout, result.stderr)
    [contact] = (await sales.call("contacts.list", {}))["items"]
    assert contact["updated_by"] == SALES


async def test_a_dead_letter_without_a_seal_is_not_replayed(shop: Shop, service: ShopService) -> None:
    """As an older service left them: no sender, no seal. The operator is told why, with exit 1."""
    connection = await aio_pika.connect(shop.url(SERVICE))
    try:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.get_exchange(NAMES.dead_exchange, ensure=False)
        await dead.publish(aio_pika.Message(
            b'{"name": "Old Letter"}', message_id="old-1", content_type="application/json",
            headers={"x-kiltshop-reason": "internal error: OperationalError", "x-kiltshop-exchange": NAMES.rpc_exchange,
                     "x-kiltshop-routing-key": "contacts.create", "x-kiltshop-dead-at": int(time.time())}),
            routing_key="contacts.create")
    finally:
        await connection.close()
    result = await run_cli(operator_env(shop), "dead", "replay", "old-1")
    assert result.returncode == 1
    assert "no seal" in result.stderr and "Traceback" not in result.stderr
    assert await dead_count(shop) == 1
