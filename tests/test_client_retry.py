"""A change asked for again is made once, even where the caller could not say "same message_id" itself:

- a person who presses Save again after "the shop did not answer" sends the first attempt's message_id again
  (ShopClient remembers the unanswered change for 15 minutes), so the shop's ledger returns the first reply;
- a change published while no service runs waits in the durable service queue as a persistent message and is
  made once after a broker restart; a read waiting there is transient and is gone (asked again, it costs
  nothing)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.client.shop_client import ServiceUnavailable, ShopClient
from app.config import Settings
from app.contract import Names
from app.service.shop_service import ShopService
from tests.shop_helpers import ITEM, EventLog, PrivateRabbit, queue_state
from tests.support import DatabaseLock, wait_until


async def unanswered_then_again(service: ShopService, client: ShopClient, settings: Settings,
                                repeat_window: float | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A window's orders.place gets no answer (the shop takes it, then waits on its database past the
    caller's timeout); the database comes back and the order is placed, its reply reaching nobody; the person
    presses Save again with the same details. Returns the second reply and the customer's orders."""
    contact = await client.call("contacts.create", {"name": f"Catriona Bell {uuid.uuid4().hex[:4]}"})
    log = await EventLog.attach(client, ["order.placed"])
    window = ShopClient(settings.broker_url, settings.namespace, app_id="test-window", timeout=1.5)
    if repeat_window is not None:
        window.repeat_window = repeat_window
    await window.connect()
    database = DatabaseLock(settings.database_url)
    params = {"contact_id": contact["id"], "items": [dict(ITEM)], "notes": "Save pressed twice"}
    try:
        await database.hold()
        with pytest.raises(ServiceUnavailable) as first:
            await window.call("orders.place", params)
        assert "did not answer" in first.value.message
        await database.release()
        await log.wait_for(1)  # the first attempt was made after all
        # the same details, built afresh by the form (another key order): the same change
        again = await window.call("orders.place", dict(reversed(list(params.items()))))
        orders = (await client.call("orders.list", {"contact_id": contact["id"]}))["items"]
        return again, orders
    finally:
        await database.release()
        await window.close()


async def test_saving_again_after_no_answer_makes_the_change_once(
    service: ShopService, client: ShopClient, settings: Settings
) -> None:
    again, orders = await unanswered_then_again(service, client, settings)
    assert len(orders) == 1, "pressing Save again placed a second order"
    assert again == orders[0]  # the first attempt's reply, from the ledger


async def test_an_answer_ends_the_repeat_and_so_does_the_window(
    service: ShopService, client: ShopClient, settings: Settings
) -> None:
    """Once answered, the same details again are a new change (a second kilt of the same kind); so is a repeat
    after the repeat window has passed (here: at once)."""
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test-window") as window:
        contact = await window.call("contacts.create", {"name": "Iain Rae"})
        params = {"contact_id": contact["id"], "items": [dict(ITEM)]}
        one = await window.call("orders.place", params)
        two = await window.call("orders.place", params)
        assert one["id"] != two["id"]
    again, orders = await unanswered_then_again(service, client, settings, repeat_window=0)
    assert len(orders) == 2 and again["id"] == orders[1]["id"]


@pytest.mark.skipif(not PrivateRabbit.available(), reason="needs the rabbitmq-server package")
async def test_a_change_waiting_for_the_service_survives_a_broker_restart(tmp_path: Path) -> None:
    node = PrivateRabbit()
    await asyncio.to_thread(node.start)
    try:
        settings = Settings(broker_url=node.url, namespace="persist", call_timeout=10,
                            database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
        names = Names(settings.namespace)
        queue = names.rpc_queue("contacts")
        service = ShopService(settings)
        await service.start()  # it sets up its queues; then it is stopped and the requests wait there
        await service.stop()

        caller = ShopClient(node.url, settings.namespace, app_id="test-caller", timeout=120)
        await caller.connect()
        change = asyncio.create_task(caller.call("contacts.create", {"name": "Kirsty Rae"}))
        read = asyncio.create_task(caller.call("contacts.list", {}))
        await wait_until(lambda: _ready(node.url, queue, 2), 10)
        # The caller goes away (its own reply queue would not survive the restart anyway): nobody sends again.
        for task in (change, read):
            task.cancel()
        await asyncio.gather(change, read, return_exceptions=True)
        await caller.close()

        await asyncio.to_thread(node.stop)
        await asyncio.to_thread(node.start)
        assert await queue_state(node.url, queue) == (1, 0), "the change should be kept and the read gone"

        service = ShopService(settings)
        await service.start()
        try:
            async with ShopClient(node.url, settings.namespace, app_id="test-check") as check:
                async def created() -> list[str]:
                    listed = await check.call("contacts.list", {})
                    return [c["name"] for c in listed["items"] if c["name"] == "Kirsty Rae"]

                await wait_until(created, 20, interval=0.1)
                await wait_until(lambda: _ready(node.url, queue, 0), 10)
                assert await created() == ["Kirsty Rae"]
        finally:
            await service.stop()
    finally:
        await asyncio.to_thread(node.cleanup)


async def _ready(broker_url: str, queue: str, count: int) -> bool:
    state = await queue_state(broker_url, queue)
    return state is not None and state[0] == count
