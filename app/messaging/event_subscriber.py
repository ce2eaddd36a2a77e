"""Subscribing to events: a queue bound to the events exchange, each event handed over as a dict.

Two kinds of queue: a private, exclusive one for windows that mirror state (they resync from a snapshot
after a reconnect), and a durable named one for things a person must not miss (it keeps events while
nobody listens)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from app.contract import Names
from app.messaging.wire import loads

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


async def subscribe(
    channel: AbstractChannel,
    names: Names,
    keys: Iterable[str],
    handler: EventHandler,
    *,
    login: str,
    queue_name: str | None = None,
    expires_ms: int | None = None,
) -> AbstractQueue:
    """Bind a queue to the given event keys and hand every event to handler.

    With queue_name the queue is durable and outlives us (expiring after expires_ms unused); an
    event is acknowledged only after handler has returned. Without it the queue is exclusive, named
    `<ns>.client.<login>.<token>` for the connection's login (the only event queues the broker lets it use).
    """
    exchange = await channel.get_exchange(names.events_exchange, ensure=False)
    if queue_name:
        arguments: Any = {"x-expires": expires_ms} if expires_ms else None
        queue = await channel.declare_queue(queue_name, durable=True, arguments=arguments)
    else:
        queue = await channel.declare_queue(
            names.client_queue(login, uuid.uuid4().hex), exclusive=True, auto_delete=True
        )
    for key in keys:
        await queue.bind(exchange, key)

    # aio-pika runs each delivery's callback as a task of its own: a handler that awaits (a notice looking up a
    # customer's name) would let the next event overtake it. One at a time, in delivery order.
    in_order = asyncio.Lock()

    async def on_message(message: AbstractIncomingMessage) -> None:
        async with in_order:
            await _handle(message)

    async def _handle(message: AbstractIncomingMessage) -> None:
        try:
            event = loads(message.body)
            if not isinstance(event, dict) or "seq" not in event or "event" not in event:
                raise ValueError("not an event envelope")
        except ValueError as exc:
            log.warning("ignoring an unreadable event: %s", exc)
            await message.reject(requeue=False)
            return
        result = handler(event)
        if result is not None:
            await result
        await message.ack()

    await queue.consume(on_message)
    return queue
