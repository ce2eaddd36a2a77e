"""Is the shop service answering? A cheap call every few seconds, apart from the broker's own state.

The broker can be up while the service is stopped (or stuck): then every window's "Connected" is true and
useless, and a save would wait for a timeout. ServiceHealth pings (contacts.list, limit 1) and tells its
listeners when the answer changes, in words for people. No Qt: the windows show what it says."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from app.client.shop_client import CallError, ConnectionState, ServiceUnavailable, ShopClient

log = logging.getLogger(__name__)

PING_INTERVAL_S = 3.0
PING_TIMEOUT_S = 2.0

NOT_ANSWERING_TEXT = (
    "The shop service is not answering; your change is kept and will be sent when it is back."
)
NOT_ANSWERING_BANNER = (
    "The shop service is not answering. What you change here is kept and sent when it is back; "
    "if this lasts, ask whoever looks after the shop computer to start the shop service."
)


class Health(StrEnum):
    UNKNOWN = "unknown"  # not asked yet, or the broker itself is down (its own indicator says so)
    ANSWERING = "answering"
    NOT_ANSWERING = "not_answering"


HEALTH_TEXT = {
    Health.UNKNOWN: "",
    Health.ANSWERING: "● Shop service answering",
    Health.NOT_ANSWERING: "● Shop service not answering",
}


class ServiceHealth:
    """Pings the service every `interval` seconds while the broker is connected."""

    def __init__(self, client: ShopClient, interval: float = PING_INTERVAL_S,
                 timeout: float = PING_TIMEOUT_S) -> None:
        self.client = client
        self.interval = interval
        self.timeout = timeout
        self.state = Health.UNKNOWN
        self.last_answer_ms: float | None = None
        self._listeners: list[Callable[[Health], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def on_change(self, listener: Callable[[Health], None]) -> None:
        self._listeners.append(listener)

    @property
    def text(self) -> str:
        return HEALTH_TEXT[self.state]

    @property
    def banner(self) -> str | None:
        return NOT_ANSWERING_BANNER if self.state == Health.NOT_ANSWERING else None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_event_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def check_soon(self) -> None:
        """Ask now rather than at the next tick (say, after a call of ours got no answer)."""
        self._wake.set()

    def call_failed(self, exc: BaseException) -> None:
        """A real call got no answer from the service: say so at once, and confirm with a ping."""
        if isinstance(exc, ServiceUnavailable) and self.client.state == ConnectionState.CONNECTED:
            self._set(Health.NOT_ANSWERING)
            self.check_soon()

    async def check(self) -> Health:
        """One ping; returns (and records) what it found."""
        if self.client.state != ConnectionState.CONNECTED:
            self._set(Health.UNKNOWN)
            return self.state
        started = time.perf_counter()
        try:
            await self.client.call("contacts.list", {"limit": 1}, timeout=self.timeout)
        except ServiceUnavailable:
            # No answer, or the broker dropped under us: only the first is the service's fault.
            self._set(Health.NOT_ANSWERING if self.client.state == ConnectionState.CONNECTED else Health.UNKNOWN)
        except CallError:
            self.last_answer_ms = (time.perf_counter() - started) * 1000
            self._set(Health.ANSWERING)  # it answered, even if with a refusal
        else:
            self.last_answer_ms = (time.perf_counter() - started) * 1000
            self._set(Health.ANSWERING)
        return self.state

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:  # never let the watcher die: it is what tells people
                log.info("health check failed: %r", exc)
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())  # a task, so a cancel never leaves it unawaited
            try:
                await asyncio.wait({waiter}, timeout=self.interval)
            finally:
                waiter.cancel()

    def _set(self, state: Health) -> None:
        if state == self.state:
            return
        self.state = state
        for listener in list(self._listeners):
            listener(state)
