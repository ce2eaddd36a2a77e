"""Local copies of contacts and orders kept exactly current: a snapshot, then every event above its seq.

Rules (docs/contract.md, "Following the shop"): subscribe first, then load the snapshot; apply events in
seq order; a seq already seen is a duplicate and ignored; a jump in seq means events were lost (say, during
a reconnect), so reload. Per entity, an event only ever moves it to a higher version. Knows no Qt: windows
listen to the Mirror callbacks and touch one row per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.client.shop_client import ShopClient

log = logging.getLogger(__name__)

Entity = dict[str, Any]


@dataclass
class MirrorListener:
    reset: Callable[[], None] | None = None
    upsert: Callable[[Entity, Entity | None, dict[str, Any] | None], None] | None = None
    remove: Callable[[int], None] | None = None


@dataclass
class Mirror:
    """The entities of one kind that pass `include`, by id."""

    kind: str  # "contact" or "order": the first part of its events' names
    list_method: str
    list_params: dict[str, Any] = field(default_factory=dict)
    include: Callable[[Entity], bool] = lambda _entity: True
    items: dict[int, Entity] = field(default_factory=dict)
    listeners: list[MirrorListener] = field(default_factory=list)
    loaded: bool = False

    def listen(self, listener: MirrorListener) -> None:
        self.listeners.append(listener)

    def unlisten(self, listener: MirrorListener) -> None:
        """Stop telling this listener (say, a dialog that closes before its window does)."""
        self.listeners = [held for held in self.listeners if held is not listener]

    def load(self, items: list[Entity]) -> None:
        self.items = {item["id"]: item for item in items if self.include(item)}
        self.loaded = True
        for listener in self.listeners:
            if listener.reset:
                listener.reset()

    def apply(self, entity: Entity, event: dict[str, Any] | None = None) -> bool:
        """Take a newer version of an entity; returns False when it changed nothing."""
        held = self.items.get(entity["id"])
        if held is not None and held.get("version", 0) >= entity.get("version", 0):
            return False
        if not self.include(entity):
            if held is None:
                return False
            del self.items[entity["id"]]
            for listener in self.listeners:
                if listener.remove:
                    listener.remove(entity["id"])
            return True
        self.items[entity["id"]] = entity
        for listener in self.listeners:
            if listener.upsert:
                listener.upsert(entity, held, event)
        return True


class LiveShop:
    """Keeps a set of mirrors current from one event subscription."""

    def __init__(self, client: ShopClient, mirrors: list[Mirror]) -> None:
        self.client = client
        self.mirrors = {m.kind: m for m in mirrors}
        self.seq = 0  # every event up to here is applied
        self.resyncs = 0
        self._syncing = False
        self._buffer: list[dict[str, Any]] = []
        self._resync_task: asyncio.Task[None] | None = None
        self._resync_wanted = False
        self.progress: Callable[[str, int], None] | None = None
        self.synced: Callable[[], None] | None = None
        self.failed: Callable[[BaseException], None] | None = None

    async def start(self) -> None:
        # Subscribe before loading, so every event after the snapshot reaches us.
        await self.client.subscribe(self._on_event)
        self.client.on_reconnect(self.request_resync)
        await self.resync()

    def request_resync(self) -> None:
        # A request while a resync runs (a gap found replaying its buffer) makes it go round once more.
        self._resync_wanted = True
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.get_running_loop().create_task(self._resync_quietly())

    async def _resync_quietly(self) -> None:
        while self._resync_wanted:
            self._resync_wanted = False
            try:
                await self.resync()
            except Exception as exc:  # offline again: the next reconnect asks once more
                log.info("resync failed: %s", exc)
                if self.failed:
                    self.failed(exc)
                return

    async def resync(self) -> None:
        self._syncing = True
        self._buffer = []
        try:
            base: int | None = None
            for mirror in self.mirrors.values():
                items, seq = await self.client.list_all(
                    mirror.list_method, mirror.list_params, progress=self._progress_for(mirror.kind)
                )
                mirror.load(items)
                base = seq if base is None else min(base, seq)
            self.seq = base or 0
            buffered, self._buffer = self._buffer, []
            self._syncing = False
            for event in sorted(buffered, key=lambda e: e["seq"]):
                self._take(event)
        finally:
            self._syncing = False
        self.resyncs += 1
        if self.synced:
            self.synced()

    def _progress_for(self, kind: str) -> Callable[[int], None] | None:
        report = self.progress
        if report is None:
            return None
        return lambda count: report(kind, count)

    def _on_event(self, event: dict[str, Any]) -> None:
        if self._syncing:
            self._buffer.append(event)
            return
        self._take(event)

    def _take(self, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        if seq <= self.seq:
            return  # a duplicate, or already in the snapshot
        if seq > self.seq + 1:
            log.info("events %d..%d are missing; reloading", self.seq + 1, seq - 1)
            self.request_resync()
            return
        self.seq = seq
        mirror = self.mirrors.get(str(event["event"]).split(".", 1)[0])
        if mirror is not None:
            mirror.apply(event["data"], event)
