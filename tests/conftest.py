"""Shared fixtures: a real RabbitMQ (each test in its own random namespace), a temporary SQLite store,
the shop service in-process or as a real subprocess, and connected clients.

Broker: $KILTSHOP_TEST_BROKER_URL, default amqp://guest:guest@127.0.0.1:5672/ (scripts/run-tests.sh makes
sure one is running). A test needs it when it uses one of BROKER_FIXTURES (directly or through another fixture)
or is marked `broker`. Without a broker those tests are skipped, with the reason, and the rest (the domain,
the importer, the config, ...) run anyway. In CI (CI=true) and under scripts/run-tests.sh
(KILTSHOP_TEST_REQUIRE_BROKER=1) a missing broker stops the run instead: a green run there means every test ran.

PostgreSQL tests run when $KILTSHOP_TEST_PG_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test) is
reachable.

Several pytest-xdist workers may run at once (scripts/run-tests.sh does): every test has its own namespace,
database file and ports, and a module stays on one worker (--dist loadgroup with the groups set below), so
module fixtures that start a private broker node or create a PostgreSQL database are never shared across processes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names
from app.service.shop_service import ShopService
from tests.support import ServiceProcess

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BROKER_URL = os.environ.get("KILTSHOP_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG_URL = os.environ.get("KILTSHOP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


# Fixtures that talk to the shared broker; a test using any of them (or marked `broker`) needs it.
BROKER_FIXTURES = frozenset({"broker_url", "ui_settings"})
NO_BROKER = f"no RabbitMQ broker at {BROKER_URL}: start one (scripts/run-tests.sh does) to run this test"


def broker_required() -> bool:
    """In CI and under scripts/run-tests.sh a missing broker is an error, never a reason to skip."""
    return os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get("KILTSHOP_TEST_REQUIRE_BROKER") == "1"


@functools.cache
def broker_up() -> bool:
    return reachable(BROKER_URL, 5672)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Checked once, in the main process (not in each xdist worker), so the message is said once.
    if broker_required() and not hasattr(session.config, "workerinput") and not broker_up():
        pytest.exit(
            f"No RabbitMQ broker at {BROKER_URL}: CI and scripts/run-tests.sh need one (the script starts it).",
            returncode=3,
        )


def needs_broker(item: pytest.Item) -> bool:
    return item.get_closest_marker("broker") is not None or not BROKER_FIXTURES.isdisjoint(
        getattr(item, "fixturenames", ()))


# Modules whose module fixture starts a private RabbitMQ node and provisions its logins: dozens of rabbitmqctl
# calls, each an Erlang VM of its own. Several at once on 2 cores starve each other past the timeout, so under
# pytest-xdist (--dist loadgroup) they share one worker; every other module is a group of its own, which keeps
# a module (and its module fixtures) on one worker.
PROVISIONED_NODE_MODULES = frozenset({"test_permissions", "test_ledger", "test_hostile_logins", "test_notifier_login"})


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        item.add_marker(pytest.mark.xdist_group(
            "provisioned-rabbit" if module in PROVISIONED_NODE_MODULES else str(item.path.relative_to(REPO))))
    wanting = [item for item in items if needs_broker(item)]
    if not wanting or broker_up():
        return
    if broker_required():  # a broker that went away after the session started
        raise pytest.UsageError(f"No RabbitMQ broker at {BROKER_URL}, and this run needs one.")
    skip = pytest.mark.skip(reason=NO_BROKER)
    for item in wanting:
        item.add_marker(skip)


def new_namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


async def delete_namespace(url: str, namespace: str, extra_queues: tuple[str, ...] = ()) -> None:
    """Remove what a test run declared on the shared broker."""
    names = Names(namespace)
    extra_queues = (*extra_queues, *(f"{namespace}.notices.{role}.guest" for role in ("shipping", "workshop")))
    connection = await aio_pika.connect(url)
    try:
        for queue in (*names.rpc_bindings(), names.dead_queue, *extra_queues):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
        for exchange in (names.rpc_exchange, names.events_exchange, names.dead_exchange, names.relay_exchange):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
    finally:
        await connection.close()


@pytest.fixture
def broker_url() -> str:
    return BROKER_URL


@pytest.fixture
async def namespace(broker_url: str) -> AsyncIterator[str]:
    ns = new_namespace()
    yield ns
    await delete_namespace(broker_url, ns)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}"


@pytest.fixture
def settings(broker_url: str, namespace: str, database_url: str) -> Settings:
    return Settings(broker_url=broker_url, namespace=namespace, database_url=database_url, call_timeout=10)


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[ShopService]:
    svc = ShopService(settings)
    await svc.start()
    yield svc
    await svc.stop()


@pytest.fixture
async def client(settings: Settings, service: ShopService) -> AsyncIterator[ShopClient]:
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test") as c:
        yield c


@pytest.fixture
def service_process(settings: Settings, tmp_path: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(settings, tmp_path / "service.log")
    yield proc
    proc.terminate()
