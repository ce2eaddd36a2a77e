"""What to bill: every ready (completed) or collected order, with its items, amount and the day it became
ready, and the totals per day, for pickups.billing. The billing side needs no other record.

An order's ready time is the time of its `completed` history entry; its collected time that of its
`collected` entry. Days are the shop's local days (YYYY-MM-DD in its time zone) of the ready time: the SQL
works in UTC minutes (portable, and an exact bound for any local day), Python turns them into local days.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.engine import Connection

from app.domain.billing import MINUTE_CHARS, local_range, per_local_day
from app.domain.order_states import OrderStatus
from app.store.schema import contacts, history, orders
from app.store.shop_store import ShopStore, _page, pickup_entity, seq_of

BILLED_STATUSES = (OrderStatus.COMPLETED.value, OrderStatus.COLLECTED.value)


def _moment(action: str) -> Any:
    """order id -> the time of its first history entry with this action."""
    return (
        select(history.c.entity_id.label("order_id"), func.min(history.c.at).label("at"))
        .where(and_(history.c.entity == "order", history.c.action == action))
        .group_by(history.c.entity_id)
        .subquery()
    )


def _billed(since: str | None, until: str | None, zone: ZoneInfo) -> tuple[Select[Any], Any, Any]:
    ready = _moment(OrderStatus.COMPLETED.value)
    collected = _moment(OrderStatus.COLLECTED.value)
    ready_minute = func.substr(ready.c.at, 1, MINUTE_CHARS)
    query = (
        select(
            orders, ready.c.at.label("ready_at"), collected.c.at.label("collected_at"),
            contacts.c.name.label("c_name"), contacts.c.address.label("c_address"),
            contacts.c.phone.label("c_phone"), contacts.c.email.label("c_email"),
        )
        .join(contacts, contacts.c.id == orders.c.contact_id)
        .join(ready, ready.c.order_id == orders.c.id)
        .outerjoin(collected, collected.c.order_id == orders.c.id)
        .where(orders.c.status.in_(BILLED_STATUSES))
    )
    start, end = local_range(since, until, zone)
    if start is not None:
        query = query.where(ready_minute >= start)
    if end is not None:
        query = query.where(ready_minute < end)
    return query, ready_minute, ready


async def billing_summary(
    store: ShopStore, since: str | None, until: str | None, limit: int, cursor: int | None, zone: ZoneInfo
) -> dict[str, Any]:
    """Ready and collected orders whose ready day (the shop's local day) is in [since, until], one page in
    ascending id order, and count, total and per-day totals over every matching order, all in one snapshot
    with seq."""
    query, ready_minute, _ready = _billed(since, until, zone)
    totals = query.with_only_columns(
        ready_minute.label("minute"), func.count().label("n"), func.coalesce(func.sum(orders.c.total_pence), 0)
        .label("total"), maintain_column_froms=True,
    ).group_by(ready_minute)

    def run(conn: Connection) -> dict[str, Any]:
        seq = seq_of(conn)
        rows, next_cursor = _page(conn, query, orders.c.id, limit, cursor)
        days = per_local_day(((r.minute, r.n, r.total) for r in conn.execute(totals)), zone)
        items = []
        for row in rows:
            entity = pickup_entity(row)
            m = row._mapping
            entity["ready_at"] = m["ready_at"]
            entity["collected_at"] = m["collected_at"]
            items.append(entity)
        return {
            "items": items, "seq": seq, "next_cursor": next_cursor,
            "count": sum(d["count"] for d in days), "total_due_pence": sum(d["total_due_pence"] for d in days),
            "days": days,
        }

    return await store.run_read(run)
