"""Declaring the contract's exchanges and queues (all durable; idempotent, so every process may do it)."""

from __future__ import annotations

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
