"""Possible duplicates and merging contacts: the review queue the importer fills and the sales window works.

A pair is two contacts that are probably one person (first_id < second_id), queued once (`duplicate.queued`)
and resolved once: kept apart (`duplicate.resolved`, status kept_apart) or merged. Merging moves every
order of the merged contact to the one that stays (`order.moved` each), gives that one the chosen values
(`contact.updated`) and marks the other as merged into it (`contact.merged`, `merged_into` set): it stays
readable with its history but leaves every list. Every change, its history row and its event commit together
(app/store/transactions.py Tx).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection

from app.domain.errors import ConflictError, InvalidError, NotFoundError
from app.store.contacts import contact_columns, contact_entity, refuse_merged
from app.store.database import is_sqlite
from app.store.orders import order_entity
from app.store.rows import check_version, page
from app.store.schema import contacts, duplicates, orders
from app.store.transactions import Transactions, Tx, seq_of

STATUSES = ("open", "kept_apart", "merged")
LIST_STATUSES = (*STATUSES, "all")


def duplicate_entity(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "first_id": m["first_id"],
        "second_id": m["second_id"],
        "score": m["score"],
        "reason": m["reason"],
        "status": m["status"],
        "version": m["version"],
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
        "updated_by": m["updated_by"],
    }


class DuplicateStore:
    """The duplicates queue and contacts.merge, on the shop's store (its transactions and outbox)."""

    def __init__(self, store: Transactions) -> None:
        self.store = store

    def _locking(self) -> bool:
        return not is_sqlite(str(self.store.engine.url))

    def _contact(self, tx: Tx, contact_id: int) -> dict[str, Any]:
        query = select(contacts).where(contacts.c.id == contact_id)
        if self._locking():
            query = query.with_for_update()
        row = (tx.conn.execute(query)).first()
        if row is None:
            raise NotFoundError(f"There is no contact with id {contact_id}.", {"id": contact_id})
        return contact_entity(row)

    def _pair_row(self, tx: Tx, pair_id: int) -> dict[str, Any]:
        query = select(duplicates).where(duplicates.c.id == pair_id)
        if self._locking():
            query = query.with_for_update()
        row = (tx.conn.execute(query)).first()
        if row is None:
            raise NotFoundError(f"There is no possible-duplicate pair with id {pair_id}.", {"id": pair_id})
        return duplicate_entity(row)

    # -- reading ------------------------------------------------------------------------------------

    async def list_pairs(self, status: str, limit: int, cursor: int | None) -> dict[str, Any]:
        query = select(duplicates)
        if status != "all":
            query = query.where(duplicates.c.status == status)

        def run(conn: Connection) -> dict[str, Any]:
            seq = seq_of(conn)
            rows, next_cursor = page(conn, query, duplicates.c.id, limit, cursor)
            return {"items": [duplicate_entity(r) for r in rows], "seq": seq, "next_cursor": next_cursor}

        return await self.store.run_read(run)

    # -- changing -----------------------------------------------------------------------------------

    def flag(self, tx: Tx, first_id: int, second_id: int, score: int, reason: str) -> dict[str, Any]:
        """Queue a pair for review; a pair already known (in any status) is returned as it is."""
        if first_id == second_id:
            raise InvalidError("A contact cannot be a duplicate of itself: give two different ids.",
                               field="second_id")
        low, high = sorted((first_id, second_id))
        for contact_id, field in ((first_id, "first_id"), (second_id, "second_id")):
            refuse_merged(self._contact(tx, contact_id), field)
        existing = self._find_pair(tx, low, high)
        if existing is not None:
            return existing
        return self._queue(tx, low, high, score, reason)

    def _find_pair(self, tx: Tx, low: int, high: int) -> dict[str, Any] | None:
        row = (tx.conn.execute(
            select(duplicates).where(and_(duplicates.c.first_id == low, duplicates.c.second_id == high))
        )).first()
        return duplicate_entity(row) if row is not None else None

    def _queue(self, tx: Tx, low: int, high: int, score: int, reason: str) -> dict[str, Any]:
        result = tx.conn.execute(
            duplicates.insert().values(
                first_id=low, second_id=high, score=score, reason=reason, status="open", version=1,
                created_at=tx.at, updated_at=tx.at, updated_by=tx.actor,
            ).returning(*duplicates.c)
        )
        entity = duplicate_entity(result.one())
        tx.emit("duplicate.queued", "duplicate", entity, "queued", {"status": [None, "open"]})
        return entity

    def keep_apart(self, tx: Tx, pair_id: int, version: int) -> dict[str, Any]:
        current = self._pair_row(tx, pair_id)
        if current["status"] != "open":
            raise InvalidError(
                f"Pair {pair_id} is already resolved ({current['status'].replace('_', ' ')}).",
                field="status", details={"status": current["status"]},
            )
        if current["version"] != version:
            raise ConflictError(
                f"Pair {pair_id} was changed by {current['updated_by']} at {current['updated_at']} after you "
                f"loaded it (you had version {version}, it is now version {current['version']}). Reload it.",
                {"current": current, "your_version": version},
            )
        return self._resolve(tx, current, "kept_apart")

    def _resolve(self, tx: Tx, current: dict[str, Any], status: str) -> dict[str, Any]:
        result = tx.conn.execute(
            update(duplicates).where(duplicates.c.id == current["id"])
            .values(status=status, version=current["version"] + 1, updated_at=tx.at, updated_by=tx.actor)
            .returning(*duplicates.c)
        )
        entity = duplicate_entity(result.one())
        tx.emit("duplicate.resolved", "duplicate", entity, "resolved", {"status": [current["status"], status]})
        return entity

    def merge(
        self, tx: Tx, keep_id: int, keep_version: int, merge_id: int, merge_version: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """merge_id becomes part of keep_id: its orders move, keep_id takes `fields`, merge_id is marked."""
        if keep_id == merge_id:
            raise InvalidError("A contact cannot be merged into itself: give two different ids.", field="merge_id")
        keep = self._contact(tx, keep_id)
        gone = self._contact(tx, merge_id)
        refuse_merged(keep, "keep_id")
        refuse_merged(gone, "merge_id")
        check_version("Contact", keep["name"], keep, keep_version)
        check_version("Contact", gone["name"], gone, merge_version)

        moved = []
        rows = tx.conn.execute(select(orders).where(orders.c.contact_id == merge_id).order_by(orders.c.id))
        for row in list(rows):
            order = order_entity(row)
            result = tx.conn.execute(
                update(orders).where(orders.c.id == order["id"])
                .values(contact_id=keep_id, version=order["version"] + 1, updated_at=tx.at, updated_by=tx.actor)
                .returning(*orders.c)
            )
            entity = order_entity(result.one())
            tx.emit("order.moved", "order", entity, "moved", {"contact_id": [merge_id, keep_id]})
            moved.append(entity)

        changes: dict[str, Any] = {k: [keep[k], v] for k, v in fields.items() if keep[k] != v}
        result = tx.conn.execute(
            update(contacts).where(contacts.c.id == keep_id)
            .values(**contact_columns({k: fields[k] for k in changes}), version=keep_version + 1,
                    updated_at=tx.at, updated_by=tx.actor)
            .returning(*contacts.c)
        )
        survivor = contact_entity(result.one())
        tx.emit("contact.updated", "contact", survivor, "merged", {**changes, "merged_from": [None, merge_id]})

        result = tx.conn.execute(
            update(contacts).where(contacts.c.id == merge_id)
            .values(merged_into=keep_id, version=merge_version + 1, updated_at=tx.at, updated_by=tx.actor)
            .returning(*contacts.c)
        )
        merged = contact_entity(result.one())
        tx.emit("contact.merged", "contact", merged, "merged", {"merged_into": [None, keep_id]})
        return {"contact": survivor, "merged": merged, "orders": moved, "pairs": self._after_merge(tx, keep_id,
                                                                                                     merge_id)}

    def _after_merge(self, tx: Tx, keep_id: int, merge_id: int) -> list[dict[str, Any]]:
        """Close the open pairs of the merged contact; a pair with a third contact is asked again of the one
        that stays (unless that pair is known already)."""
        changed = []
        rows = tx.conn.execute(
            select(duplicates)
            .where(and_(duplicates.c.status == "open",
                        or_(duplicates.c.first_id == merge_id, duplicates.c.second_id == merge_id)))
            .order_by(duplicates.c.id)
        )
        for pair in [duplicate_entity(r) for r in rows]:
            changed.append(self._resolve(tx, pair, "merged"))
            other = pair["second_id"] if pair["first_id"] == merge_id else pair["first_id"]
            if other == keep_id:
                continue
            low, high = sorted((keep_id, other))
            if self._find_pair(tx, low, high) is None:
                changed.append(self._queue(tx, low, high, pair["score"], pair["reason"]))
        return changed
