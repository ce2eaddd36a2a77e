"""A first end-to-end check through the real broker: create, read back, hear the event."""

from __future__ import annotations

from app.client.shop_client import ShopClient
from tests.support import wait_until


async def test_create_contact_is_read_back_and_announced(client: ShopClient) -> None:
    events: list[dict] = []
    await client.subscribe(events.append, ["contact.*"])
    created = await client.call("contacts.create", {"name": "Morag MacLeod", "email": "morag@example.co.uk"})
    assert created["version"] == 1
    fetched = await client.call("contacts.get", {"id": created["id"]})
    assert fetched["name"] == "Morag MacLeod"
    await wait_until(lambda: events)
    assert events[0]["event"] == "contact.created"
    assert events[0]["data"]["id"] == created["id"]
    assert events[0]["seq"] == 1
