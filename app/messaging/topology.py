"""Declaring the contract's exchanges and queues (durable; idempotent, so every process may do it), and the
service-internal relay wake (transient)."""

from __future__ import annotations

from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from app.contract import Names


async def declare_exchanges(channel: AbstractChannel, names: Names) -> dict[str, AbstractExchange]:
    return {
        "rpc": await channel.declare_exchange(names.rpc_exchange, ExchangeType.TOPIC, durable=True),
        "events": await channel.declare_exchange(names.events_exchange, ExchangeType.TOPIC, durable=True),
        "dead": await channel.declare_exchange(names.dead_exchange, ExchangeType.TOPIC, durable=True),
    }


async def declare_service_queues(channel: AbstractChannel, names: Names) -> dict[str, AbstractQueue]:
    """The service's call queues, bound as the contract says, and the dead-letter queue."""
    exchanges = await declare_exchanges(channel, names)
    queues: dict[str, AbstractQueue] = {}
    for queue_name, binding in names.rpc_bindings().items():
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchanges["rpc"], binding)
        queues[queue_name] = queue
    dead = await channel.declare_queue(names.dead_queue, durable=True)
    await dead.bind(exchanges["dead"], "#")
    queues[names.dead_queue] = dead
    return queues


RELAY_WAKE_QUEUE_ARGUMENTS: dict[str, Any] = {
    "x-max-length": 1,  # one waiting ring says all that a hundred would
    "x-expires": 60_000,  # a queue left without its consumer (a process that died before consuming) goes
}


async def declare_relay_wake(
    channel: AbstractChannel, names: Names, token: str
) -> tuple[AbstractExchange, AbstractQueue]:
    """Service-internal: the `<ns>.relay` fanout exchange that wakes every service process's outbox relay, and
    this process's queue on it, `<ns>.relay.<token>`. Clients have no rights on either (app/provisioning.py).

    Neither is durable: a ring matters only to relays running now, and the robust channel declares both again
    after a broker restart. The queue is auto-delete rather than exclusive so that, after a reconnect, declaring
    it again cannot fail while the broker still holds the old connection's claim on it."""
    exchange = await channel.declare_exchange(names.relay_exchange, ExchangeType.FANOUT, durable=False)
    queue = await channel.declare_queue(f"{names.relay_exchange}.{token}", durable=False, auto_delete=True,
                                        arguments=RELAY_WAKE_QUEUE_ARGUMENTS)
    await queue.bind(exchange)
    return exchange, queue
