"""Orders: the row mapper, reading, and the changes (placed, amended, moved along the order states of
app.domain.order_states). Each change runs in a Tx (app.store.transactions) and emits its event there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.engine import Connection

from app.domain.errors import NotFoundError
from app.domain.order_states import OrderStatus, check_customer_change, next_status
from app.domain.validation import total_pence
from app.store.contacts import contact_entity, contact_row, refuse_merged
from app.store.rows import check_version, history_of, page
from app.store.schema import contacts, orders
from app.store.transactions import Tx, seq_of


def order_number(n: int) -> str:
    return f"K-{n:04d}"


def order_entity(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "number": m["number"],
        "contact_id": m["contact_id"],
        "status": m["status"],
        "items": list(m["items"]),
        "notes": m["notes"],
        "total_pence": m["total_pence"],
        "version": m["version"],
        "placed_at": m["placed_at"],
        "updated_at": m["updated_at"],
        "updated_by": m["updated_by"],
    }


def order_row(conn: Connection, order_id: int, lock: bool = False) -> Any:
    """The order's row (locked for this transaction with lock, where the database has row locks)."""
    query = select(orders).where(orders.c.id == order_id)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"There is no order with id {order_id}.", {"id": order_id})
    return row


def orders_query(statuses: list[str] | None, q: str | None, contact_id: int | None) -> Select[Any]:
    query = select(orders)
    if statuses:
        query = query.where(orders.c.status.in_(statuses))
    if contact_id is not None:
        query = query.where(orders.c.contact_id == contact_id)
    if q:
        needle = q.lower()
        by_name = select(contacts.c.id).where(func.lower(contacts.c.name).contains(needle, autoescape=True))
        query = query.where(
            or_(func.lower(orders.c.number).contains(needle, autoescape=True),
                func.lower(orders.c.notes).contains(needle, autoescape=True),
                orders.c.contact_id.in_(by_name))
        )
    return query


def list_orders(
    conn: Connection, statuses: list[str] | None, q: str | None, contact_id: int | None, limit: int,
    cursor: int | None,
) -> dict[str, Any]:
    seq = seq_of(conn)
    rows, next_cursor = page(conn, orders_query(statuses, q, contact_id), orders.c.id, limit, cursor)
    return {"items": [order_entity(r) for r in rows], "seq": seq, "next_cursor": next_cursor}


def get_order(conn: Connection, order_id: int) -> dict[str, Any]:
    entity = order_entity(order_row(conn, order_id))
    entity["contact"] = contact_entity(contact_row(conn, entity["contact_id"]))
    entity["history"] = history_of(conn, "order", order_id)
    entity["seq"] = seq_of(conn)
    return entity


def place_order(tx: Tx, contact_id: int, items: list[dict[str, Any]], notes: str) -> dict[str, Any]:
    refuse_merged(contact_entity(contact_row(tx.conn, contact_id)), "contact_id")
    number = order_number(tx.next_counter("order_number"))
    result = tx.conn.execute(
        orders.insert().values(
            number=number, contact_id=contact_id, status=OrderStatus.PENDING.value, items=items,
            notes=notes, total_pence=total_pence(items), version=1, placed_at=tx.at, updated_at=tx.at,
            updated_by=tx.actor,
        ).returning(*orders.c)
    )
    entity = order_entity(result.one())
    tx.emit("order.placed", "order", entity, "placed",
            {"items": [None, items], "notes": [None, notes], "status": [None, "pending"]})
    return entity


def amend_order(tx: Tx, order_id: int, version: int, fields: dict[str, Any]) -> dict[str, Any]:
    current = order_entity(order_row(tx.conn, order_id, lock=True))
    check_customer_change(current["number"], OrderStatus(current["status"]), "changed")
    check_version("Order", current["number"], current, version)
    changes = {k: [current[k], v] for k, v in fields.items() if current[k] != v}
    if not changes:
        return current
    values = dict(fields)
    if "items" in fields:
        values["total_pence"] = total_pence(fields["items"])
    return write_order(tx, current, version, values, "order.amended", "amended", changes)


def move_order(tx: Tx, order_id: int, version: int, action: str) -> dict[str, Any]:
    current = order_entity(order_row(tx.conn, order_id, lock=True))
    target, event = next_status(current["number"], OrderStatus(current["status"]), action)
    check_version("Order", current["number"], current, version)
    return write_order(
        tx, current, version, {"status": target.value}, event, event.split(".", 1)[1],
        {"status": [current["status"], target.value]},
    )


def write_order(
    tx: Tx, current: dict[str, Any], version: int, values: dict[str, Any], event: str,
    action: str, changes: dict[str, Any],
) -> dict[str, Any]:
    """Write values over the order at version (checked by the caller) and emit event with changes."""
    result = tx.conn.execute(
        update(orders)
        .where(and_(orders.c.id == current["id"], orders.c.version == version))
        .values(**values, version=version + 1, updated_at=tx.at, updated_by=tx.actor)
        .returning(*orders.c)
    )
    entity = order_entity(result.one())
    tx.emit(event, "order", entity, action, changes)
    return entity
