"""Hostile clients: messages the broker accepts (legal AMQP) but that once stopped the shop.

Each is sent as raw frames (tests/hostile_client.py writes the content header byte by byte, so nothing the
client libraries refuse to build is off limits). After each, the service must still be on its first
connection, serve an honest caller within a second, and have answered or dead-lettered the hostile message,
visibly to `kiltshop dead list`. Per-role logins (the store login's confused-deputy reply_to, replay as the
original sender) are in tests/test_hostile_logins.py.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
import uuid
from typing import Any

import pytest

from app.client.dead_letters import DeadLetters
from app.client.shop_client import CallError, ShopClient
from app.config import Settings
from app.contract import DEAD_BAD_PROPERTIES, DEAD_REASON, DEAD_SEAL, DEAD_SENDER, Names
from app.messaging.connection import connect
from app.service.shop_service import ShopService
from tests.hostile_client import HostileClient, raw_table
from tests.shop_helpers import ITEM, RawRpc, cli_env, new_contact, queue_state, run_cli
from tests.support import wait_until


@pytest.fixture
def env_cli(settings: Settings) -> dict[str, str]:
    return cli_env(settings.broker_url, settings.namespace)


@pytest.fixture
async def watched(service: ShopService) -> list[str]:
    """The service's reconnects: a hostile message must not cost it its connection."""
    reconnects: list[str] = []
    assert service.connection is not None
    service.connection.reconnect_callbacks.add(lambda *_args: reconnects.append("reconnected"))
    return reconnects


async def honest_call_time(client: ShopClient) -> float:
    started = time.monotonic()
    await client.call("contacts.list", {"limit": 1}, timeout=5)
    return time.monotonic() - started


async def dead_letters(settings: Settings) -> list[Any]:
    connection = await connect(settings.broker_url, "test dead list")
    try:
        return (await DeadLetters(connection, Names(settings.namespace), "guest").peek()).letters
    finally:
        await connection.close()


def props(raw: RawRpc, **overrides: Any) -> dict[str, Any]:
    assert raw.reply_queue is not None
    base = {"content_type": b"application/json", "reply_to": raw.reply_queue.name.encode(),
            "message_id": uuid.uuid4().hex.encode(), "correlation_id": uuid.uuid4().hex.encode(),
            "user_id": b"guest"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


# One undecodable property at a time; the words the dead letter's reason must hold.
BAD_PROPERTIES = [
    ("message_id", {"message_id": b"id-\xff\xfe"}, "message_id"),
    ("correlation_id", {"correlation_id": b"\xff\xfe"}, "correlation_id"),
    ("reply_to", {"reply_to": b"reply-\xc3\x28"}, "reply_to"),
    ("content_type", {"content_type": b"application/\xffjson"}, "content_type"),
    ("app_id", {"app_id": b"web\xfestore"}, "app_id"),
    ("type", {"type": b"\x80"}, "type"),
    ("content_encoding", {"content_encoding": b"\xe9"}, "content_encoding"),
]


@pytest.mark.parametrize(("name", "bad", "words"), BAD_PROPERTIES, ids=[b[0] for b in BAD_PROPERTIES])
async def test_undecodable_property_is_dead_lettered_and_the_shop_keeps_serving(
    client: ShopClient, settings: Settings, watched: list[str], name: str, bad: dict[str, bytes], words: str,
) -> None:
    before = await client.call("contacts.list", {})
    async with RawRpc(settings.broker_url, settings.namespace) as raw, HostileClient(settings.broker_url) as hostile:
        message = props(raw, **bad)
        await hostile.publish(raw.names.rpc_exchange, "contacts.create", json.dumps({"name": "Hostile"}).encode(),
                              **message)
        # The honest caller is served at once, by the same connection.
        assert await honest_call_time(client) < 1.0
        letters = await wait_for_letters(settings, 1)
        if name != "correlation_id" and name != "reply_to":
            # The hostile caller's own reply queue and correlation_id were fine: it is told why, too.
            reply = await raw.reply(message["correlation_id"].decode())
            assert reply["error"]["code"] == "invalid" and words in reply["error"]["message"]
    letter = letters[0]
    assert words in letter.reason and "not UTF-8 text" in letter.reason
    assert words in str(letter.headers[DEAD_BAD_PROPERTIES])
    assert DEAD_SEAL not in letter.headers  # what it said cannot be trusted to be sent again as it was
    assert letter.why_not_replayable() is not None
    assert watched == []
    after = await client.call("contacts.list", {})
    assert after["items"] == before["items"] and after["seq"] == before["seq"]  # nothing changed


async def wait_for_letters(settings: Settings, count: int) -> list[Any]:
    found: list[Any] = []

    async def enough() -> bool:
        found[:] = await dead_letters(settings)
        return len(found) >= count

    await wait_until(enough, 10, interval=0.1)
    return found


async def test_the_reported_message_no_longer_stops_the_shop(
    client: ShopClient, settings: Settings, watched: list[str]
) -> None:
    """The issue's reproduction: orders.list with correlation_id b'\\xff\\xfe' and no expiration."""
    async with HostileClient(settings.broker_url) as hostile:
        await hostile.publish(Names(settings.namespace).rpc_exchange, "orders.list", b"{}",
                              correlation_id=b"\xff\xfe", reply_to=f"{settings.namespace}.reply.guest.x".encode(),
                              user_id=b"guest", content_type=b"application/json")
    results = []
    for _ in range(17):
        results.append(await client.call("orders.list", {"limit": 1}, timeout=2))
    assert len(results) == 17
    assert len(await wait_for_letters(settings, 1)) == 1
    assert watched == []
    ready = await queue_state(settings.broker_url, Names(settings.namespace).rpc_queue("orders"))
    assert ready is not None and ready[0] == 0  # nothing left waiting to kill the next consumer


async def test_undecodable_routing_key_and_header_key(
    client: ShopClient, settings: Settings, watched: list[str]
) -> None:
    names = Names(settings.namespace)
    async with RawRpc(settings.broker_url, settings.namespace) as raw, HostileClient(settings.broker_url) as hostile:
        # `contacts.*` matches one word, whatever its bytes
        await hostile.publish(names.rpc_exchange, b"contacts.\xff\xfe", b"{}", **props(raw))
        # a header key is nothing the service reads: the call is simply answered
        header_call = props(raw, headers=raw_table({b"\xff\xfekey": b"t\x01"}))
        await hostile.publish(names.rpc_exchange, "contacts.list", b"{}", **header_call)
        assert (await raw.reply(header_call["correlation_id"].decode()))["ok"] is True
        assert await honest_call_time(client) < 1.0
        letters = await wait_for_letters(settings, 1)
        assert len(letters) == 1 and "routing_key" in letters[0].reason
    assert watched == []


async def test_timestamp_out_of_range_is_served(client: ShopClient, settings: Settings, watched: list[str]) -> None:
    """2**63-1 is a legal AMQP timestamp that no datetime holds: taken as no timestamp, the call is answered."""
    async with RawRpc(settings.broker_url, settings.namespace) as raw, HostileClient(settings.broker_url) as hostile:
        message = props(raw, timestamp=2**63 - 1, expiration=b"5000")
        await hostile.publish(Names(settings.namespace).rpc_exchange, "contacts.list", b"{}", **message)
        reply = await raw.reply(message["correlation_id"].decode())
    assert reply["ok"] is True
    assert watched == []
    assert await dead_letters(settings) == []


async def test_lone_surrogates_are_invalid_and_never_freeze_a_queue(
    client: ShopClient, settings: Settings, watched: list[str]
) -> None:
    """Valid JSON that spells a lone surrogate, 70 times (more than two prefetch windows): each is refused
    `invalid`, the queue drains, and the honest caller is served."""
    contact = await new_contact(client, "Real Customer")
    bodies = [b'{"\\ud800": 1}', b'{"name": "Morag \\udfff"}', b'{"notes": ["\\ud83d"]}']
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        sent = []
        for n in range(70):
            sent.append(await raw.publish("contacts.create", bodies[n % 3], message_id=uuid.uuid4().hex))
        replies = [await raw.reply(cid) for cid in sent]
        assert await honest_call_time(client) < 1.0
    for reply in replies:
        assert reply["error"]["code"] == "invalid"
        assert "not valid Unicode" in reply["error"]["message"]
    queue = await queue_state(settings.broker_url, Names(settings.namespace).rpc_queue("contacts"))
    assert queue is not None and queue[0] == 0
    listed = await client.call("contacts.list", {})
    assert [c["id"] for c in listed["items"]] == [contact["id"]]
    # A real character written as an escaped surrogate pair is text like any other.
    emoji = await client.call("contacts.create", {"name": "Morag \U0001f3f4"})
    assert emoji["name"] == "Morag \U0001f3f4"
    assert watched == []


async def test_json_with_charset_is_accepted_and_other_charsets_are_not(
    client: ShopClient, settings: Settings
) -> None:
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        ok = await raw.publish("contacts.list", {}, content_type="application/json; charset=utf-8")
        ok2 = await raw.publish("contacts.list", {}, content_type='Application/JSON;Charset="UTF-8"')
        latin = await raw.publish("contacts.list", {}, content_type="application/json; charset=latin-1")
        gzip = await raw.publish("contacts.list", {}, content_encoding="gzip")
        assert (await raw.reply(ok))["ok"] is True
        assert (await raw.reply(ok2))["ok"] is True
        refused = await raw.reply(latin)
        assert refused["error"]["code"] == "invalid" and "UTF-8" in refused["error"]["message"]
        refused = await raw.reply(gzip)
        assert refused["error"]["code"] == "invalid" and "content_encoding" in refused["error"]["message"]


async def test_replies_go_only_to_the_senders_own_reply_queue(
    client: ShopClient, settings: Settings, watched: list[str]
) -> None:
    """The confused deputy: reply_to naming a queue that is not the caller's own gets no reply there; the
    request is dead-lettered with the reason (a sealed dead letter: its operator may send it back)."""
    names = Names(settings.namespace)
    # A durable queue of the service's (the notifier's), and another login's reply queue.
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.channel is not None
        target = await raw.channel.declare_queue(names.notifier_queue("order-completed"), durable=True)
        other = await raw.channel.declare_queue(names.reply_queue("kiltshop.sales", "x"), auto_delete=True)
        for reply_to in (target.name, other.name, f"{names.namespace}.reply.guest", "amq.rabbitmq.reply-to.x"):
            for _ in range(5):
                await raw.publish("orders.list", {"limit": 500}, reply_to=reply_to)
        letters = await wait_for_letters(settings, 20)
        for queue in (target.name, other.name):
            state = await queue_state(settings.broker_url, queue)
            assert state is not None and state[0] == 0, queue
        assert raw.replies == {}
    assert all("is not a reply queue of the login 'guest'" in letter.reason for letter in letters)
    assert all(letter.headers[DEAD_SENDER] == "guest" and letter.headers[DEAD_SEAL] for letter in letters)
    assert await honest_call_time(client) < 1.0
    assert watched == []


async def test_a_forged_replay_does_not_run_as_someone_else(client: ShopClient, settings: Settings) -> None:
    """A request that claims to be a dead letter of another login, without the service's seal, is refused
    `forbidden` and changes nothing."""
    contact = await new_contact(client, "Morag MacLeod")
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        forged = await raw.publish(
            "orders.place", {"contact_id": contact["id"], "items": [ITEM]}, message_id=uuid.uuid4().hex,
            headers={DEAD_SENDER: "kiltshop.sales", "x-kiltshop-seal": "00" * 32, "x-kiltshop-replayed": 1})
        reply = await raw.reply(forged)
    assert reply["error"]["code"] == "forbidden"
    assert "seal" in reply["error"]["message"]
    assert (await client.call("orders.list", {}))["items"] == []
    with pytest.raises(CallError):
        await client.call("orders.get", {"id": 1})


async def test_many_hostile_messages_at_once_cost_nothing(
    client: ShopClient, settings: Settings, watched: list[str]
) -> None:
    """A burst of every kind together, then the honest caller: still served within a second."""
    async with RawRpc(settings.broker_url, settings.namespace) as raw, HostileClient(settings.broker_url) as hostile:
        for _ in range(10):
            for _name, bad, _words in BAD_PROPERTIES:
                await hostile.publish(raw.names.rpc_exchange, "contacts.list", b"{}", **props(raw, **bad))
            await hostile.publish(raw.names.rpc_exchange, "contacts.list", b"{}", **props(raw, timestamp=2**63 - 1))
        await asyncio.sleep(0)
        assert await honest_call_time(client) < 1.0
        letters = await wait_for_letters(settings, 10 * len(BAD_PROPERTIES))
    assert len(letters) == 10 * len(BAD_PROPERTIES)
    assert all(DEAD_REASON in letter.headers for letter in letters)
    assert watched == []


async def test_a_locked_database_is_unavailable_not_dead_lettered(
    client: ShopClient, settings: Settings, env_cli: dict[str, str]
) -> None:
    """The database held locked: the person is told to try again, and nothing is set aside; they try again
    once it is free, the operator replays everything there is: one order, not two."""
    contact = await new_contact(client, "Morag MacLeod")
    path = settings.database_url.split("///", 1)[1]
    lock = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        with pytest.raises(CallError) as refused:
            await client.call("orders.place", {"contact_id": contact["id"], "items": [ITEM]}, timeout=15)
        assert refused.value.code == "unavailable"
        assert "try again" in refused.value.message and "nothing was changed" in refused.value.message
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert await dead_letters(settings) == []
    again = await client.call("orders.place", {"contact_id": contact["id"], "items": [ITEM]})
    replayed = await run_cli(env_cli, "dead", "replay", "--all")
    assert replayed.returncode == 0 and replayed.stdout.strip() == "No dead letters."
    orders = (await client.call("orders.list", {}))["items"]
    assert [o["id"] for o in orders] == [again["id"]]


FUZZ_PROPERTIES = ("content_type", "correlation_id", "reply_to", "message_id", "app_id", "type",
                   "content_encoding")
FUZZ_BODIES = (b"{}", b'{"name": "Fuzzed Customer"}', b'{"limit": 2}', b'{"\\udbff": 1}', b"[1, 2",
               b"\xff\xfe\x00", b'{"q": "\\ud83c\\udff4"}', b"")


async def test_fuzzed_properties_are_each_answered_or_dead_lettered(
    client: ShopClient, settings: Settings, watched: list[str]
) -> None:
    """120 seeded random messages, each with up to three properties made of random bytes (often not UTF-8), a
    random body and sometimes a timestamp of 2**63-1: each is answered or dead-lettered, the shop changes only
    for the ones answered ok, and the service never loses its connection."""
    rng = random.Random(20261204)
    names = Names(settings.namespace)
    dead_seen: list[object] = []
    created = 0
    async with RawRpc(settings.broker_url, settings.namespace) as raw, HostileClient(settings.broker_url) as hostile:
        assert raw.channel is not None
        dead_queue = await raw.channel.declare_queue(names.dead_queue, passive=True)

        async def on_dead(message: object) -> None:
            dead_seen.append(message)

        await dead_queue.consume(on_dead, no_ack=True)
        for _ in range(120):
            method = rng.choice(("contacts.list", "contacts.create", "orders.list", "pickups.list"))
            message = props(raw)
            for name in rng.sample(FUZZ_PROPERTIES, rng.randint(0, 3)):
                message[name] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
            if rng.random() < 0.2:
                message["timestamp"] = rng.choice((2**63 - 1, 2**64 - 1, 0))
            body = rng.choice(FUZZ_BODIES)
            dead_before = len(dead_seen)
            await hostile.publish(names.rpc_exchange, method, body, **message)
            correlation_id = message["correlation_id"].decode("utf-8", errors="backslashreplace")

            def settled(cid: str = correlation_id, before: int = dead_before) -> bool:
                return cid in raw.replies or len(dead_seen) > before

            await wait_until(settled, 5, interval=0.02)
            if correlation_id in raw.replies:
                reply = json.loads(raw.replies[correlation_id][-1].body)
                assert reply["ok"] or reply["error"]["code"] != "internal", reply
                if reply["ok"] and method == "contacts.create":
                    created += 1
        assert await honest_call_time(client) < 1.0
    assert len((await client.call("contacts.list", {}))["items"]) == created
    assert watched == []
