"""pickups.billing as a function of the store, for callers written before the store was split; the query
lives in app.store.pickups (ShopStore.billing_summary)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from app.store.pickups import BILLED_STATUSES
from app.store.shop_store import ShopStore

__all__ = ["BILLED_STATUSES", "billing_summary"]


async def billing_summary(
    store: ShopStore, since: str | None, until: str | None, limit: int, cursor: int | None, zone: ZoneInfo
) -> dict[str, Any]:
    return await store.billing_summary(since, until, limit, cursor, zone)
