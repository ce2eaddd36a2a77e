"""Running a long-lived process (the service, the notifier) until SIGINT or SIGTERM, then stopping it
gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_until_signalled(start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]],
                              finishing: str) -> None:
    """start(), wait for SIGINT/SIGTERM, then stop(); `finishing` says what stop() waits for, for the log."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await start()
    try:
        await stopping.wait()
    finally:
        log.info("shutting down: %s", finishing)
        await stop()
