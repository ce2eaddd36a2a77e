"""Notices a person must not miss (a kilt ready for collection), from a durable queue of their own.

The queue is named per user and role, so events that arrive while the app is closed wait there and are
shown on next start; one abandoned for 30 days is removed by the broker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.client.shop_client import ConnectionState, ShopClient
from app.domain.money import money

QUEUE_EXPIRES_MS = 30 * 24 * 3600 * 1000
NOTICE_EVENTS = {"shipping": ("order.completed",), "workshop": ("order.placed",)}


@dataclass(frozen=True)
class Notice:
    seq: int
    title: str
    text: str
    order_id: int
    at: str


def notice_queue_name(namespace: str, user: str, role: str) -> str:
    safe_user = "".join(c if c.isalnum() or c in "-_" else "_" for c in user)
    return f"{namespace}.notices.{role}.{safe_user}"


def describe(event: dict[str, Any], contact_name: Callable[[int], str]) -> Notice:
    order = event["data"]
    name = contact_name(order["contact_id"])
    if event["event"] == "order.completed":
        title = f"Kilt ready: order {order['number']}"
        due = money(order["total_pence"])
        text = f"Order {order['number']} for {name} is finished and ready to collect ({due} to bill)."
    else:
        title = f"New order {order['number']}"
        text = f"{name} placed order {order['number']} ({money(order['total_pence'])})."
    return Notice(int(event["seq"]), title, text, int(order["id"]), str(event.get("at", "")))


class NoticeHub:
    """One person's notices in this process: their durable queue consumed once, each notice fanned out to every
    open window of theirs, and kept here so a rebuilt view shows the ones it had.

    Two windows each consuming the one queue would split it (RabbitMQ hands each message to one consumer).
    So the first window's connection consumes; when that window goes, another open window's takes over, and
    what the first had not acknowledged comes again (a seq already shown is not shown twice)."""

    KEEP = 200  # notices remembered for a rebuilt view

    def __init__(self, queue_name: str, role: str) -> None:
        self.queue_name = queue_name
        self.role = role
        self.history: list[Notice] = []
        self.seen: set[int] = set()
        self.feeds: list[NoticeFeed] = []
        self.consumer: NoticeFeed | None = None

    async def attach(self, feed: NoticeFeed) -> None:
        # A window whose connection was closed without stop() consumes nothing any more.
        self.feeds = [f for f in self.feeds if f.client.state != ConnectionState.OFFLINE]
        if self.consumer is not None and self.consumer not in self.feeds:
            self.consumer = None
        self.feeds.append(feed)
        if feed.replay:
            for notice in list(self.history):
                feed.show(notice)
        if self.consumer is None:
            await self._consume_with(feed)

    async def detach(self, feed: NoticeFeed) -> None:
        if feed in self.feeds:
            self.feeds.remove(feed)
        if self.consumer is feed:
            self.consumer = None
            if self.feeds:
                await self._consume_with(self.feeds[0])

    async def _consume_with(self, feed: NoticeFeed) -> None:
        self.consumer = feed
        await feed.client.subscribe(lambda event: self._on_event(feed, event), NOTICE_EVENTS[self.role],
                                    queue_name=self.queue_name, expires_ms=QUEUE_EXPIRES_MS, prefetch=50)

    async def _on_event(self, feed: NoticeFeed, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        if seq in self.seen:
            return  # redelivered after a reconnect, or to the window that took over
        contact_id = int(event["data"]["contact_id"])
        name = feed.contact_name(contact_id)
        if name is None:  # a customer this window has not heard of yet (say, added while it was offline)
            try:
                name = (await feed.client.call("contacts.get", {"id": contact_id}))["name"]
            except Exception:
                name = f"customer {contact_id}"
        if seq in self.seen:
            return
        self.seen.add(seq)
        notice = describe(event, lambda _id: name or "")
        self.history.append(notice)
        del self.history[:-self.KEEP]
        for each in list(self.feeds):
            each.show(notice)


_hubs: dict[str, NoticeHub] = {}


def hub_for(queue_name: str, role: str) -> NoticeHub:
    """The process's one hub for a person's notice queue."""
    hub = _hubs.get(queue_name)
    if hub is None:
        hub = _hubs[queue_name] = NoticeHub(queue_name, role)
    return hub


class NoticeFeed:
    """One window's share of its person's notices: each shown once, in order, including those that came
    while no window was open (acknowledged on the queue only after they were handed to the windows)."""

    def __init__(self, client: ShopClient, role: str, contact_name: Callable[[int], str | None],
                 show: Callable[[Notice], None], replay: bool = False) -> None:
        self.client = client
        self.role = role
        self.contact_name = contact_name
        self.show = show
        self.replay = replay  # a window's view (rebuilt on a role switch) shows what this process already had

    @property
    def queue_name(self) -> str:
        return notice_queue_name(self.client.names.namespace, self.client.user, self.role)

    @property
    def hub(self) -> NoticeHub:
        return hub_for(self.queue_name, self.role)

    async def start(self) -> None:
        await self.hub.attach(self)

    async def stop(self) -> None:
        """The window is going: another open window of this person takes over the queue."""
        await self.hub.detach(self)
