"""Shared fixtures: a real RabbitMQ (each test in its own random namespace), a temporary SQLite store,
the shop service in-process or as a real subprocess, and connected clients.

Broker: $KILTSHOP_TEST_BROKER_URL, default amqp://guest:guest@127.0.0.1:5672/ (scripts/run-tests.sh makes
sure one is running). PostgreSQL tests run when $KILTSHOP_TEST_PG_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test) is reachable.
"""

from __future__ import annotations

import contextlib
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


def pytest_sessionstart(session: pytest.Session) -> None:
    if not reachable(BROKER_URL, 5672):
        pytest.exit(
            f"No RabbitMQ broker at {BROKER_URL}: run the tests with scripts/run-tests.sh, which starts one.",
            returncode=3,
        )


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
