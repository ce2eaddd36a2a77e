"""The workshop presenter without a display, against the real service: selection stays on the acted-on
order, a move is held for Undo and cannot be made twice, Undo sends nothing, the hint counts live."""

from __future__ import annotations

import asyncio
from typing import Any

from app.client.presenters.workshop import WorkshopPresenter
from app.client.role_session import RoleSession
from app.client.shop_client import ShopClient
from tests.support import wait_until

KILT = {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000}


async def place(client: ShopClient, name: str) -> dict[str, Any]:
    contact = await client.call("contacts.create", {"name": name})
    result: dict[str, Any] = await client.call("orders.place", {"contact_id": contact["id"], "items": [KILT]})
    return result


async def board(client: ShopClient, hold_s: float) -> WorkshopPresenter:
    session = RoleSession(client, "workshop")
    await session.start()
    return WorkshopPresenter(session, hold_s=hold_s)


async def test_a_move_is_held_once_sent_once_and_the_selection_stays(client: ShopClient) -> None:
    first = await place(client, "Morag MacLeod")
    second = await place(client, "Hamish Grant")
    presenter = await board(client, hold_s=0.2)
    changes: list[str] = []
    presenter.changed = lambda: changes.append("changed")
    assert presenter.open_count_text() == "2 open orders on the board."
    assert not presenter.can("start")  # nothing selected

    presenter.select(first["id"])
    assert presenter.can("start") and not presenter.can("complete")
    move = presenter.act("start")
    assert move is not None
    assert presenter.undo_text == "Starting work on order K-0001 for Morag MacLeod in a few seconds."
    assert presenter.act("start") is None  # a second press while it is held does nothing
    assert not presenter.can("start")
    await wait_until(lambda: presenter.session.orders.items[first["id"]]["status"] == "in_progress")
    await wait_until(lambda: presenter.undo_text is None)
    assert presenter.current_id == first["id"]  # still on the order he acted on
    assert presenter.can("complete")
    assert presenter.act("start") is None  # Start again cannot reach another customer's order
    assert (await client.call("orders.get", {"id": second["id"]}))["status"] == "pending"
    assert changes


async def test_undo_sends_nothing(client: ShopClient) -> None:
    placed = await place(client, "Morag MacLeod")
    presenter = await board(client, hold_s=0.3)
    presenter.select(placed["id"])
    presenter.act("start")
    assert presenter.can_undo
    undone = presenter.undo()
    assert undone is not None and undone.order_id == placed["id"]
    assert presenter.undo_text is None and presenter.undo() is None
    await asyncio.sleep(0.6)  # past the hold
    assert (await client.call("orders.get", {"id": placed["id"]}))["status"] == "pending"
    assert presenter.current_id == placed["id"] and presenter.can("start")


async def test_an_order_leaving_the_board_is_named_and_nothing_else_is_selected(client: ShopClient) -> None:
    placed = await place(client, "Morag MacLeod")
    await place(client, "Hamish Grant")
    presenter = await board(client, hold_s=5)
    presenter.select(placed["id"])
    await client.call("orders.cancel", {"id": placed["id"], "version": placed["version"]})
    session = presenter.session
    await wait_until(lambda: placed["id"] not in session.orders.items)
    presenter.order_left(placed["id"])
    assert presenter.current_id is None and presenter.gone_number == placed["number"]
    assert presenter.open_count_text() == "1 open order on the board."  # counted now, not remembered


async def test_held_moves_are_sent_when_the_window_closes(client: ShopClient) -> None:
    placed = await place(client, "Morag MacLeod")
    presenter = await board(client, hold_s=60)
    presenter.select(placed["id"])
    presenter.act("start")
    await presenter.moves.flush()
    assert (await client.call("orders.get", {"id": placed["id"]}))["status"] == "in_progress"
