"""Notices a person must not miss (a kilt ready for collection), from a durable queue of their own.

The queue is named per user and role, so events that arrive while the app is closed wait there and are
shown on next start; one abandoned for 30 days is removed by the broker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.client.shop_client import ShopClient
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


class NoticeFeed:
    """Hands each notice once to `show`, in order, acknowledging it on the queue only after it was shown."""

    def __init__(self, client: ShopClient, role: str, contact_name: Callable[[int], str | None],
                 show: Callable[[Notice], None]) -> None:
        self.client = client
        self.role = role
        self.contact_name = contact_name
        self.show = show
        self.seen: set[int] = set()

    @property
    def queue_name(self) -> str:
        return notice_queue_name(self.client.names.namespace, self.client.user, self.role)

    async def start(self) -> None:
        await self.client.subscribe(self._on_event, NOTICE_EVENTS[self.role], queue_name=self.queue_name,
                                    expires_ms=QUEUE_EXPIRES_MS, prefetch=50)

    async def _on_event(self, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        if seq in self.seen:
            return  # redelivered after a reconnect
        contact_id = int(event["data"]["contact_id"])
        name = self.contact_name(contact_id)
        if name is None:  # a customer this window has not heard of yet (say, added while it was offline)
            try:
                name = (await self.client.call("contacts.get", {"id": contact_id}))["name"]
            except Exception:
                name = f"customer {contact_id}"
        self.seen.add(seq)
        self.show(describe(event, lambda _id: name or ""))
