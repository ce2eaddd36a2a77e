"""No one where they don't belong: per-role logins provisioned on a private broker node, tried against
every method and every event, every other login's reply and client queues, plus spoofing and forging. The
broker is the first gate, the service's role check the second."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiormq.exceptions import AMQPError

from app.client.shop_client import CallError, ShopClient
from app.config import Settings
from app.contract import EVENTS, METHODS, Names
from app.domain.roles import PERMISSIONS, ROLES, methods_of
from app.security.provisioning import apply, plan, write_definitions
from app.service.shop_service import ShopService
from tests.shop_helpers import RABBIT_BIN, PrivateRabbit, queue_state
from tests.shop_helpers import ProvisionedShop as Shop
from tests.support import wait_until

pytestmark = pytest.mark.skipif(not PrivateRabbit.available(), reason="needs the rabbitmq-server package")

NS = "perm"
VHOST = "perm-shop"
KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    with Shop(NS, VHOST, [("dougie", "shipping")]) as provisioned:
        assert any("created" in line for line in provisioned.said)
        yield provisioned


@pytest.fixture
async def service(shop: Shop, tmp_path: Path) -> AsyncIterator[ShopService]:
    settings = Settings(broker_url=shop.url(f"{NS}.service"), namespace=NS,
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    svc = ShopService(settings)
    assert not svc.dev_mode
    await svc.start()
    yield svc
    await svc.stop()


async def connect(shop: Shop, user: str) -> ShopClient:
    client = ShopClient(shop.url(user), NS, app_id=f"test-{user}", timeout=5)
    await client.connect()
    return client


# Every client login of the shop fixture: one per role, and a second shipping login for a person.
LOGINS = [*(f"{NS}.{role}" for role in ROLES), f"{NS}.shipping.dougie"]


def kept_queues(login: str) -> list[str]:
    """Durable queues a login keeps under its own prefix (a web store's mirror, a reply queue left behind)."""
    names = Names(NS)
    return [names.client_queue(login, "mirror"), names.reply_queue(login, "kept")]


QUEUE_ACTIONS = ("declare", "consume", "get", "bind", "purge", "delete")


async def attempt(connection: aio_pika.abc.AbstractConnection, action: str, name: str,
                  exclusive: bool = False) -> str:
    """Do one thing to a queue on a channel of its own, since a refusal closes the channel: 'ok' once the broker
    confirmed it, 'refused' when it answered ACCESS_REFUSED. Any other failure is the test's own and raises."""
    channel = await connection.channel()
    try:
        queue = await channel.get_queue(name, ensure=False)
        if action == "declare":
            await channel.declare_queue(name, durable=not exclusive, exclusive=exclusive)
        elif action == "consume":
            taken: list[Any] = []
            await queue.consume(taken.append, no_ack=False)
        elif action == "get":
            await queue.get(no_ack=False, fail=False)
        elif action == "bind":
            await queue.bind(Names(NS).events_exchange, "order.*")
        elif action == "purge":
            await queue.purge()
        elif action == "delete":
            await queue.delete(if_unused=False, if_empty=False)
        else:
            raise AssertionError(action)
    except AMQPError as exc:
        if "ACCESS_REFUSED" not in str(exc):
            raise
        return "refused"
    finally:
        if not channel.is_closed:
            await channel.close()
    return "ok"


@pytest.fixture
async def kept(shop: Shop, service: ShopService) -> list[str]:
    """Each login's kept queues, declared by the login itself, each holding one message the service put there."""
    queues: list[str] = []
    for login in LOGINS:
        connection = await aio_pika.connect(shop.url(login))
        try:
            for name in kept_queues(login):
                assert await attempt(connection, "declare", name) == "ok", f"{login} may not declare its {name}"
                assert await attempt(connection, "purge", name) == "ok"
                queues.append(name)
        finally:
            await connection.close()
    connection = await aio_pika.connect(shop.url(f"{NS}.service"))
    try:
        channel = await connection.channel(publisher_confirms=True)
        for name in queues:
            await channel.default_exchange.publish(aio_pika.Message(b'{"kept": true}'), routing_key=name)
    finally:
        await connection.close()
    return queues


@pytest.mark.parametrize("login", LOGINS)
async def test_each_login_may_use_its_own_reply_and_client_queues(shop: Shop, service: ShopService,
                                                                  login: str) -> None:
    names = Names(NS)
    connection = await aio_pika.connect(shop.url(login))
    try:
        # a reply queue as RpcClient makes it (exclusive; not auto-delete here, so each probe finds it)
        reply = names.reply_queue(login, uuid.uuid4().hex)
        channel = await connection.channel()
        await channel.declare_queue(reply, exclusive=True)
        mirror = names.client_queue(login, uuid.uuid4().hex)
        done = {(action, name): await attempt(connection, action, name, exclusive=name == reply)
                for name in (reply, mirror) for action in QUEUE_ACTIONS}
        assert done == {key: "ok" for key in done}
    finally:
        await connection.close()
    # and the client itself, naming both kinds of queue for its login, calls and follows events
    client = await connect(shop, login)
    seen: list[dict[str, Any]] = []
    try:
        await client.subscribe(seen.append, ["contact.*"])
        sales = await connect(shop, f"{NS}.sales")
        made = await sales.call("contacts.create", {"name": "Eilidh Grant"})
        await sales.close()
        assert (await client.call("contacts.get", {"id": made["id"]}))["name"] == "Eilidh Grant"
        await wait_until(lambda: any(e["data"]["id"] == made["id"] for e in seen))
    finally:
        await client.close()


@pytest.mark.parametrize("login", LOGINS)
async def test_no_login_may_touch_another_logins_queues(shop: Shop, kept: list[str], login: str) -> None:
    """Another role's queues, and another person's of the same role (dougie vs the plain shipping login):
    their kept durable queues, and new names under their prefix, for every action."""
    names = Names(NS)
    others = [other for other in LOGINS if other != login]
    targets = [name for other in others for name in kept_queues(other)]
    targets += [names.reply_queue(other, "fresh") for other in others]
    targets += [names.client_queue(other, "fresh") for other in others]
    connection = await aio_pika.connect(shop.url(login))
    try:
        done = {(action, name): await attempt(connection, action, name)
                for name in targets for action in QUEUE_ACTIONS if name in kept or action == "declare"}
    finally:
        await connection.close()
    breaches = sorted(key for key, result in done.items() if result != "refused")
    assert not breaches, f"{login} got through: {breaches}"
    assert len(done) == len(others) * (2 * len(QUEUE_ACTIONS) + 2)
    service_url = shop.url(f"{NS}.service")
    for name in kept:  # each still there, its message untouched, nobody consuming
        assert await queue_state(service_url, name) == (1, 0), name
    for other in others:
        assert await queue_state(service_url, names.reply_queue(other, "fresh")) is None


def params_for(method: str, contact: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """Parameters that the service would accept from a role allowed to call the method."""
    return {
        "contacts.list": {}, "contacts.get": {"id": contact["id"]},
        "contacts.create": {"name": "Morag Ross"},
        "contacts.update": {"id": contact["id"], "version": contact["version"], "notes": "x"},
        "orders.list": {}, "orders.get": {"id": order["id"]},
        "orders.place": {"contact_id": contact["id"], "items": [KILT]},
        "orders.amend": {"id": order["id"], "version": order["version"], "notes": "y"},
        "orders.cancel": {"id": order["id"], "version": order["version"]},
        "orders.start": {"id": order["id"], "version": order["version"]},
        "orders.complete": {"id": order["id"], "version": order["version"]},
        "orders.collect": {"id": order["id"], "version": order["version"]},
        "pickups.list": {},
    }.get(method, {})


async def test_provisioning_twice_changes_no_password(shop: Shop) -> None:
    said: list[str] = []
    created = apply(VHOST, plan(NS, [("dougie", "shipping")]), shop.ctl(), said.append)
    assert created == {}
    assert all("already there" in line for line in said if line.startswith(("vhost", "user")))
    client = await connect(shop, f"{NS}.shipping.dougie")  # the first password still works
    await client.close()


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_may_call_exactly_its_methods(shop: Shop, service: ShopService, role: str) -> None:
    sales = await connect(shop, f"{NS}.sales")
    caller = await connect(shop, f"{NS}.{role}")
    try:
        refused, allowed = [], []
        for method in METHODS:
            # fresh entities each time, so an allowed change never fails for another reason
            contact = await sales.call("contacts.create", {"name": f"Cust {uuid.uuid4().hex[:6]}"})
            order = await sales.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
            before = (await sales.call("contacts.list", {"limit": 1}))["seq"]
            try:
                await caller.call(method, params_for(method, contact, order))
                allowed.append(method)
            except CallError as exc:
                if exc.code != "forbidden":
                    allowed.append(method)  # got past both gates; refused for a business reason
                    continue
                refused.append(method)
                assert method in exc.message
                after = (await sales.call("contacts.list", {"limit": 1}))["seq"]
                assert after == before, f"a refused {method} changed something"
        assert sorted(allowed) == methods_of(role)
        assert sorted(refused) == sorted(set(METHODS) - set(methods_of(role)))
    finally:
        await caller.close()
        await sales.close()


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_may_subscribe_to_every_event_but_not_publish(
    shop: Shop, service: ShopService, role: str
) -> None:
    client = await connect(shop, f"{NS}.{role}")
    seen: list[dict[str, Any]] = []
    try:
        await client.subscribe(seen.append, list(EVENTS))
        sales = await connect(shop, f"{NS}.sales")
        await sales.call("contacts.create", {"name": "Isla Munro"})
        await sales.close()
        await wait_until(lambda: any(e["event"] == "contact.created" for e in seen))
    finally:
        await client.close()
    # forging an event: the broker refuses it (topic permission), and nobody hears it
    connection = await aio_pika.connect(shop.url(f"{NS}.{role}"))
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(NS).events_exchange, ensure=False)
        forged = {"seq": 999, "event": "order.completed", "at": "2026-01-01T00:00:00Z", "actor": "x", "data": {}}
        with pytest.raises(AMQPError) as refused:
            await exchange.publish(aio_pika.Message(json.dumps(forged).encode()), routing_key="order.completed")
        assert "ACCESS_REFUSED" in str(refused.value)
    finally:
        await connection.close()


async def test_only_the_service_may_consume_the_call_queues(shop: Shop, service: ShopService) -> None:
    connection = await aio_pika.connect(shop.url(f"{NS}.workshop"))
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(Names(NS).rpc_queue("orders"), ensure=False)
        async def take(_message: Any) -> None:
            raise AssertionError("a workshop login consumed a service queue")

        with pytest.raises(AMQPError) as refused:
            await queue.consume(take)
        assert "ACCESS_REFUSED" in str(refused.value)
    finally:
        await connection.close()


async def test_a_spoofed_user_id_is_refused_by_the_broker(shop: Shop, service: ShopService) -> None:
    connection = await aio_pika.connect(shop.url(f"{NS}.store"))
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(NS).rpc_exchange, ensure=False)
        message = aio_pika.Message(b'{"id": 1, "version": 1}', user_id=f"{NS}.workshop",
                                   content_type="application/json", message_id=str(uuid.uuid4()), reply_to="x")
        with pytest.raises(AMQPError) as refused:
            await exchange.publish(message, routing_key="orders.cancel")
        assert "user_id" in str(refused.value)
    finally:
        await connection.close()


async def test_the_service_refuses_logins_that_are_not_the_shops(
    broker_url: str, namespace: str, tmp_path: Path
) -> None:
    """The second gate: a service not in development mode answers `forbidden` to the broker's guest."""
    settings = Settings(broker_url=broker_url, namespace=namespace,
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    svc = ShopService(settings)
    svc.dev_mode = False  # as if it ran under its own login
    await svc.start()
    try:
        async with ShopClient(broker_url, namespace) as guest:
            with pytest.raises(CallError) as refused:
                await guest.call("contacts.create", {"name": "Nobody"})
            assert refused.value.code == "forbidden"
            assert "not one of this shop's logins" in refused.value.message
    finally:
        await svc.stop()


def test_role_table_is_the_agreed_one() -> None:
    assert set(PERMISSIONS) >= set(METHODS)
    assert methods_of("sales") == sorted({"contacts.list", "contacts.get", "orders.list", "orders.get",
                                           "contacts.create", "contacts.update", "orders.place", "orders.amend",
                                           "orders.cancel"} | _notice_methods() | _duplicate_methods())
    assert methods_of("store") == sorted({"contacts.list", "contacts.get", "orders.list", "orders.get",
                                           "contacts.create", "contacts.update", "orders.place", "orders.amend",
                                           "orders.cancel"})
    assert methods_of("workshop") == sorted({"contacts.list", "contacts.get", "orders.list", "orders.get",
                                              "orders.start", "orders.complete", "pickups.list", "pickups.billing"}
                                             | _notice_methods())
    assert methods_of("shipping") == sorted({"contacts.list", "contacts.get", "orders.list", "orders.get",
                                              "orders.collect", "pickups.list", "pickups.billing"} | _notice_methods())


def _duplicate_methods() -> set[str]:
    # the possible-duplicates queue and merging contacts (kiltshop import): the sales desk only
    return {"contacts.duplicates", "contacts.flag_duplicate", "contacts.keep_apart", "contacts.merge"}


def _notice_methods() -> set[str]:
    # notices.settings.get/set: sales, workshop and shipping, once the notifier's methods exist
    return {m for m in ("notices.settings.get", "notices.settings.set") if m in PERMISSIONS}


async def test_definitions_file_imports_and_its_logins_work(shop: Shop, tmp_path: Path) -> None:
    other_ns = "defs"
    path = tmp_path / "definitions.json"
    passwords = write_definitions(path, "defs-shop", plan(other_ns))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    result = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", shop.node.nodename, "import_definitions",
                             str(path)], env=shop.node.env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    url = f"amqp://{other_ns}.sales:{passwords[other_ns + '.sales']}@127.0.0.1:{shop.node.port}/defs-shop"
    connection = await aio_pika.connect(url)
    await connection.close()
    await asyncio.sleep(0)


def test_new_passwords_are_safe_on_a_command_line() -> None:
    from app.security.provisioning import new_password

    passwords = {new_password() for _ in range(2000)}
    assert len(passwords) == 2000
    assert all(p.isalnum() and len(p) == 24 for p in passwords)
