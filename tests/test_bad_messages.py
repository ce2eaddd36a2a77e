"""Messages the service cannot serve, published with plain aio-pika onto <ns>.rpc: each gets a clear error
reply and/or lands in <ns>.dead with x-kiltshop-reason, nothing changes, and the service keeps serving.
Also: a request whose caller stopped waiting (it expired) is never executed."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names
from app.messaging.wire import MAX_BODY_BYTES
from app.service.shop_service import ShopService
from tests.shop_helpers import ITEM, EventLog, RawRpc, bare_publish, new_contact, queue_state, sentinel
from tests.support import wait_until


@dataclass
class Bad:
    name: str
    routing_key: str
    body: bytes
    props: dict[str, Any] = field(default_factory=dict)
    reply_words: str | None = None  # expected in the error reply's message; None: no reply can be sent
    reply_field: str | None = None  # expected details.field of the reply
    dead_words: str | None = None  # expected in x-kiltshop-reason; None: not dead-lettered
    no_reply_to: bool = False
    bare: bool = False  # sent with the bare pamqp publisher (aio-pika always adds a message_id)


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


CORPUS = [
    Bad("non-JSON body", "contacts.create", b"{name: Morag", reply_words="not valid JSON", dead_words="not valid JSON"),
    Bad("non-UTF-8 body", "contacts.create", b"\xff\xfe{\x00", reply_words="not valid JSON",
        dead_words="not valid JSON"),
    Bad("JSON array body", "contacts.create", js([{"name": "Morag"}]), reply_words="JSON object",
        dead_words="JSON object"),
    Bad("JSON null body", "contacts.list", b"null", reply_words="JSON object", dead_words="JSON object"),
    Bad("deeply nested JSON", "contacts.list", b"[" * 200_000 + b"]" * 200_000, reply_words="JSON",
        dead_words="JSON"),
    Bad("wrong type of name", "contacts.create", js({"name": 5}), reply_words="'name' must be text",
        reply_field="name"),
    Bad("wrong type of items", "orders.place", js({"contact_id": 1, "items": {"a": 1}}),
        reply_words="'items' must be a list", reply_field="items"),
    Bad("id beyond any database integer", "contacts.get", js({"id": 10**30}), reply_words="'id'",
        reply_field="id"),
    Bad("cursor beyond any database integer", "orders.list", js({"cursor": "9" * 40}), reply_words="cursor",
        reply_field="cursor"),
    Bad("huge body", "contacts.create", js({"name": "M", "notes": "x" * (MAX_BODY_BYTES + 10)}),
        reply_words="bytes", dead_words=f"at most {MAX_BODY_BYTES}"),
    Bad("unknown method", "orders.explode", js({"id": 1}), reply_words="'orders.explode' is not a method",
        dead_words="'orders.explode' is not a method"),
    Bad("missing reply_to", "contacts.create", js({"name": "Nobody Listening"}), no_reply_to=True,
        dead_words="no reply_to"),
    Bad("mutating call without message_id", "contacts.create", js({"name": "No Id"}), bare=True,
        reply_words="must carry a message_id", dead_words="must carry a message_id"),
    Bad("placement without message_id", "orders.place", js({"contact_id": 1, "items": [ITEM]}), bare=True,
        reply_words="must carry a message_id", dead_words="must carry a message_id"),
    Bad("cursor in other digits", "contacts.list", js({"cursor": "²"}), reply_words="cursor", reply_field="cursor"),
    Bad("wrong content_type", "contacts.create", js({"name": "Plain Text"}), props={"content_type": "text/plain"},
        reply_words="content_type", dead_words="text/plain"),
    Bad("pickled body", "contacts.list", b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.",
        props={"content_type": "application/python-pickle"}, reply_words="content_type", dead_words="content_type"),
]


async def test_corpus_of_bad_messages(client: ShopClient, settings: Settings) -> None:
    log = await EventLog.attach(client)
    contact = await new_contact(client, "Real Customer")  # seq 1; bad orders.place calls must not add to it
    sent: dict[str, Bad] = {}
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        for bad in CORPUS:
            if bad.bare:
                correlation_id = uuid.uuid4().hex
                assert raw.reply_queue is not None
                await bare_publish(settings.broker_url, raw.names.rpc_exchange, bad.routing_key, bad.body,
                                   content_type="application/json", reply_to=raw.reply_queue.name,
                                   correlation_id=correlation_id, user_id=raw.user)
            else:
                props = {"message_id": str(uuid.uuid4()), "timestamp": datetime.now(UTC), **bad.props}
                correlation_id = await raw.publish(bad.routing_key, bad.body, reply=not bad.no_reply_to, **props)
            sent[correlation_id] = bad

        for correlation_id, bad in sent.items():
            if bad.reply_words is None:
                continue
            reply = await raw.reply(correlation_id)
            assert reply["ok"] is False, bad.name
            error = reply["error"]
            assert error["code"] == "invalid", (bad.name, error)
            assert bad.reply_words in error["message"], (bad.name, error)
            if bad.reply_field:
                assert error["details"]["field"] == bad.reply_field, (bad.name, error)

        expected_dead = {cid: bad for cid, bad in sent.items() if bad.dead_words}
        dead = await raw.dead_letters(len(expected_dead))
        by_cid = {m.correlation_id: m for m in dead}
        assert set(by_cid) == set(expected_dead), [expected_dead[c].name for c in set(expected_dead) - set(by_cid)]
        for cid, bad in expected_dead.items():
            headers = by_cid[cid].headers
            reason = str(headers["x-kiltshop-reason"])
            assert bad.dead_words and bad.dead_words in reason, (bad.name, reason)
            assert headers["x-kiltshop-routing-key"] == bad.routing_key
            assert headers["x-kiltshop-exchange"] == raw.names.rpc_exchange
            if bad.name == "huge body":
                assert headers["x-kiltshop-truncated"] == len(bad.body)
                assert len(by_cid[cid].body) <= 4096
            elif bad.name != "deeply nested JSON":
                assert by_cid[cid].body == bad.body, bad.name  # kept as sent, for whoever looks into it
        # nothing else was dead-lettered (e.g. the calls that were merely invalid): a dead letter is published,
        # with confirms, before the reply, and every reply is in
        assert await raw.dead_count() == 0
        # no stray replies: the missing-reply_to message got none, every other one exactly one
        assert all(len(v) == 1 for v in raw.replies.values())

    # nothing was created by any of them, and the service still serves
    listed = await client.call("contacts.list", {})
    assert [c["id"] for c in listed["items"]] == [contact["id"]]
    assert (await client.call("orders.list", {}))["items"] == []
    assert listed["seq"] == 1
    await sentinel(client, log, 2)


async def test_a_bad_message_does_not_block_the_good_ones_behind_it(client: ShopClient, settings: Settings) -> None:
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        for _ in range(40):
            await raw.publish("contacts.create", b"garbage", message_id=str(uuid.uuid4()))
        good = [await raw.publish("contacts.create", {"name": f"Good {i}"}, message_id=str(uuid.uuid4()))
                for i in range(5)]
        for cid in good:
            assert (await raw.reply(cid))["ok"] is True
        await raw.dead_letters(40)
    assert len((await client.call("contacts.list", {}))["items"]) == 5


async def test_a_read_needs_no_message_id(client: ShopClient, settings: Settings) -> None:
    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        assert raw.reply_queue is not None
        await bare_publish(settings.broker_url, raw.names.rpc_exchange, "contacts.list", b"",
                           reply_to=raw.reply_queue.name, correlation_id="read-1", user_id=raw.user)
        reply = await raw.reply("read-1")
        assert reply["ok"] is True and reply["result"]["items"] == [] and reply["result"]["seq"] == 0


@pytest.mark.parametrize("how", ["broker drops it", "service drops it"])
async def test_an_expired_request_is_not_executed(settings: Settings, how: str) -> None:
    first = ShopService(settings)
    await first.start()  # declares the durable call queues
    await first.stop()  # nobody consumes now
    queue = Names(settings.namespace).rpc_queue("contacts")

    async def waiting() -> int:
        state = await queue_state(settings.broker_url, queue)  # a fresh look each time
        assert state is not None
        return state[0]

    async def drained() -> bool:
        return await waiting() == 0

    async with RawRpc(settings.broker_url, settings.namespace) as raw:
        if how == "broker drops it":
            # expires after 0.3 s in the queue: the broker throws it away before anyone consumes it
            props: dict[str, Any] = {"expiration": 0.3, "timestamp": datetime.now(UTC)}
        else:
            # still alive as far as the broker knows, but the caller gave up long ago (per its timestamp)
            props = {"expiration": 10, "timestamp": datetime.now(UTC) - timedelta(seconds=30)}
        cid = await raw.publish("contacts.create", {"name": "Too Late"}, message_id=str(uuid.uuid4()), **props)
        if how == "broker drops it":
            await wait_until(drained, interval=0.1)  # gone while no service consumes
        else:
            assert await waiting() == 1  # still there for the next service to take
        second = ShopService(settings)
        await second.start()
        # Taken off the queue, then a graceful stop, which finishes every call in hand: a call the service had
        # not settled would be back in the queue now; it is not, so it was dealt with, one way or the other.
        await wait_until(drained)
        await second.stop()
        assert await waiting() == 0
        third = ShopService(settings)
        await third.start()
        try:
            async with ShopClient(settings.broker_url, settings.namespace, app_id="test") as client:
                log = await EventLog.attach(client)
                listed = await client.call("contacts.list", {})
                assert listed["items"] == [] and listed["seq"] == 0
                await sentinel(client, log, 1)  # the first change the shop ever made is the sentinel
                names = [c["name"] for c in (await client.call("contacts.list", {}))["items"]]
                assert len(names) == 1 and names[0].startswith("Sentinel "), names
                assert cid not in raw.replies  # the caller is gone; nobody is answered
        finally:
            await third.stop()
