"""One notifier per shop: two real `kiltshop notifier` processes on one shop. The second is refused the queues
by the broker (exclusive consumers), says so and waits as a standby; while both run every event is mailed once,
by the first. Killed (SIGKILL), the first one's place is taken by the standby within seconds, and the events
sent meanwhile are mailed once each. After a lost connection the notifier takes its exclusive consumers back
by itself (aio-pika does not restore them)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names
from app.notifier.notifier import Notifier
from tests.notifier_helpers import (
    SmtpServer,
    complete,
    notifier_queues_idle,
    notify_settings,
    ready_order,
    want_mail,
)
from tests.shop_helpers import cli_env, queue_state
from tests.support import KiltshopProcess, TcpProxy, wait_until

DOUGIE = "dougie@glen.example"
STANDBY_WORDS = "Another notifier is already sending the mails of shop"
TAKEOVER_WORDS = "this one sends the shop's mails now"


class NotifierProcess(KiltshopProcess):
    command = "notifier"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def pair(settings: Settings, smtp: SmtpServer, tmp_path: Path) -> AsyncIterator[list[NotifierProcess]]:
    env = cli_env(settings.broker_url, settings.namespace, KILTSHOP_DATABASE_URL=settings.database_url,
                  KILTSHOP_SMTP_HOST="127.0.0.1", KILTSHOP_SMTP_PORT=str(smtp.port), KILTSHOP_SMTP_TLS="none",
                  KILTSHOP_SMTP_SENDER="notices@macgrudder.example")
    procs = [NotifierProcess(dict(env), tmp_path / f"notifier-{n}.log") for n in (1, 2)]
    yield procs
    for proc in procs:
        proc.terminate()
    connection = await aio_pika.connect(settings.broker_url)
    try:
        for purpose in ("order-completed", "order-placed"):
            channel = await connection.channel()
            await channel.queue_delete(Names(settings.namespace).notifier_queue(purpose))
    finally:
        await connection.close()


async def consumers(settings: Settings) -> list[int]:
    names = Names(settings.namespace)
    states = [await queue_state(settings.broker_url, names.notifier_queue(p))
              for p in ("order-completed", "order-placed")]
    return [s[1] if s is not None else -1 for s in states]


def numbers(smtp: SmtpServer) -> list[str]:
    return sorted(m.subject.split(":")[1].split(" for ")[0].strip() for m in smtp.received)


async def test_a_second_notifier_waits_as_a_standby_and_takes_over_when_the_first_is_killed(
    settings: Settings, client: ShopClient, smtp: SmtpServer, pair: list[NotifierProcess]
) -> None:
    first, second = pair
    await want_mail(client, "shipping", DOUGIE)
    first.start()
    await wait_until(lambda: "this notifier sends the mails of shop" in first.log, 30, interval=0.1)
    second.start()
    await wait_until(lambda: STANDBY_WORDS in second.log, 30, interval=0.1)
    assert second.proc is not None and second.proc.poll() is None  # waiting, not crashed
    assert await consumers(settings) == [1, 1]  # the broker let one notifier in

    # Both run: each event is mailed once, and by the first.
    for name in ("Morag MacLeod", "Hamish Grant", "Ailsa Munro"):
        await complete(client, await ready_order(client, name))
    await smtp.wait_for(3, timeout=30)
    await wait_until(lambda: notifier_queues_idle(settings.broker_url, settings.namespace), 20, interval=0.1)
    assert numbers(smtp) == ["order K-0001", "order K-0002", "order K-0003"]
    assert first.log.count("mailed dougie") == 3 and "mailed" not in second.log

    first.kill()  # SIGKILL: no goodbye to the broker but the closed socket
    killed_at = time.monotonic()
    for name in ("Iona Fraser", "Callum Bain"):  # sent while the shop has no active notifier
        await complete(client, await ready_order(client, name))
    await wait_until(lambda: TAKEOVER_WORDS in second.log, 20, interval=0.1)
    took_over = time.monotonic() - killed_at
    await smtp.wait_for(5, timeout=30)
    await wait_until(lambda: notifier_queues_idle(settings.broker_url, settings.namespace), 20, interval=0.1)
    assert numbers(smtp) == [f"order K-000{n}" for n in range(1, 6)]  # each once, none lost
    assert took_over < 10, took_over
    assert await consumers(settings) == [1, 1]

    assert second.terminate() == 0
    assert "Traceback" not in first.log + second.log


async def test_after_a_lost_connection_the_notifier_takes_the_queues_back(
    settings: Settings, client: ShopClient, smtp: SmtpServer, pair: list[NotifierProcess]
) -> None:
    parts = urlsplit(settings.broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    notifier = Notifier(replace(settings, broker_url=proxy.url(settings.broker_url)), notify_settings(smtp))
    await notifier.start()
    try:
        await want_mail(client, "shipping", DOUGIE)
        assert notifier.active.is_set() and await consumers(settings) == [1, 1]
        await proxy.cut()
        await wait_until(lambda: not notifier.active.is_set(), 10)

        async def released() -> bool:
            return await consumers(settings) == [0, 0]

        await wait_until(released, 10, interval=0.1)
        await complete(client, await ready_order(client))  # waits in the queue meanwhile
        await proxy.restore()
        await wait_until(notifier.active.is_set, 20, interval=0.05)
        assert await consumers(settings) == [1, 1]
        [mail] = await smtp.wait_for(1, timeout=20)
        assert "K-0001" in mail.subject
    finally:
        await notifier.stop()
        await proxy.close()
