"""`kiltshop dead list|replay` against the live service and the real broker: poison messages are listed without
being taken away or reordered; a replay sends the original back where it came from, is acknowledged off the
dead queue only once the shop answered it (a request) or the broker confirmed it (an event), re-executes a
request only if it never ran, and a poison message stays poison, once, said with exit 1."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aio_pika
import pytest

from app.client.dead_letters import DeadLetters
from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import DEAD_SEAL, DEAD_SENDER, Names
from app.messaging.connection import connect
from app.messaging.seal import seal
from app.service.shop_service import ShopService
from tests.conftest import new_namespace
from tests.shop_helpers import EventLog, RawRpc, bare_publish, cli_env, run_cli, sentinel
from tests.support import wait_until


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli_env(settings.broker_url, settings.namespace)


def ok(result: Any) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return str(result.stdout)


def as_json(result: Any) -> Any:
    return json.loads(ok(result))


def one_line_error(result: Any, code: int, *words: str) -> str:
    assert result.returncode == code, (result.args, result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kiltshop: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return str(lines[0])


def death_headers(names: Names, routing_key: str, reason: str, **extra: Any) -> dict[str, Any]:
    """The headers app/messaging/rpc_server.py puts on a request it dead-letters (without the seal)."""
    return {
        "x-kiltshop-reason": reason,
        "x-kiltshop-exchange": names.rpc_exchange,
        "x-kiltshop-routing-key": routing_key,
        "x-kiltshop-dead-at": int(time.time()),
        **extra,
    }


async def sealed(service: ShopService, headers: dict[str, Any], message_id: str, body: Any) -> dict[str, Any]:
    """The headers with the service's own seal, as the service itself writes them for guest's request."""
    assert service.store is not None
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    key = await service.store.seal_key()
    return {**headers, DEAD_SENDER: "guest",
            DEAD_SEAL: seal(key, "guest", headers["x-kiltshop-routing-key"], message_id, payload)}


async def put_dead(raw: RawRpc, routing_key: str, body: Any, headers: dict[str, Any], **props: Any) -> None:
    """Publish a message straight into <ns>.dead, as if the service had dead-lettered it."""
    assert raw.channel is not None
    exchange = await raw.channel.get_exchange(raw.names.dead_exchange, ensure=False)
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    props.setdefault("content_type", "application/json")
    await exchange.publish(
        aio_pika.Message(payload, headers=headers, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **props),
        routing_key=routing_key,
    )


async def wait_dead(raw: RawRpc, count: int, timeout: float = 10.0) -> None:
    async def there() -> bool:
        return await raw.dead_count() == count

    await wait_until(there, timeout, interval=0.05)


async def drain_ids(raw: RawRpc) -> list[str | None]:
    """Take everything off <ns>.dead (for good) and return the message_ids in queue order."""
    assert raw.channel is not None
    queue = await raw.channel.declare_queue(raw.names.dead_queue, durable=True, passive=True)
    ids: list[str | None] = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        ids.append(message.message_id)
    return ids


async def test_list_shows_every_poison_message_and_takes_none_away(
    client: ShopClient, settings: Settings, env: dict[str, str]
) -> None:
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.reply_queue is not None
        await raw.publish("contacts.create", b"{name: Morag", message_id="not-json-1")
        await raw.publish("orders.explode", {"id": 1}, message_id="unknown-method-1")
        await raw.publish("contacts.create", {"name": "Plain"}, message_id="wrong-type-1", content_type="text/plain")
        await raw.publish("contacts.create", {"name": "Nobody"}, reply=False, message_id="no-reply-to-1")
        await bare_publish(settings.broker_url, raw.names.rpc_exchange, "orders.place", b'{"contact_id": 1}',
                           content_type="application/json", reply_to=raw.reply_queue.name, correlation_id="bare",
                           user_id="guest")
        await wait_dead(raw, 5)

        listing = as_json(await run_cli(env, "dead", "list", "--json"))
        assert listing["total"] == 5
        items = {d["routing_key"]: d for d in listing["items"]}
        assert len(listing["items"]) == 5 and set(items) == {"contacts.create", "orders.explode", "orders.place"}
        by_id = {d["id"]: d for d in listing["items"]}
        assert "not valid JSON" in by_id["not-json-1"]["reason"]
        assert by_id["not-json-1"]["preview"] == "{name: Morag" and by_id["not-json-1"]["size"] == 12
        assert "'orders.explode' is not a method" in by_id["unknown-method-1"]["reason"]
        assert "text/plain" in by_id["wrong-type-1"]["reason"]
        assert "no reply_to" in by_id["no-reply-to-1"]["reason"] and by_id["no-reply-to-1"]["reply_to"] is None
        assert "must carry a message_id" in items["orders.place"]["reason"]
        for d in listing["items"]:
            assert d["exchange"] == raw.names.rpc_exchange and d["replayed"] == 0
            assert d["dead_at"] and d["dead_at"].endswith("Z")
        order = [d["id"] for d in listing["items"]]

        # the table for people; looking again shows the same letters in the same order
        table = ok(await run_cli(env, "dead", "list"))
        assert table.splitlines()[0].split() == ["ID", "dead", "at", "routing", "key", "reason", "body"]
        assert "not-json-1" in table and "orders.explode" in table and "not valid JSON" in table
        assert [line.split()[0] for line in table.splitlines()[2:]] == order
        limited = ok(await run_cli(env, "dead", "list", "--limit", "2"))
        assert [line.split()[0] for line in limited.splitlines()[2:4]] == order[:2]
        assert "2 of 5 dead letters shown" in limited
        again = as_json(await run_cli(env, "dead", "list", "--json", "--limit", "3"))
        assert [d["id"] for d in again["items"]] == order[:3] and again["total"] == 5

        # nothing was taken away or reordered by all that looking
        assert await drain_ids(raw) == order


async def test_a_message_without_message_id_gets_a_stable_short_id(
    service: ShopService, settings: Settings, env: dict[str, str]
) -> None:
    names = Names(settings.namespace)
    headers = death_headers(names, "contacts.list", "an example with no message_id")
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.reply_queue is not None
        # aio-pika would add a message_id; the bare publisher sends the message exactly as given
        await bare_publish(settings.broker_url, names.dead_exchange, "contacts.list", b"{}", headers=headers,
                           content_type="application/json", delivery_mode=2, reply_to=raw.reply_queue.name,
                           correlation_id="no-id")
        first = as_json(await run_cli(env, "dead", "list", "--json"))["items"]
        second = as_json(await run_cli(env, "dead", "list", "--json"))["items"]
        assert len(first) == 1 and first[0]["message_id"] is None
        assert first[0]["id"].startswith("h-") and first[0]["id"] == second[0]["id"]
        # without a message_id the service could not seal it, so it cannot run as its sender: kept, and said so
        one_line_error(await run_cli(env, "dead", "replay", first[0]["id"]), 1, "no seal")
        assert raw.replies == {}
        assert [d["id"] for d in as_json(await run_cli(env, "dead", "list", "--json"))["items"]] == [first[0]["id"]]


async def test_replaying_a_request_that_died_of_an_internal_error_runs_it_once(
    client: ShopClient, service: ShopService, settings: Settings, env: dict[str, str]
) -> None:
    log = await EventLog.attach(client)
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.reply_queue is not None
        message_id = str(uuid.uuid4())
        request = {"name": "Catriona Replayed", "phone": "01838 400 777"}
        headers = await sealed(service, death_headers(raw.names, "contacts.create", "internal error: KeyError: 'x'"),
                               message_id, request)
        await put_dead(raw, "contacts.create", request, headers, correlation_id="first-try",
                       reply_to=raw.reply_queue.name, message_id=message_id)
        await wait_dead(raw, 1)
        assert (await client.call("contacts.list", {}))["items"] == []  # it never ran

        listed = as_json(await run_cli(env, "dead", "list", "--json"))["items"]
        assert [d["id"] for d in listed] == [message_id] and "KeyError" in listed[0]["reason"]
        report = as_json(await run_cli(env, "dead", "replay", message_id, "--json"))
        assert report == {"replayed": [{"id": message_id, "to": f"exchange {raw.names.rpc_exchange}, routing key "
                                        "contacts.create", "replayed": 1}], "kept": []}
        assert raw.replies == {}  # the answer went to the operator, who waited for it; the caller is long gone
        assert await raw.dead_count() == 0
        await log.wait_for(1)
        contacts = (await client.call("contacts.list", {}))["items"]
        assert [c["name"] for c in contacts] == ["Catriona Replayed"]
        assert contacts[0]["updated_by"] == "guest"  # its sender (here the operator is guest too)

        one_line_error(await run_cli(env, "dead", "replay", message_id), 1, "no dead letter with ID", "is empty")

        # the same request dead again (say, a second copy that died too): replayed, it is not run again
        await put_dead(raw, "contacts.create", request, headers, correlation_id="second-try",
                       reply_to=raw.reply_queue.name, message_id=message_id)
        await wait_dead(raw, 1)
        out = ok(await run_cli(env, "dead", "replay", "--all"))
        where = f"exchange {raw.names.rpc_exchange}, routing key contacts.create"
        assert out.strip() == f"Replayed {message_id} to {where}."
        assert await raw.dead_count() == 0
    assert [c["name"] for c in (await client.call("contacts.list", {}))["items"]] == ["Catriona Replayed"]
    await sentinel(client, log, 2)  # no event came of the second replay


async def test_a_poison_message_stays_poison(client: ShopClient, settings: Settings, env: dict[str, str]) -> None:
    log = await EventLog.attach(client)
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        await raw.publish("contacts.create", b"{not json", message_id="poison-1", correlation_id="poison")
        await wait_dead(raw, 1)
        reply = await raw.reply("poison")
        assert reply["error"]["code"] == "invalid"

        result = await run_cli(env, "dead", "replay", "--all")
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert result.stdout.strip().startswith("Kept poison-1: the shop refused it (invalid): The request body is "
                                                "not valid JSON")
        # refused again, told to the operator only; the letter stays, once (a replay is not dead-lettered again)
        assert len(raw.replies["poison"]) == 1
        await wait_dead(raw, 1)
        letters = as_json(await run_cli(env, "dead", "list", "--json"))["items"]
        assert [d["id"] for d in letters] == ["poison-1"] and "not valid JSON" in letters[0]["reason"]
    assert (await client.call("contacts.list", {}))["items"] == []
    await sentinel(client, log, 1)


async def test_replay_to_a_named_queue_keeps_the_original_properties(
    service: ShopService, settings: Settings, env: dict[str, str]
) -> None:
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.channel is not None
        target = await raw.channel.declare_queue(f"{settings.namespace}.notices.test.target", exclusive=True)
        event = {"seq": 7, "event": "order.completed", "data": {"id": 3}}
        headers = {"seq": 7, "x-kiltshop-reason": "the notice could not be shown",
                   "x-kiltshop-queue": target.name, "x-kiltshop-dead-at": int(time.time()),
                   "x-kiltshop-exchange": raw.names.events_exchange, "x-kiltshop-routing-key": "order.completed",
                   "x-kiltshop-replayed": 1}
        await put_dead(raw, "order.completed", event, headers, message_id="event-7", correlation_id="corr-7",
                       reply_to="somebody.replies", type="order.completed")
        await wait_dead(raw, 1)
        listed = as_json(await run_cli(env, "dead", "list", "--json"))["items"]
        assert listed[0]["queue"] == target.name and listed[0]["replayed"] == 1
        out = ok(await run_cli(env, "dead", "replay", "event-7"))
        assert out.strip() == f"Replayed event-7 to queue {target.name} (replay 2)."

        message = await target.get(no_ack=True, timeout=10)
        assert json.loads(message.body) == event
        assert (message.message_id, message.correlation_id, message.reply_to, message.content_type, message.type) == (
            "event-7", "corr-7", "somebody.replies", "application/json", "order.completed")
        # the death's own headers left behind; who sent it back added
        assert message.headers == {"seq": 7, "x-kiltshop-replayed": 2, "x-kiltshop-replayed-by": "guest"}
        assert message.user_id == "guest" and message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert await raw.dead_count() == 0


async def test_what_cannot_be_replayed_stays_in_the_dead_queue(
    service: ShopService, settings: Settings, env: dict[str, str]
) -> None:
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        names = raw.names
        await put_dead(raw, "order.completed", {"seq": 1}, {"x-kiltshop-reason": "x", "x-kiltshop-queue":
                       f"{settings.namespace}.notices.shipping.gone"}, message_id="to-a-gone-queue")
        await put_dead(raw, "contacts.create", b'{"name": "' + b"x" * 4000,
                       death_headers(names, "contacts.create", "too big", **{"x-kiltshop-truncated": 2_000_000}),
                       message_id="cut-short")
        await put_dead(raw, "contacts.create", {"name": "Nowhere"}, {"x-kiltshop-reason": "who knows"},
                       message_id="from-nowhere")
        await put_dead(raw, "contacts.list", {}, await sealed(service, death_headers(names, "contacts.list", "x", **{
            "x-kiltshop-exchange": f"{settings.namespace}.gone"}), "to-a-gone-exchange", {}),
            message_id="to-a-gone-exchange")
        await wait_dead(raw, 4)

        one_line_error(await run_cli(env, "dead", "replay", "to-a-gone-queue"), 1, "to-a-gone-queue was not replayed",
                       "no route")
        one_line_error(await run_cli(env, "dead", "replay", "cut-short"), 1, "cut to the first")
        one_line_error(await run_cli(env, "dead", "replay", "nope"), 1, "no dead letter with ID nope",
                       "kiltshop dead list")
        everything = await run_cli(env, "dead", "replay", "--all", "--json")
        assert everything.returncode == 1  # asked for, not done: said with exit 1
        report = json.loads(everything.stdout)
        assert report["replayed"] == []
        kept = {k["id"]: k["why"] for k in report["kept"]}
        assert set(kept) == {"to-a-gone-queue", "cut-short", "from-nowhere", "to-a-gone-exchange"}
        assert "does not say where it came from" in kept["from-nowhere"]
        assert "no longer exists" in kept["to-a-gone-exchange"]
        human = await run_cli(env, "dead", "replay", "--all")
        assert human.returncode == 1 and human.stdout.count("Kept ") == 4 and "Traceback" not in human.stderr
        assert await drain_ids(raw) == ["to-a-gone-queue", "cut-short", "from-nowhere", "to-a-gone-exchange"]


async def test_a_change_that_came_without_message_id_is_not_replayed(
    client: ShopClient, settings: Settings, env: dict[str, str]
) -> None:
    """aiormq gives the dead letter a message_id; replaying it would make a change its sender was told failed."""
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.reply_queue is not None
        await bare_publish(settings.broker_url, raw.names.rpc_exchange, "contacts.create", b'{"name": "No Id"}',
                           content_type="application/json", reply_to=raw.reply_queue.name, correlation_id="no-id",
                           user_id="guest")
        assert "must carry a message_id" in (await raw.reply("no-id"))["error"]["message"]
        await wait_dead(raw, 1)
        [letter] = as_json(await run_cli(env, "dead", "list", "--json"))["items"]
        one_line_error(await run_cli(env, "dead", "replay", letter["id"]), 1, "without a message_id")
        assert (await raw.dead_count()) == 1
    assert (await client.call("contacts.list", {}))["items"] == []


async def test_plain_words_for_an_empty_queue_a_missing_shop_and_bad_usage(
    service: ShopService, settings: Settings, env: dict[str, str]
) -> None:
    assert ok(await run_cli(env, "dead", "list")).strip() == "No dead letters."
    assert as_json(await run_cli(env, "dead", "list", "--json")) == {"items": [], "total": 0}
    assert ok(await run_cli(env, "dead", "replay", "--all")).strip() == "No dead letters."
    one_line_error(await run_cli(env, "dead", "replay", "abc"), 1, "no dead letter with ID abc", "is empty")
    nowhere = cli_env(settings.broker_url, new_namespace())
    one_line_error(await run_cli(nowhere, "dead", "list"), 3, "never started")
    for args in (("dead", "replay"), ("dead", "replay", "abc", "--all"), ("dead", "list", "--limit", "0")):
        result = await run_cli(env, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


async def test_the_api_hands_back_everything_it_held_when_it_fails(service: ShopService, settings: Settings) -> None:
    """A replay that cannot finish (here: the ID is unknown) leaves every message where it was."""
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.reply_queue is not None
        for i in range(30):
            headers = await sealed(service, death_headers(raw.names, "contacts.list", f"#{i}"), f"m{i:02d}", {})
            await put_dead(raw, "contacts.list", {}, headers,
                           message_id=f"m{i:02d}", reply_to=raw.reply_queue.name, correlation_id=f"m{i:02d}")
        await wait_dead(raw, 30)
        connection = await connect(settings.broker_url, "test dead letters")
        try:
            dead = DeadLetters(connection, raw.names, "guest")
            listing = await dead.peek(10)
            assert [d.id for d in listing.letters] == [f"m{i:02d}" for i in range(10)] and listing.total == 30
            with pytest.raises(Exception, match="no dead letter with ID m99"):
                await dead.replay("m99")
            report = await dead.replay("m17")
            assert [(d.id, n) for d, n in report.replayed] == [("m17", 1)] and not report.refused
        finally:
            await connection.close()
        assert await drain_ids(raw) == [f"m{i:02d}" for i in range(30) if i != 17]
