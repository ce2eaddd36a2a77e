"""Moving an order on (start, complete, collect) with a few seconds' Undo, and kept when the service is down.

The contract has no reverse moves (an order never goes back from in_progress to pending), so Undo cannot be
"send the opposite". Instead a move is *held* for `hold_s` seconds: the card stays where it is, an undo bar
says what is about to happen, and only when the time is up is it sent. Undo in that time sends nothing.
Closing the window sends what is held at once (the person meant it). A move the service did not answer is
kept and sent again when the service answers (same message_id: the ledger does it once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.client.role_session import RoleSession, friendly_error
from app.client.shop_client import ServiceUnavailable

log = logging.getLogger(__name__)

HOLD_S = 5.0

DONE_WORDS = {"start": "Starting work on", "complete": "Marking as completed", "collect": "Marking as collected"}
NEXT_WORDS = {"start": "started", "complete": "marked completed", "collect": "marked collected"}


@dataclass
class HeldMove:
    order_id: int
    action: str
    number: str
    customer: str
    handle: asyncio.TimerHandle | None = None
    unsent: bool = False  # sent once, the service did not answer: waiting for it to come back

    @property
    def text(self) -> str:
        if self.unsent:
            return (f"Order {self.number} for {self.customer} will be {NEXT_WORDS[self.action]} when the shop "
                    "service answers again.")
        return f"{DONE_WORDS[self.action]} order {self.number} for {self.customer} in a few seconds."


class MoveHolder:
    """The moves a window has made and not yet had confirmed by the shop."""

    def __init__(self, session: RoleSession, hold_s: float = HOLD_S) -> None:
        self.session = session
        self.hold_s = hold_s
        self.held: dict[int, HeldMove] = {}
        self.changed: Callable[[], None] = lambda: None
        self.failed: Callable[[str], None] = lambda _text: None
        self.no_answer: Callable[[BaseException], None] = lambda _exc: None
        self._tasks: set[asyncio.Task[Any]] = set()

    def is_held(self, order_id: int | None) -> bool:
        return order_id is not None and order_id in self.held

    @property
    def latest(self) -> HeldMove | None:
        """What the undo bar shows: the newest move still held."""
        return next(reversed(self.held.values()), None) if self.held else None

    def hold(self, order_id: int, action: str) -> HeldMove:
        order = self.session.orders.items[order_id]
        move = HeldMove(order_id, action, str(order["number"]), self.session.contact_name(order["contact_id"]))
        loop = asyncio.get_event_loop()
        move.handle = loop.call_later(self.hold_s, self._send_later, move)
        self.held[order_id] = move
        self.changed()
        return move

    def undo(self, order_id: int | None = None) -> HeldMove | None:
        """Take back a held move (the newest when no order is named); None when there is nothing to undo."""
        move = self.held.get(order_id) if order_id is not None else self.latest
        if move is None or move.unsent or move.handle is None:
            return None  # unsent ones went out already; the ledger may have done them
        move.handle.cancel()
        del self.held[move.order_id]
        self.changed()
        return move

    def resend_unsent(self) -> None:
        """The service answers again: send what it did not answer before."""
        for move in list(self.held.values()):
            if move.unsent:
                self._spawn(self.send(move))

    async def flush(self) -> None:
        """Send everything held now (the window is closing)."""
        moves = [m for m in self.held.values() if m.handle is not None and not m.unsent]
        for move in moves:
            assert move.handle is not None
            move.handle.cancel()
        await asyncio.gather(*(self.send(m) for m in moves), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    def _send_later(self, move: HeldMove) -> None:
        move.handle = None
        self._spawn(self.send(move))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_event_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, move: HeldMove) -> None:
        move.handle = None
        try:
            await self.session.move_order(move.order_id, move.action)
        except ServiceUnavailable as exc:
            move.unsent = True
            self.no_answer(exc)
            self.changed()
            return
        except Exception as exc:
            self.held.pop(move.order_id, None)
            self.changed()
            self.failed(friendly_error(exc))
            return
        self.held.pop(move.order_id, None)
        self.changed()


class HoldsMoves:
    """What a presenter that holds moves for Undo offers its view (the workshop's and shipping's)."""

    moves: MoveHolder

    @property
    def undo_text(self) -> str | None:
        move = self.moves.latest
        return move.text if move is not None else None

    @property
    def can_undo(self) -> bool:
        move = self.moves.latest
        return move is not None and not move.unsent
