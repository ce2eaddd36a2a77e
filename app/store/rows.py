"""What every store of the shop reads the same way: one page of rows by id, an entity's history, and the version
check of an optimistic change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.engine import Connection

from app.domain.errors import ConflictError
from app.store.schema import history


def page(
    conn: Connection, query: Select[Any], key: Any, limit: int, cursor: int | None
) -> tuple[list[Any], str | None]:
    """Up to limit rows after cursor in key order, and the cursor of the next page (None on the last one)."""
    if cursor is not None:
        query = query.where(key > cursor)
    rows = list(conn.execute(query.order_by(key).limit(limit + 1)).all())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(rows[-1]._mapping[key.name])
    return rows, None


def history_of(conn: Connection, entity: str, entity_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(history.c.seq, history.c.at, history.c.actor, history.c.action, history.c.changes, history.c.via)
        .where(and_(history.c.entity == entity, history.c.entity_id == entity_id))
        .order_by(history.c.seq)
    )
    return [dict(r._mapping) for r in rows]


def check_version(kind: str, label: str, current: dict[str, Any], version: int) -> None:
    """Refuse a change made to an older version than the one stored (someone else changed it meanwhile)."""
    if current["version"] != version:
        raise ConflictError(
            f"{kind} {label} was changed by {current['updated_by']} at {current['updated_at']} after you "
            f"loaded it (you had version {version}, it is now version {current['version']}). "
            "Reload it, then make your change again.",
            {"current": current, "your_version": version},
        )
