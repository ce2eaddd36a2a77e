"""The `kiltshop` command line as a real subprocess against the real broker and service: every command, --json
output, demo data, watch, and errors as one plain line on stderr."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.service.shop_service import ShopService
from tests.conftest import new_namespace
from tests.shop_helpers import REPO, cli_env, new_contact, new_order, run_cli


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli_env(settings.broker_url, settings.namespace)


def ok(result: Any) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return str(result.stdout)


def as_json(result: Any) -> Any:
    return json.loads(ok(result))


def one_line_error(result: Any, *words: str) -> str:
    assert result.returncode != 0, (result.args, result.stdout)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kiltshop: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return str(lines[0])


async def test_contacts_commands(service: ShopService, env: dict[str, str]) -> None:
    out = ok(await run_cli(env, "contacts", "add", "--name", "Morag MacLeod", "--email", "morag@example.co.uk",
                           "--phone", "01838 400123", "--waist", "81", "--address", "3 Station Road, Tyndrum"))
    assert out.strip() == "Added contact 1: Morag MacLeod."
    added = as_json(await run_cli(env, "contacts", "add", "--name", "Hamish Stewart", "--json"))
    assert added["id"] == 2 and added["version"] == 1

    listing = ok(await run_cli(env, "contacts", "list"))
    assert "Morag MacLeod" in listing and "Hamish Stewart" in listing and "morag@example.co.uk" in listing
    found = as_json(await run_cli(env, "contacts", "list", "--search", "tyndrum", "--json"))
    assert [c["name"] for c in found["items"]] == ["Morag MacLeod"]
    assert found["seq"] == 2

    edited = ok(await run_cli(env, "contacts", "edit", "1", "--phone", "07700 900123", "--hip", "95"))
    assert edited.strip() == "Saved Morag MacLeod (now version 2)."
    shown = ok(await run_cli(env, "contacts", "show", "1"))
    assert "07700 900123" in shown and "waist 81 cm" in shown and "hip 95 cm" in shown
    assert "created by guest" in shown and "updated by guest" in shown
    contact = as_json(await run_cli(env, "--json", "contacts", "show", "1"))
    assert contact["measurements"] == {"waist_cm": 81.0, "hip_cm": 95.0, "length_cm": None}
    assert contact["version"] == 2

    # a stale --version is a conflict, said in one line
    one_line_error(await run_cli(env, "contacts", "edit", "1", "--version", "1", "--notes", "x"), "version 1")
    one_line_error(await run_cli(env, "contacts", "add", "--name", "Bad Mail", "--email", "bad"), "'email'")
    one_line_error(await run_cli(env, "contacts", "show", "99"), "no contact with id 99")
    one_line_error(await run_cli(env, "contacts", "edit", "2"), "nothing to change")


async def test_orders_commands(service: ShopService, env: dict[str, str]) -> None:
    ok(await run_cli(env, "contacts", "add", "--name", "Callum Fraser", "--address", "12 Mill Lane, Killin"))
    out = ok(await run_cli(env, "orders", "place", "--contact", "1", "--item", "Eight-yard kilt|Black Watch|1|480",
                           "--item", "Kilt pin||2|£25.50", "--notes", "Wedding on the 14th"))
    assert out.strip() == "Placed order K-0001 (£531.00)."
    second = as_json(await run_cli(env, "orders", "place", "--contact", "1", "--item", "Sporran||1|95", "--json"))
    assert second["number"] == "K-0002" and second["total_pence"] == 9500

    listing = ok(await run_cli(env, "orders", "list"))
    assert "K-0001" in listing and "K-0002" in listing and "Callum Fraser" in listing and "£531.00" in listing
    shown = ok(await run_cli(env, "orders", "show", "K-0001"))
    assert "Eight-yard kilt (Black Watch)" in shown and "Wedding on the 14th" in shown and "12 Mill Lane" in shown
    assert as_json(await run_cli(env, "orders", "show", "2", "--json"))["number"] == "K-0002"

    out = ok(await run_cli(env, "orders", "amend", "K-0001", "--item", "Eight-yard kilt|Black Watch|1|450"))
    assert out.strip() == "Changed order K-0001 (now £450.00)."
    assert ok(await run_cli(env, "orders", "start", "K-0001")).strip() == "Order K-0001 is now in progress."
    assert ok(await run_cli(env, "orders", "complete", "k-0001")).strip() == "Order K-0001 is now completed."

    pickups = ok(await run_cli(env, "pickups"))
    assert "K-0001" in pickups and "Callum Fraser" in pickups and "£450.00 to bill" in pickups
    data = as_json(await run_cli(env, "pickups", "--json"))
    assert [p["number"] for p in data["items"]] == ["K-0001"] and data["total_due_pence"] == 45000

    assert ok(await run_cli(env, "orders", "collect", "K-0001")).strip() == "Order K-0001 is now collected."
    assert ok(await run_cli(env, "orders", "cancel", "K-0002")).strip() == "Order K-0002 is now cancelled."
    assert "Nothing is ready for collection." in ok(await run_cli(env, "pickups"))

    statuses = as_json(await run_cli(env, "orders", "list", "--json"))
    assert [(o["number"], o["status"]) for o in statuses["items"]] == [("K-0001", "collected"),
                                                                      ("K-0002", "cancelled")]
    only = as_json(await run_cli(env, "orders", "list", "--status", "cancelled", "--contact", "1", "--json"))
    assert [o["number"] for o in only["items"]] == ["K-0002"]
    assert as_json(await run_cli(env, "orders", "list", "--search", "nothing like it", "--json"))["items"] == []


async def test_cli_errors_are_one_plain_line(service: ShopService, env: dict[str, str]) -> None:
    ok(await run_cli(env, "contacts", "add", "--name", "Isla Grant"))
    ok(await run_cli(env, "orders", "place", "--contact", "1", "--item", "Kilt hose||1|22"))
    unknown = await run_cli(env, "orders", "show", "K-9999")
    one_line_error(unknown, "no order K-9999")
    assert unknown.returncode == 1
    illegal = await run_cli(env, "orders", "collect", "K-0001")
    one_line_error(illegal, "K-0001", "cannot be marked collected")
    assert illegal.returncode == 1
    one_line_error(await run_cli(env, "orders", "complete", "1"), "cannot be marked completed")
    ok(await run_cli(env, "orders", "start", "K-0001"))
    one_line_error(await run_cli(env, "orders", "cancel", "K-0001"), "can no longer be cancelled")
    one_line_error(await run_cli(env, "orders", "place", "--contact", "1", "--item", "Kilt|x|one|450"),
                   "whole number")
    one_line_error(await run_cli(env, "orders", "place", "--contact", "42", "--item", "Kilt||1|450"),
                   "no contact with id 42")
    # nothing of it changed anything: one placement, one start
    data = as_json(await run_cli(env, "orders", "list", "--json"))
    assert data["seq"] == 3 and [o["status"] for o in data["items"]] == ["in_progress"]


async def test_cli_without_a_service_or_a_broker(settings: Settings, tmp_path: Path) -> None:
    never = cli_env(settings.broker_url, new_namespace())
    result = await run_cli(never, "contacts", "list")
    one_line_error(result, "not running")
    assert result.returncode == 3

    # a service that ran once and is gone: its queues are there but nobody answers
    gone = ShopService(settings)
    await gone.start()
    await gone.stop()
    config = tmp_path / "kiltshop.toml"
    config.write_text("call_timeout = 1.5\n")
    result = await run_cli(cli_env(settings.broker_url, settings.namespace, KILTSHOP_CONFIG=str(config)),
                           "orders", "place", "--contact", "1", "--item", "Kilt||1|450")
    one_line_error(result, "did not answer")
    assert result.returncode == 3

    env = cli_env(settings.broker_url, settings.namespace)
    for args in (("--broker-url", "amqp://guest:guest@127.0.0.1:1/", "contacts", "list"),
                 ("contacts", "list", "--broker-url", "amqp://guest:guest@127.0.0.1:1/"),
                 ("orders", "show", "K-0001", "--json", "--broker-url", "amqp://guest:guest@127.0.0.1:1/")):
        result = await run_cli(env, *args)
        one_line_error(result, "Cannot reach the message broker at 127.0.0.1:1")
        assert result.returncode == 3
    one_line_error(await run_cli(env, "--broker-url", "http://127.0.0.1/", "pickups"), "amqp://")
    one_line_error(await run_cli(env, "--namespace", "my.shop", "pickups"), "namespace")


async def test_demo_data_fills_the_shop_once(service: ShopService, env: dict[str, str]) -> None:
    out = ok(await run_cli(env, "demo-data", timeout=120))
    assert "Demo shop ready: 30 customers, 50 orders." in out
    contacts = as_json(await run_cli(env, "contacts", "list", "--json"))
    orders = as_json(await run_cli(env, "orders", "list", "--json"))
    assert len(contacts["items"]) == 30
    assert len(orders["items"]) == 50
    assert {o["status"] for o in orders["items"]} == {"pending", "in_progress", "completed", "collected",
                                                       "cancelled"}
    assert len({c["name"] for c in contacts["items"]}) == 30

    again = ok(await run_cli(env, "demo-data", "--if-empty"))
    assert "already has contacts" in again
    assert as_json(await run_cli(env, "demo-data", "--if-empty", "--json")) == {"skipped": True}
    assert len(as_json(await run_cli(env, "contacts", "list", "--json"))["items"]) == 30
    assert as_json(await run_cli(env, "orders", "list", "--json"))["seq"] == orders["seq"]


async def test_demo_data_if_empty_fills_an_empty_shop(service: ShopService, env: dict[str, str]) -> None:
    counts = as_json(await run_cli(env, "demo-data", "--if-empty", "--json", timeout=120))
    assert counts == {"contacts": 30, "orders": 50}


async def _read_line(stream: asyncio.StreamReader, timeout: float = 15.0) -> str:
    line = await asyncio.wait_for(stream.readline(), timeout)
    assert line, "watch ended without printing"
    return line.decode().rstrip("\n")


async def test_watch_prints_events(client: ShopClient, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli.main", "watch", "order.*", env=env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert (await _read_line(proc.stdout)).startswith("Watching events on ")  # printed once subscribed
        contact = await new_contact(client, "Fraser Munro")  # contact.* is not watched
        order = await new_order(client, contact["id"])
        line = await _read_line(proc.stdout)
        assert line.startswith("[2] "), line
        assert "order.placed" in line and order["number"] in line and "-> pending" in line and "by guest" in line
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert "Traceback" not in err.decode()


async def test_watch_json_prints_one_event_per_line(client: ShopClient, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli.main", "watch", "--json", env=env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        # --json prints nothing but events: make probe changes until watch has bound its queue and shows one
        probes = 0
        first = None
        while first is None:
            assert probes < 100, "watch never printed an event"
            await new_contact(client, f"Probe {probes}")
            probes += 1
            try:
                first = await _read_line(proc.stdout, timeout=0.3)
            except TimeoutError:
                continue
        assert json.loads(first)["event"] == "contact.created"
        order = await new_order(client, 1)
        while True:
            event = json.loads(await _read_line(proc.stdout))
            if event["event"] != "contact.created":
                break
        assert (event["seq"], event["event"], event["data"]["number"]) == (probes + 1, "order.placed", order["number"])
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert "Traceback" not in err.decode()
