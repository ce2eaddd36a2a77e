"""`kiltshop notifier` as a real process, and the terminal commands around it: killed while the SMTP server
holds a mail in DATA, it sends no duplicate and loses nothing; a new user who sets an SMTP server and an
address gets a mail when MacGrudder marks a kilt completed; STARTTLS with a login; `kiltshop notices`;
`kiltshop pickups` (and --billing, --json) answers from a terminal; settings errors are one plain line."""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names
from app.service.shop_service import ShopService
from app.store.notice_store import NoticeStore
from app.store.shop_store import ShopStore
from tests.notifier_helpers import (
    SmtpServer,
    complete,
    login_checker,
    notifier_queues_idle,
    ready_order,
    self_signed,
    want_mail,
)
from tests.shop_helpers import cli_env, queue_state, run_cli
from tests.support import KiltshopProcess, wait_until

DOUGIE = "dougie@glen.example"


class NotifierProcess(KiltshopProcess):
    command = "notifier"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def smtp_env(settings: Settings, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    return cli_env(settings.broker_url, settings.namespace, KILTSHOP_DATABASE_URL=settings.database_url,
                   KILTSHOP_SMTP_HOST="127.0.0.1", KILTSHOP_SMTP_PORT=str(smtp.port), KILTSHOP_SMTP_TLS="none",
                   KILTSHOP_SMTP_SENDER="notices@macgrudder.example", **extra)


@pytest.fixture
async def notifier_process(settings: Settings, smtp: SmtpServer, tmp_path: Path) -> AsyncIterator[NotifierProcess]:
    proc = NotifierProcess(smtp_env(settings, smtp), tmp_path / "notifier.log")
    yield proc
    proc.terminate()
    connection = await aio_pika.connect(settings.broker_url)
    try:
        for purpose in ("order-completed", "order-placed"):
            channel = await connection.channel()
            await channel.queue_delete(Names(settings.namespace).notifier_queue(purpose))
    finally:
        await connection.close()


async def consuming(settings: Settings) -> None:
    names = Names(settings.namespace)

    async def ready() -> bool:
        for purpose in ("order-completed", "order-placed"):
            state = await queue_state(settings.broker_url, names.notifier_queue(purpose))
            if state is None or state[1] < 1:
                return False
        return True

    await wait_until(ready, 30, interval=0.1)


async def test_killed_while_the_server_holds_the_mail_it_sends_no_duplicate_and_loses_nothing(
    settings: Settings, client: ShopClient, smtp: SmtpServer, notifier_process: NotifierProcess
) -> None:
    await want_mail(client, "shipping", DOUGIE)
    notifier_process.start()
    await consuming(settings)
    smtp.handler.stall.set()
    await complete(client, await ready_order(client, "Morag MacLeod"))
    await wait_until(smtp.handler.stalled.is_set, 30)  # the mail is in DATA, waiting for the server's answer

    notifier_process.kill()
    assert notifier_process.proc is not None and notifier_process.proc.returncode == -signal.SIGKILL
    # While it is down, another kilt is finished: its event waits in the durable queue.
    await complete(client, await ready_order(client, "Hamish Grant"))
    smtp.handler.stall.clear()  # the server works again; the first session died with its client
    assert smtp.received == []

    notifier_process.start()
    mails = await smtp.wait_for(2, timeout=30)
    assert sorted(m.subject.split(":")[1].split(" for ")[0].strip() for m in mails) == ["order K-0001",
                                                                                       "order K-0002"]
    assert notifier_process.terminate() == 0  # a graceful stop
    assert await notifier_queues_idle(settings.broker_url, settings.namespace)  # nothing left to send again
    assert len(smtp.received) == 2
    store = await ShopStore.open(settings.database_url)
    try:
        sent = await NoticeStore(store).deliveries()
    finally:
        await store.close()
    assert [(d.order_number, d.status) for d in sent] == [("K-0001", "sent"), ("K-0002", "sent")]
    assert "Traceback" not in notifier_process.log


async def test_a_new_user_with_an_smtp_server_gets_a_mail_when_a_kilt_is_completed(
    settings: Settings, service: ShopService, smtp: SmtpServer, notifier_process: NotifierProcess
) -> None:
    notifier_process.env["KILTSHOP_NOTIFY_SHIPPING"] = "office@glen.example"
    notifier_process.env["KILTSHOP_COLLECT_FROM"] = "MacGrudder's, Bridge of Orchy"
    notifier_process.start()
    await consuming(settings)
    env = cli_env(settings.broker_url, settings.namespace)

    def ok(result: Any) -> str:
        assert result.returncode == 0, (result.args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        return str(result.stdout)

    ok(await run_cli(env, "contacts", "add", "--name", "Callum Fraser", "--address", "12 Mill Lane, Killin"))
    ok(await run_cli(env, "orders", "place", "--contact", "1", "--item", "Eight-yard kilt|Fraser|1|480"))
    ok(await run_cli(env, "orders", "start", "K-0001"))
    ok(await run_cli(env, "orders", "complete", "K-0001"))
    [mail] = await smtp.wait_for(1, timeout=30)
    assert mail.to == ["office@glen.example"]
    assert "K-0001" in mail.subject and "Callum Fraser" in mail.subject and "£480.00" in mail.subject
    assert "Collect from: MacGrudder's, Bridge of Orchy" in mail.text and "12 Mill Lane, Killin" in mail.text

    # The shipping guy asks from a terminal what is ready for him now (a script or cron can too).
    listing = ok(await run_cli(env, "pickups"))
    assert "K-0001" in listing and "12 Mill Lane, Killin" in listing and "£480.00" in listing
    assert "Ready per day:" in listing
    data = json.loads(ok(await run_cli(env, "pickups", "--json")))
    assert [o["number"] for o in data["items"]] == ["K-0001"] and data["items"][0]["contact"]["address"]
    assert (data["count"], data["total_due_pence"]) == (1, 48000) and data["days"][0]["count"] == 1

    # His own settings from the terminal: mail me too, from the next kilt on.
    shown = ok(await run_cli(env, "notices", "--role", "shipping", "--on", "--email", DOUGIE, "--quiet",
                             "23:59-00:00"))
    assert f"on, to {DOUGIE}" in shown and "23:59 to 00:00" in shown
    ok(await run_cli(env, "notices", "--role", "shipping", "--quiet", "off", "--timezone", "UTC"))
    ok(await run_cli(env, "orders", "place", "--contact", "1", "--item", "Sporran||1|95.50"))
    ok(await run_cli(env, "orders", "start", "K-0002"))
    ok(await run_cli(env, "orders", "complete", "K-0002"))
    await smtp.wait_for(3, timeout=30)
    assert sorted(r.to[0] for r in smtp.received if "K-0002" in r.subject) == [DOUGIE, "office@glen.example"]

    ok(await run_cli(env, "orders", "collect", "K-0001"))
    billing = json.loads(ok(await run_cli(env, "pickups", "--billing", "--json")))
    assert [(o["number"], o["status"]) for o in billing["items"]] == [("K-0001", "collected"), ("K-0002", "completed")]
    assert billing["total_due_pence"] == 48000 + 9550 and sum(d["count"] for d in billing["days"]) == 2
    text = ok(await run_cli(env, "pickups", "--billing"))
    assert "collected" in text and "waiting" in text and "Per day:" in text and "£575.50" in text
    assert notifier_process.terminate() == 0


async def test_starttls_and_login(settings: Settings, service: ShopService, tmp_path: Path) -> None:
    context, cafile = self_signed(tmp_path)
    secure = SmtpServer(tls_context=context, require_starttls=True, auth_required=True,
                        authenticator=login_checker("notifier", "heather-and-peat")).start()
    try:
        env = cli_env(settings.broker_url, settings.namespace, KILTSHOP_SMTP_HOST="127.0.0.1",
                      KILTSHOP_SMTP_PORT=str(secure.port), KILTSHOP_SMTP_TLS="starttls",
                      KILTSHOP_SMTP_USER="notifier", KILTSHOP_SMTP_SENDER="notices@macgrudder.example",
                      KILTSHOP_SMTP_CAFILE=str(cafile), KILTSHOP_SMTP_PASSWORD="heather-and-peat")
        result = await run_cli(env, "notifier", "--test-mail", DOUGIE)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"Sent a test mail to {DOUGIE} through 127.0.0.1:{secure.port}."
        [mail] = await secure.wait_for(1)
        assert mail.to == [DOUGIE] and mail.subject == "Kiltshop test mail"

        wrong = await run_cli({**env, "KILTSHOP_SMTP_PASSWORD": "midges"}, "notifier", "--test-mail", DOUGIE)
        assert wrong.returncode == 3 and "Traceback" not in wrong.stderr
        [line] = wrong.stderr.strip().splitlines()
        assert line.startswith("kiltshop: the test mail was not sent:") and "user name or password" in line

        plain = await run_cli({**env, "KILTSHOP_SMTP_TLS": "none"}, "notifier", "--test-mail", DOUGIE)
        assert plain.returncode == 3 and len(plain.stderr.strip().splitlines()) == 1
        assert len(secure.received) == 1
    finally:
        secure.stop()


@pytest.mark.parametrize(("extra", "words"), [
    ({}, "needs an SMTP server"),
    ({"KILTSHOP_SMTP_HOST": "mail.glen.example"}, "needs a sender address"),
    ({"KILTSHOP_SMTP_HOST": "mail.glen.example", "KILTSHOP_SMTP_SENDER": "n@glen.example",
      "KILTSHOP_SMTP_PORT": "smtp"}, "not a port number"),
    ({"KILTSHOP_SMTP_HOST": "mail.glen.example", "KILTSHOP_SMTP_SENDER": "n@glen.example",
      "KILTSHOP_NOTIFY_SHIPPING": "dougie"}, "not an e-mail address"),
    ({"KILTSHOP_SMTP_HOST": "mail.glen.example", "KILTSHOP_SMTP_SENDER": "n@glen.example",
      "KILTSHOP_SMTP_USER": "notifier", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
     "KILTSHOP_SMTP_PASSWORD"),
])
async def test_notifier_settings_errors_are_one_plain_line(
    settings: Settings, extra: dict[str, str], words: str
) -> None:
    env = cli_env(settings.broker_url, settings.namespace, **extra)
    result = await run_cli(env, "notifier")
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("kiltshop: ") and words in line, line


async def test_pickups_command_usage_errors(settings: Settings, service: ShopService) -> None:
    env = cli_env(settings.broker_url, settings.namespace)
    result = await run_cli(env, "pickups", "--since", "2026-03-01")
    assert result.returncode == 2 and result.stderr.strip() == "kiltshop: --since and --until go with --billing"
    bad = await run_cli(env, "pickups", "--billing", "--since", "March")
    assert bad.returncode == 1 and "YYYY-MM-DD" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    quiet = await run_cli(env, "notices", "--role", "shipping", "--quiet", "late")
    assert quiet.returncode == 2 and "21:00-07:00" in quiet.stderr
