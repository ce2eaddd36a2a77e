"""Helpers for the end-to-end tests of the shop core: event logs, raw AMQP publishing, the CLI as a
subprocess, and a private RabbitMQ node for tests that stop and start the broker.

Everything here talks to the real broker and the real database; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from sqlalchemy.engine import Connection

from app.client.shop_client import ShopClient
from app.contract import CONTENT_TYPE, Names
from app.security.provisioning import Rabbitmqctl, apply, plan
from tests.support import TcpProxy, wait_until

REPO = Path(__file__).resolve().parent.parent

ITEM: dict[str, Any] = {
    "description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000
}


# -- events -----------------------------------------------------------------------------------------


class EventLog:
    """Every event a client hears, in arrival order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    @classmethod
    async def attach(cls, client: ShopClient, keys: Iterable[str] = ("#",), **kwargs: Any) -> EventLog:
        log = cls()
        await client.subscribe(log, list(keys), **kwargs)
        return log

    @property
    def seqs(self) -> list[int]:
        return [int(e["seq"]) for e in self.events]

    @property
    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        await wait_until(lambda: len(self.events) >= count, timeout)
        return self.events

    async def wait_for_seq(self, seq: int, timeout: float = 10.0) -> None:
        await wait_until(lambda: any(int(e["seq"]) >= seq for e in self.events), timeout)

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


def assert_gap_free(seqs: list[int], start: int = 1) -> None:
    assert seqs == list(range(start, start + len(seqs))), f"seq not gap-free and increasing: {seqs}"


async def sentinel(client: ShopClient, log: EventLog, expected_seq: int) -> None:
    """Make one change and check that it is the very next event: proves nothing was emitted before it."""
    created = await client.call("contacts.create", {"name": f"Sentinel {uuid.uuid4().hex[:6]}"})
    assert created["id"]
    await log.wait_for_seq(expected_seq)
    last = log.events[-1]
    assert (last["seq"], last["event"], last["data"]["id"]) == (expected_seq, "contact.created", created["id"]), (
        f"expected the sentinel as seq {expected_seq}, heard {log.seqs}"
    )


async def new_contact(client: ShopClient, name: str = "Morag MacLeod", **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call("contacts.create", {"name": name, **fields})
    return result


async def new_order(client: ShopClient, contact_id: int, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call(
        "orders.place", {"contact_id": contact_id, "items": [dict(ITEM)], **params}
    )
    return result


async def advance(client: ShopClient, order: dict[str, Any], *actions: str) -> dict[str, Any]:
    for action in actions:
        order = await client.call(f"orders.{action}", {"id": order["id"], "version": order["version"]})
    return order


# -- raw AMQP ---------------------------------------------------------------------------------------


class RawRpc:
    """A plain aio-pika publisher onto <ns>.rpc, with its own reply queue and a view of <ns>.dead."""

    def __init__(self, broker_url: str, namespace: str) -> None:
        self.broker_url = broker_url
        self.names = Names(namespace)
        self.connection: AbstractConnection | None = None
        self.channel: AbstractChannel | None = None
        self.reply_queue: AbstractQueue | None = None
        self.replies: dict[str, list[AbstractIncomingMessage]] = {}

    async def __aenter__(self) -> RawRpc:
        self.connection = await aio_pika.connect(self.broker_url)
        self.channel = await self.connection.channel()
        # The service replies only to the sender's own reply queue, named for its login (docs/contract.md).
        self.user = unquote(urlsplit(self.broker_url).username or "guest")
        self.reply_queue = await self.channel.declare_queue(
            self.names.reply_queue(self.user, uuid.uuid4().hex), exclusive=True, auto_delete=True)

        async def on_reply(message: AbstractIncomingMessage) -> None:
            self.replies.setdefault(message.correlation_id or "", []).append(message)

        await self.reply_queue.consume(on_reply, no_ack=True)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def publish(
        self, routing_key: str, body: bytes | Any, *, reply: bool = True, **props: Any
    ) -> str:
        """Publish to the rpc exchange; returns the correlation_id to wait for the reply with."""
        assert self.channel is not None and self.reply_queue is not None
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        correlation_id = props.pop("correlation_id", uuid.uuid4().hex)
        props.setdefault("content_type", CONTENT_TYPE)
        props.setdefault("user_id", self.user)
        if reply:
            props.setdefault("reply_to", self.reply_queue.name)
        exchange = await self.channel.get_exchange(self.names.rpc_exchange, ensure=False)
        await exchange.publish(
            aio_pika.Message(body, correlation_id=correlation_id, **props), routing_key=routing_key
        )
        return str(correlation_id)

    async def reply(self, correlation_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return (await self.all_replies(correlation_id, 1, timeout))[0]

    async def all_replies(self, correlation_id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        await wait_until(lambda: len(self.replies.get(correlation_id, ())) >= count, timeout)
        return [json.loads(m.body) for m in self.replies[correlation_id]]

    async def dead_letters(self, count: int, timeout: float = 10.0) -> list[AbstractIncomingMessage]:
        """Take (and ack) count messages off <ns>.dead, waiting for them to arrive."""
        assert self.channel is not None
        queue = await self.channel.declare_queue(self.names.dead_queue, durable=True, passive=True)
        got: list[AbstractIncomingMessage] = []

        async def take() -> bool:
            while len(got) < count:
                message = await queue.get(fail=False, no_ack=True)
                if message is None:
                    return False
                got.append(message)
            return True

        await wait_until(take, timeout, interval=0.05)
        return got

    async def dead_count(self) -> int:
        assert self.channel is not None
        queue = await self.channel.declare_queue(self.names.dead_queue, durable=True, passive=True)
        return int(queue.declaration_result.message_count or 0)


# -- the CLI ----------------------------------------------------------------------------------------


def cli_env(broker_url: str, namespace: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILTSHOP_")}
    env.update(KILTSHOP_BROKER_URL=broker_url, KILTSHOP_NAMESPACE=namespace,
               KILTSHOP_CONFIG=str(Path(tempfile.gettempdir()) / "kiltshop-tests-no-config.toml"))
    env.update(extra)
    return env


async def run_cli(env: dict[str, str], *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m app.cli.main ARGS` without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli.main", *args, env=env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())


# -- a private RabbitMQ node ----------------------------------------------------------------------

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRabbit:
    """A RabbitMQ node of our own (own HOME, mnesia, logs and ports) that tests may stop and start.

    /usr/sbin/rabbitmq-server only runs as root or rabbitmq; /usr/lib/rabbitmq/bin/rabbitmq-server runs as
    anyone. The Erlang cookie is read from $HOME, so rabbitmqctl runs with the same environment. Never
    touch the machine's shared broker on 5672.
    """

    def __init__(self, extra_conf: str = "") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kiltshop-rabbit-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.nodename = f"kiltshop-test-{uuid.uuid4().hex[:8]}@localhost"
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n{extra_conf}"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(self.dir),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_PID_FILE": str(self.dir / "node.pid"),
        }
        self.running = False

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @staticmethod
    def available() -> bool:
        return (RABBIT_BIN / "rabbitmq-server").exists()

    def _ctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), *args], env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def start(self) -> None:
        subprocess.run(
            [str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self.env, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        done = self._ctl("wait", "--timeout", "60", str(self.dir / "node.pid"))
        if done.returncode != 0:
            raise RuntimeError(f"private RabbitMQ node did not start: {done.stdout} {done.stderr}")
        deadline = time.monotonic() + 30
        while not self.port_open():
            if time.monotonic() > deadline:
                raise RuntimeError("private RabbitMQ node started but its AMQP port is closed")
            time.sleep(0.1)
        self.running = True

    def stop(self) -> None:
        self._ctl("-n", self.nodename, "stop")
        deadline = time.monotonic() + 30
        while self.port_open() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.running = False

    def port_open(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True
        return False

    def cleanup(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ProvisionedShop:
    """A private node with one shop's per-role logins made as `kiltshop provision` makes them (a vhost, a login
    per role plus the people asked for, exactly their permissions). For a test module: start it once."""

    def __init__(self, namespace: str, vhost: str, people: Sequence[tuple[str | None, str]] = ()) -> None:
        self.namespace = namespace
        self.vhost = vhost
        self.people = list(people)
        self.node = PrivateRabbit()
        self.passwords: dict[str, str] = {}
        self.said: list[str] = []  # what provisioning said, line by line

    def ctl(self) -> Rabbitmqctl:
        return Rabbitmqctl([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node.nodename], env=self.node.env)

    def url(self, user: str) -> str:
        return f"amqp://{user}:{self.passwords[user]}@127.0.0.1:{self.node.port}/{self.vhost}"

    def role_url(self, role: str, person: str | None = None) -> str:
        return self.url(f"{self.namespace}.{role}" + (f".{person}" if person else ""))

    def __enter__(self) -> ProvisionedShop:
        self.node.start()
        try:
            self.passwords = apply(self.vhost, plan(self.namespace, self.people), self.ctl(), self.said.append)
        except BaseException:
            self.node.cleanup()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.node.cleanup()


# -- a bare AMQP publisher -------------------------------------------------------------------------


async def bare_publish(
    broker_url: str, exchange: str, routing_key: str, body: bytes, **properties: Any
) -> None:
    """Publish one message exactly as given, speaking AMQP 0-9-1 with pamqp over a plain socket.

    aio-pika (aiormq) gives every message without a message_id a random one, so a request that really has
    none, as another program may send it, can only be made this way. Waits for the broker's confirm.
    """
    from urllib.parse import unquote, urlsplit

    from pamqp import commands, frame
    from pamqp.body import ContentBody
    from pamqp.exceptions import UnmarshalingException
    from pamqp.header import ContentHeader, ProtocolHeader

    parts = urlsplit(broker_url)
    reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 5672)
    buffer = b""

    async def receive(kind: type) -> Any:
        nonlocal buffer
        while True:
            try:
                used, _channel, value = frame.unmarshal(buffer)
            except UnmarshalingException:
                chunk = await asyncio.wait_for(reader.read(65536), 10)
                if not chunk:
                    raise ConnectionError("the broker closed the connection") from None
                buffer += chunk
                continue
            buffer = buffer[used:]
            if isinstance(value, commands.Connection.Close | commands.Channel.Close):
                raise ConnectionError(f"the broker refused: {value.reply_text}")
            if isinstance(value, kind):
                return value

    def send(value: Any, channel: int = 0) -> None:
        writer.write(frame.marshal(value, channel))

    try:
        send(ProtocolHeader())
        await receive(commands.Connection.Start)
        user, password = unquote(parts.username or "guest"), unquote(parts.password or "guest")
        send(commands.Connection.StartOk(client_properties={"product": "kiltshop-tests"}, mechanism="PLAIN",
                                         response=f"\0{user}\0{password}", locale="en_US"))
        tune = await receive(commands.Connection.Tune)
        send(commands.Connection.TuneOk(channel_max=tune.channel_max, frame_max=tune.frame_max, heartbeat=0))
        send(commands.Connection.Open(virtual_host=unquote(parts.path[1:]) or "/"))
        await receive(commands.Connection.OpenOk)
        send(commands.Channel.Open(), 1)
        await receive(commands.Channel.OpenOk)
        send(commands.Confirm.Select(), 1)
        await receive(commands.Confirm.SelectOk)
        send(commands.Basic.Publish(exchange=exchange, routing_key=routing_key), 1)
        send(ContentHeader(0, len(body), commands.Basic.Properties(**properties)), 1)
        step = tune.frame_max - 8
        for start in range(0, len(body), step):
            send(ContentBody(body[start:start + step]), 1)
        await receive(commands.Basic.Ack)
        send(commands.Connection.Close(reply_code=200, reply_text="done", class_id=0, method_id=0))
        await receive(commands.Connection.CloseOk)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def queue_state(broker_url: str, queue_name: str) -> tuple[int, int] | None:
    """(messages ready, consumers) of a queue, or None when it does not exist."""
    connection = await aio_pika.connect(broker_url)
    try:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(queue_name, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return None
        result = queue.declaration_result
        return int(result.message_count or 0), int(result.consumer_count or 0)
    finally:
        await connection.close()


async def wait_taken(proxy: TcpProxy, bytes_before: int, broker_url: str, queue_name: str,
                     timeout: float = 10.0) -> None:
    """Wait until a call sent through proxy is in the service's hands: the broker has confirmed its publish
    (bytes came back through the proxy since bytes_before, taken just before the call) and the service has
    taken it off its queue (none left waiting there)."""
    await wait_until(lambda: proxy.bytes_down > bytes_before, timeout)

    async def taken() -> bool:
        state = await queue_state(broker_url, queue_name)
        return state is not None and state[0] == 0

    await wait_until(taken, timeout)


async def wait_serving(broker_url: str, namespace: str, consumers: int = 1, timeout: float = 20.0) -> None:
    """Wait until every call queue of the namespace has at least this many consumers."""
    names = Names(namespace)

    async def ready() -> bool:
        for queue in names.rpc_bindings():
            state = await queue_state(broker_url, queue)
            if state is None or state[1] < consumers:
                return False
        return True

    await wait_until(ready, timeout, interval=0.1)


# -- schema ------------------------------------------------------------------------------------------


def schema_differences(connection: Connection) -> list[Any]:
    """What Alembic autogenerate would change to make the database match app/store/schema.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.store.schema import metadata

    # compare_server_default is left off: on SQLite it reports every server_default="" as changed ('' vs "''").
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))
