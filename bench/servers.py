"""Reference servers for the call benchmark, each as its own process like the shop service:

    python bench/servers.py echo URL QUEUE      # bare aio-pika request/reply echo: the floor
    python bench/servers.py pattern URL NAME    # aio-pika's own patterns.JsonRPC (JSON, never pickle)

Both answer a JSON body with the same body. They print "ready" once consuming."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.patterns import JsonRPC


async def echo(url: str, queue_name: str) -> None:
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=32)
    queue = await channel.declare_queue(queue_name, auto_delete=True)

    async def on_message(message: AbstractIncomingMessage) -> None:
        await channel.default_exchange.publish(
            aio_pika.Message(message.body, content_type="application/json", correlation_id=message.correlation_id),
            routing_key=message.reply_to or "",
        )
        await message.ack()

    await queue.consume(on_message)
    await _serve(connection)


async def pattern(url: str, name: str) -> None:
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=32)
    rpc = await JsonRPC.create(channel)

    async def handle(**kwargs: Any) -> Any:
        return kwargs

    await rpc.register(name, handle, auto_delete=True)
    await _serve(connection)


async def _serve(connection: aio_pika.abc.AbstractConnection) -> None:
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await connection.close()


if __name__ == "__main__":
    kind, url, name = sys.argv[1:4]
    asyncio.run(echo(url, name) if kind == "echo" else pattern(url, name))
