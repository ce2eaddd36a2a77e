"""The contract is enough: a web store written in another language (Node.js + amqplib), from
docs/contract.md alone, places, amends, follows and cancels an order through the live service."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.client.shop_client import ShopClient
from app.config import Settings
from app.contract import Names

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "webstore-client.mjs"
NODE_CACHE = Path("/tmp/kiltshop-node-example")


def node_with_amqplib() -> Path | None:
    """A folder with amqplib installed from the npm registry, or None when node/npm or the registry is missing."""
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    if not (NODE_CACHE / "node_modules" / "amqplib").exists():
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE_CACHE),
                               "amqplib@0.10"], capture_output=True, text=True, timeout=240, check=False)
        if done.returncode != 0:
            return None
    return NODE_CACHE


async def test_a_web_store_in_javascript_follows_the_contract(client: ShopClient, settings: Settings) -> None:
    folder = await asyncio.to_thread(node_with_amqplib)
    if folder is None:
        pytest.skip("node, npm or the npm registry is not available to install amqplib")
    script = folder / EXAMPLE.name
    shutil.copy(EXAMPLE, script)
    contact = await client.call("contacts.create", {"name": "Webstore Customer"})
    proc = await asyncio.create_subprocess_exec(
        "node", str(script), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/usr/local/bin:/bin", "BROKER_URL": settings.broker_url,
             "NAMESPACE": settings.namespace, "CONTACT_ID": str(contact["id"])},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["same_order_on_retry"] is True
    assert result["amended_total"] == 96000
    assert result["stale_edit"] == "conflict"
    assert result["final_status"] == "cancelled"
    assert result["events"] == ["order.placed", "order.amended", "order.cancelled"]
    assert result["seqs"] == sorted(result["seqs"])
    # its own queues, named for its login (guest here): the only ones the service replies to and a shop login may use
    names = Names(settings.namespace)
    assert names.is_own_reply_queue(result["reply_queue"], "guest"), result["reply_queue"]
    assert result["event_queue"].startswith(names.client_queue("guest", "")), result["event_queue"]
    orders = await client.call("orders.list", {"contact_id": contact["id"]})
    assert [o["number"] for o in orders["items"]] == [result["number"]]  # the retried placement made one
