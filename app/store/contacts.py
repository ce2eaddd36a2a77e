"""Contacts: the row mapper, reading and the two changes (created, updated). Each change runs in a Tx
(app.store.transactions) and emits its event there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from app.domain.errors import InvalidError, NotFoundError
from app.domain.validation import MEASUREMENT_FIELDS
from app.store.rows import check_version, history_of, page
from app.store.schema import contacts
from app.store.transactions import Tx, seq_of


def contact_entity(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "name": m["name"],
        "email": m["email"],
        "phone": m["phone"],
        "address": m["address"],
        "measurements": {name: m[name] for name in MEASUREMENT_FIELDS},
        "notes": m["notes"],
        "version": m["version"],
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
        "updated_by": m["updated_by"],
        "merged_into": m["merged_into"],
    }


def contact_columns(fields: dict[str, Any]) -> dict[str, Any]:
    """A contact's fields as its table's columns (the measurements are columns of their own)."""
    values = {k: v for k, v in fields.items() if k != "measurements"}
    if "measurements" in fields:
        values.update(fields["measurements"])
    return values


def contact_row(conn: Connection, contact_id: int, lock: bool = False) -> Any:
    """The contact's row (locked for this transaction with lock, where the database has row locks)."""
    query = select(contacts).where(contacts.c.id == contact_id)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"There is no contact with id {contact_id}.", {"id": contact_id})
    return row


def refuse_merged(contact: dict[str, Any], field: str) -> None:
    """A contact merged into another is kept for its history but takes no changes and no orders."""
    if contact.get("merged_into"):
        raise InvalidError(
            f"Contact {contact['id']} ({contact['name']}) was merged into contact {contact['merged_into']}; "
            f"use contact {contact['merged_into']} instead.",
            field=field, details={"merged_into": contact["merged_into"]},
        )


def list_contacts(conn: Connection, q: str | None, limit: int, cursor: int | None, merged: bool) -> dict[str, Any]:
    query = select(contacts) if merged else select(contacts).where(contacts.c.merged_into.is_(None))
    if q:
        needle = q.lower()
        query = query.where(
            or_(*(func.lower(col).contains(needle, autoescape=True) for col in
                  (contacts.c.name, contacts.c.email, contacts.c.phone, contacts.c.address)))
        )
    seq = seq_of(conn)
    items, next_cursor = page(conn, query, contacts.c.id, limit, cursor)
    return {"items": [contact_entity(r) for r in items], "seq": seq, "next_cursor": next_cursor}


def get_contact(conn: Connection, contact_id: int) -> dict[str, Any]:
    entity = contact_entity(contact_row(conn, contact_id))
    entity["history"] = history_of(conn, "contact", contact_id)
    entity["seq"] = seq_of(conn)
    return entity


def create_contact(tx: Tx, fields: dict[str, Any]) -> dict[str, Any]:
    values = {
        "name": "", "email": "", "phone": "", "address": "", "notes": "",
        **dict.fromkeys(MEASUREMENT_FIELDS),
        **contact_columns(fields),
    }
    result = tx.conn.execute(
        contacts.insert().values(
            **values, version=1, created_at=tx.at, updated_at=tx.at, updated_by=tx.actor
        ).returning(*contacts.c)
    )
    entity = contact_entity(result.one())
    tx.emit("contact.created", "contact", entity, "created", {k: [None, v] for k, v in fields.items()})
    return entity


def update_contact(tx: Tx, contact_id: int, version: int, fields: dict[str, Any]) -> dict[str, Any]:
    current = contact_entity(contact_row(tx.conn, contact_id, lock=True))
    refuse_merged(current, "id")
    check_version("Contact", current["name"], current, version)
    changes = {k: [current[k], v] for k, v in fields.items() if current[k] != v}
    if not changes:
        return current
    result = tx.conn.execute(
        update(contacts)
        .where(and_(contacts.c.id == contact_id, contacts.c.version == version))
        .values(**contact_columns(fields), version=version + 1, updated_at=tx.at, updated_by=tx.actor)
        .returning(*contacts.c)
    )
    entity = contact_entity(result.one())
    tx.emit("contact.updated", "contact", entity, "updated", changes)
    return entity
