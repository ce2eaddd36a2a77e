"""The shipping presenter and the service-health watch without a display, against the real service."""

from __future__ import annotations

import asyncio
from typing import Any

from app.client.presenters.health import NOT_ANSWERING_BANNER, Health, ServiceHealth
from app.client.presenters.shipping import ShippingPresenter
from app.client.role_session import RoleSession
from app.client.shop_client import ShopClient
from app.config import Settings
from app.service.shop_service import ShopService
from tests.support import wait_until

KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}


async def ready(client: ShopClient, name: str) -> dict[str, Any]:
    contact = await client.call("contacts.create", {"name": name, "phone": "01838 400 123"})
    order = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
    for action in ("start", "complete"):
        order = await client.call(f"orders.{action}", {"id": order["id"], "version": order["version"]})
    return dict(order)


async def pickups(client: ShopClient, hold_s: float) -> ShippingPresenter:
    session = RoleSession(client, "shipping")
    await session.start()
    return ShippingPresenter(session, hold_s=hold_s)


async def test_a_contact_change_redraws_its_pickups(client: ShopClient) -> None:
    order = await ready(client, "Morag MacLeod")
    presenter = await pickups(client, hold_s=5)
    redrawn: list[list[int]] = []
    presenter.contact_rows_changed = redrawn.append
    presenter.select(order["id"])
    for phone in ("07700 900 001", "07700 900 002", "07700 900 003"):
        contact = await client.call("contacts.get", {"id": order["contact_id"]})
        await client.call("contacts.update", {"id": contact["id"], "version": contact["version"], "phone": phone})
    await wait_until(lambda: len(redrawn) == 3)
    assert all(ids == [order["id"]] for ids in redrawn)
    assert presenter.contact_of(presenter.current_order() or {})["phone"] == "07700 900 003"


async def test_collect_is_held_once_and_the_selection_stays(client: ShopClient) -> None:
    first = await ready(client, "Morag MacLeod")
    second = await ready(client, "Hamish Grant")
    presenter = await pickups(client, hold_s=0.2)
    assert presenter.totals_text() == "2 ready · £960.00 to bill"
    presenter.select(first["id"])
    assert presenter.collect() is not None
    assert presenter.collect() is None  # pressed twice
    await wait_until(lambda: first["id"] not in presenter.session.orders.items)
    assert presenter.current_id == first["id"] and not presenter.can_collect()  # not moved to Hamish's
    assert (await client.call("orders.get", {"id": second["id"]}))["status"] == "completed"

    presenter.select(second["id"])
    presenter.collect()
    presenter.undo()
    await asyncio.sleep(0.5)
    assert (await client.call("orders.get", {"id": second["id"]}))["status"] == "completed"


async def test_health_says_when_the_service_stops_answering_and_when_it_is_back(settings: Settings) -> None:
    service = ShopService(settings)
    await service.start()
    async with ShopClient(settings.broker_url, settings.namespace, app_id="test-health") as client:
        health = ServiceHealth(client, interval=0.2, timeout=0.5)
        seen: list[Health] = []
        health.on_change(seen.append)
        health.start()
        try:
            await wait_until(lambda: health.state == Health.ANSWERING)
            assert health.banner is None
            await service.stop()  # the broker stays up
            await wait_until(lambda: health.state == Health.NOT_ANSWERING, timeout=10)
            assert health.banner == NOT_ANSWERING_BANNER
            assert "contacts" not in health.banner and "guest" not in health.banner
            service = ShopService(settings)
            await service.start()
            await wait_until(lambda: health.state == Health.ANSWERING, timeout=10)
            assert seen == [Health.ANSWERING, Health.NOT_ANSWERING, Health.ANSWERING]
        finally:
            await health.stop()
            await service.stop()
