"""Everything out again: `kiltshop export contacts|orders --format csv|json`, and the contacts CSV read back
into an empty shop gives the same contacts. Real service, broker and CLI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.service.shop_service import ShopService
from tests.conftest import delete_namespace, new_namespace
from tests.shop_helpers import advance, cli_env, new_order, run_cli
from tests.test_import import write_lists


@pytest.fixture
async def empty_shop(broker_url: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """A second shop of its own (namespace and database), empty."""
    settings = Settings(broker_url=broker_url, namespace=new_namespace(),
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}", call_timeout=10)
    service = ShopService(settings)
    await service.start()
    yield settings
    await service.stop()
    await delete_namespace(broker_url, settings.namespace)


def data_of(contact: dict[str, Any]) -> tuple[Any, ...]:
    return (contact["name"], contact["email"], contact["phone"], contact["address"],
            tuple(sorted(contact["measurements"].items())), contact["notes"])


async def test_export_then_import_into_an_empty_shop_gives_the_same_contacts(
    client: ShopClient, settings: Settings, empty_shop: Settings, tmp_path: Path
) -> None:
    env = cli_env(settings.broker_url, settings.namespace)
    imported = await run_cli(env, "import", "contacts", *map(str, write_lists(tmp_path)))
    assert imported.returncode == 0, imported.stderr
    await client.call("contacts.create", {"name": "Seonaid Kerr", "address": "Flat 2\n7 Argyll St\nOban",
                                          "notes": "Tartan: \"Kerr Modern\"; 50% deposit, paid",
                                          "phone": "(01631) 56-2200",
                                          "measurements": {"waist_cm": 71.5, "hip_cm": None, "length_cm": 56}})
    out = tmp_path / "contacts.csv"
    exported = await run_cli(env, "export", "contacts", "--format", "csv", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == f"Wrote 12 contacts to {out}.\n"
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert len(rows) == 12 and rows[0]["id"] == "1"

    again = await run_cli(cli_env(empty_shop.broker_url, empty_shop.namespace), "import", "contacts", str(out))
    assert again.returncode == 0, again.stderr
    assert "contacts.csv: 12 records (CSV, UTF-8)" in again.stdout
    async with ShopClient(empty_shop.broker_url, empty_shop.namespace) as other:
        copied, _ = await other.list_all("contacts.list")
        pairs = (await other.call("contacts.duplicates", {}))["items"]
    original, _ = await client.list_all("contacts.list")
    assert sorted(map(data_of, copied)) == sorted(map(data_of, original))
    assert len(pairs) == 2  # the two doubtful pairs are asked about again in the new shop


async def test_export_orders_as_csv_and_json(client: ShopClient, settings: Settings) -> None:
    morag = await client.call("contacts.create", {"name": "Morag MacLeod"})
    first = await new_order(client, morag["id"], notes="Wedding, 14th")
    await advance(client, first, "start", "complete")
    await new_order(client, morag["id"])
    env = cli_env(settings.broker_url, settings.namespace)

    as_json = await run_cli(env, "export", "orders", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    listed = (await client.call("orders.list", {}))["items"]
    assert (body["kind"], body["count"], body["items"]) == ("orders", 2, listed)

    as_csv = await run_cli(env, "export", "orders")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout, newline="")))
    assert [(r["number"], r["status"], r["contact_name"], r["total_pence"]) for r in rows] == [
        ("K-0001", "completed", "Morag MacLeod", "48000"), ("K-0002", "pending", "Morag MacLeod", "48000")]
    assert json.loads(rows[0]["items"]) == listed[0]["items"] and rows[0]["notes"] == "Wedding, 14th"

    contacts = await run_cli(env, "export", "contacts", "--format", "json")
    assert [c["name"] for c in json.loads(contacts.stdout)["items"]] == ["Morag MacLeod"]


async def test_export_refuses_plainly(client: ShopClient, settings: Settings, tmp_path: Path) -> None:
    env = cli_env(settings.broker_url, settings.namespace)
    wrong = await run_cli(env, "export", "invoices")
    assert wrong.returncode == 2 and "invalid choice: 'invoices'" in wrong.stderr
    nowhere = await run_cli(env, "export", "contacts", "--output", str(tmp_path / "no" / "such" / "x.csv"))
    assert nowhere.returncode == 2
    assert nowhere.stderr.startswith("kiltshop: cannot write ") and "does not exist" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr
