"""Pickups and billing: completed orders waiting for collection (pickups.list) and what to bill
(pickups.billing), every ready (completed) or collected order with its items, amount and the day it became
ready, and the totals per day. The billing side needs no other record.

An order's ready time is the time of its `completed` history entry; its collected time that of its
`collected` entry. Days are the shop's local days (YYYY-MM-DD in its time zone) of the ready time: the SQL
works in UTC minutes (portable, and an exact bound for any local day), app.domain.billing turns them into
local days.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.engine import Connection

from app.domain.billing import MINUTE_CHARS, local_range, per_local_day
from app.domain.order_states import OrderStatus
from app.store.orders import order_entity
from app.store.rows import page
from app.store.schema import contacts, history, orders
from app.store.transactions import seq_of

BILLED_STATUSES = (OrderStatus.COMPLETED.value, OrderStatus.COLLECTED.value)
READY = OrderStatus.COMPLETED.value


def pickup_entity(row: Any) -> dict[str, Any]:
    """An order with where to collect it and what to bill, from a row joined with its contact's c_* columns."""
    entity = order_entity(row)
    m = row._mapping
    entity["contact"] = {
        "id": entity["contact_id"], "name": m["c_name"], "address": m["c_address"],
        "phone": m["c_phone"], "email": m["c_email"],
    }
    entity["amount_due_pence"] = entity["total_pence"]
    return entity


def _with_contact(*columns: Any) -> Select[Any]:
    return select(
        orders, *columns, contacts.c.name.label("c_name"), contacts.c.address.label("c_address"),
        contacts.c.phone.label("c_phone"), contacts.c.email.label("c_email"),
    ).join(contacts, contacts.c.id == orders.c.contact_id)


def list_pickups(conn: Connection, limit: int, cursor: int | None, zone: ZoneInfo) -> dict[str, Any]:
    """Completed orders waiting for collection, each with where to collect and what to bill; per day in the
    shop's time zone `zone`."""
    query = _with_contact().where(orders.c.status == READY)
    seq = seq_of(conn)
    rows, next_cursor = page(conn, query, orders.c.id, limit, cursor)
    count, due = conn.execute(
        select(func.count(), func.coalesce(func.sum(orders.c.total_pence), 0)).where(orders.c.status == READY)
    ).one()
    # Per local day the orders became ready (a completed order's last change is its completion): summed per UTC
    # minute in SQL, then into the shop's days.
    ready_minute = func.substr(orders.c.updated_at, 1, MINUTE_CHARS)
    days = per_local_day(((minute, n, total) for minute, n, total in conn.execute(
        select(ready_minute, func.count(), func.coalesce(func.sum(orders.c.total_pence), 0))
        .where(orders.c.status == READY)
        .group_by(ready_minute)
    )), zone)
    return {
        "items": [pickup_entity(row) for row in rows], "seq": seq, "next_cursor": next_cursor,
        "count": int(count), "total_due_pence": int(due),  # over every page, not just this one
        "days": days,
    }


def _moment(action: str) -> Any:
    """order id -> the time of its first history entry with this action."""
    return (
        select(history.c.entity_id.label("order_id"), func.min(history.c.at).label("at"))
        .where(and_(history.c.entity == "order", history.c.action == action))
        .group_by(history.c.entity_id)
        .subquery()
    )


def billing_summary(
    conn: Connection, since: str | None, until: str | None, limit: int, cursor: int | None, zone: ZoneInfo
) -> dict[str, Any]:
    """Ready and collected orders whose ready day (the shop's local day) is in [since, until], one page in
    ascending id order, and count, total and per-day totals over every matching order, all in one snapshot
    with seq."""
    ready = _moment(OrderStatus.COMPLETED.value)
    collected = _moment(OrderStatus.COLLECTED.value)
    ready_minute = func.substr(ready.c.at, 1, MINUTE_CHARS)
    query = (
        _with_contact(ready.c.at.label("ready_at"), collected.c.at.label("collected_at"))
        .join(ready, ready.c.order_id == orders.c.id)
        .outerjoin(collected, collected.c.order_id == orders.c.id)
        .where(orders.c.status.in_(BILLED_STATUSES))
    )
    start, end = local_range(since, until, zone)
    if start is not None:
        query = query.where(ready_minute >= start)
    if end is not None:
        query = query.where(ready_minute < end)
    totals = query.with_only_columns(
        ready_minute.label("minute"), func.count().label("n"), func.coalesce(func.sum(orders.c.total_pence), 0)
        .label("total"), maintain_column_froms=True,
    ).group_by(ready_minute)

    seq = seq_of(conn)
    rows, next_cursor = page(conn, query, orders.c.id, limit, cursor)
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
