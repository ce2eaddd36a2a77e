"""Notice preferences and the notifier's record of mails owed and sent, in the shop's database.

Preferences are changed through the contract (notices.settings.set, idempotent by message_id through
ShopStore.mutate); the notifier reads them and keeps one notice_deliveries row per (event, recipient). The row
is the memory that keeps a mail from going out twice: once it says "sent", a redelivered event sends nothing.
Like the rest of the store, this knows no broker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection

from app.domain.errors import ConflictError
from app.domain.notices import SETTING_FIELDS, check_settings, default_settings
from app.domain.timestamps import format_time, parse_time
from app.store.contacts import contact_entity
from app.store.schema import contacts, notice_deliveries, notice_settings
from app.store.transactions import Transactions, Tx

# The notifier's names for the shop's one time format (app.domain.timestamps).
iso = format_time
parse_iso = parse_time


def settings_entity(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "user": m["user_name"],
        "role": m["role"],
        **{field: m[field] for field in SETTING_FIELDS},
        "version": m["version"],
        "updated_at": m["updated_at"],
    }


@dataclass(frozen=True)
class NewDelivery:
    """A mail the notifier owes for one event to one recipient, as planned when the event arrived."""

    recipient: str
    email: str
    status: str  # "due" or "held"
    kind: str  # "single" or "digest"
    due_at: str


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    recipient: str
    email: str
    event: str
    seq: int
    order_number: str
    body: str
    status: str
    kind: str
    due_at: str
    attempts: int
    first_failed_at: str | None
    last_error: str
    mail_id: str | None

    @classmethod
    def of(cls, row: Any) -> Delivery:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__dataclass_fields__})


class NoticeStore:
    def __init__(self, store: Transactions) -> None:
        self.store = store

    # -- preferences (the contract) ---------------------------------------------------------------

    async def get_settings(self, user: str, role: str) -> dict[str, Any]:
        def run(conn: Connection) -> Any:
            return conn.execute(select(notice_settings).where(
                and_(notice_settings.c.user_name == user, notice_settings.c.role == role))).first()

        row = await self.store.run_read(run)
        return default_settings(user, role) if row is None else settings_entity(row)

    def set_settings(
        self, tx: Tx, user: str, role: str, version: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Inside ShopStore.mutate: change some preferences of (user, role); version 0 = never saved before."""
        key = and_(notice_settings.c.user_name == user, notice_settings.c.role == role)
        row = tx.conn.execute(select(notice_settings).where(key)).first()
        current = default_settings(user, role) if row is None else settings_entity(row)
        if current["version"] != version and row is None:
            raise ConflictError(
                f"You have not saved notice settings for {role} yet, so there is no version {version}: "
                "send version 0.",
                {"current": current, "your_version": version},
            )
        if current["version"] != version:
            raise ConflictError(
                f"Your notice settings were changed at {current['updated_at']} after you loaded them (you had "
                f"version {version}, they are now version {current['version']}). Reload them, then change them "
                "again.",
                {"current": current, "your_version": version},
            )
        merged = {**current, **fields}
        check_settings(merged)
        if row is not None and all(current[k] == v for k, v in fields.items()):
            return current  # nothing changes: the version stays
        values = {field: merged[field] for field in SETTING_FIELDS}
        if row is None:
            tx.conn.execute(notice_settings.insert().values(
                user_name=user, role=role, **values, version=1, updated_at=tx.at))
        else:
            tx.conn.execute(update(notice_settings).where(
                and_(key, notice_settings.c.version == version)).values(**values, version=version + 1,
                                                                        updated_at=tx.at))
        return {**merged, "version": version + 1, "updated_at": tx.at}

    # -- what the notifier reads ------------------------------------------------------------------------

    async def recipients(self, roles: Iterable[str]) -> list[dict[str, Any]]:
        """Everyone of these roles who wants e-mail notices and has given an address, oldest first."""
        wanted = list(roles)

        def run(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                select(notice_settings)
                .where(notice_settings.c.role.in_(wanted), notice_settings.c.email_enabled.is_(True),
                       notice_settings.c.email != "")
                .order_by(notice_settings.c.updated_at, notice_settings.c.user_name, notice_settings.c.role)
            )
            return [settings_entity(r) for r in rows]

        return await self.store.run_read(run)

    async def contact(self, contact_id: int) -> dict[str, Any] | None:
        def run(conn: Connection) -> Any:
            return conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()

        row = await self.store.run_read(run)
        return None if row is None else contact_entity(row)

    # -- deliveries -------------------------------------------------------------------------------------

    async def open_deliveries(
        self, event_id: str, event: str, seq: int, order_number: str, body: str,
        planned: Sequence[NewDelivery], at: str,
    ) -> list[Delivery]:
        """The deliveries of an event: those recorded when it first arrived, or else the planned ones, recorded
        now in one transaction (so a redelivered event keeps its first plan and sends nothing twice)."""

        def run(conn: Connection) -> list[Delivery]:
            existing = self._of_event(conn, event_id)
            if existing or not planned:
                return existing
            conn.execute(notice_deliveries.insert(), [
                {"event_id": event_id, "recipient": p.recipient, "email": p.email, "event": event, "seq": seq,
                 "order_number": order_number, "body": body, "status": p.status, "kind": p.kind,
                 "due_at": p.due_at, "created_at": at, "sent_at": None, "attempts": 0, "first_failed_at": None,
                 "last_error": "", "mail_id": None}
                for p in planned
            ])
            return self._of_event(conn, event_id)

        return await self.store.run_write(run, notify=False)

    async def deliveries_of(self, event_id: str) -> list[Delivery]:
        return await self.store.run_read(lambda conn: self._of_event(conn, event_id))

    @staticmethod
    def _of_event(conn: Connection, event_id: str) -> list[Delivery]:
        rows = conn.execute(
            select(notice_deliveries).where(notice_deliveries.c.event_id == event_id).order_by(notice_deliveries.c.id)
        )
        return [Delivery.of(r) for r in rows]

    async def already_sent(self, ids: Sequence[int]) -> bool:
        """Whether any of these deliveries is noted as sent (by another hand on the same event meanwhile)."""
        wanted = list(ids)

        def run(conn: Connection) -> Any:
            return conn.execute(select(func.count()).select_from(notice_deliveries).where(
                notice_deliveries.c.id.in_(wanted), notice_deliveries.c.status == "sent")).scalar_one()

        return bool(await self.store.run_read(run))

    async def mark_sent(self, ids: Sequence[int], mail_id: str, at: str) -> None:
        wanted = list(ids)

        def run(conn: Connection) -> None:
            conn.execute(update(notice_deliveries).where(notice_deliveries.c.id.in_(wanted)).values(
                status="sent", sent_at=at, mail_id=mail_id, last_error=""))

        await self.store.run_write(run, notify=False)

    async def mark_failed(self, ids: Sequence[int], error: str, at: str) -> tuple[str, int]:
        """Count a failed try; returns (when the first failure of these deliveries was, how many tries failed)."""
        wanted = list(ids)

        def run(conn: Connection) -> tuple[Any, Any]:
            conn.execute(update(notice_deliveries).where(notice_deliveries.c.id.in_(wanted)).values(
                attempts=notice_deliveries.c.attempts + 1, last_error=error[:2000],
                first_failed_at=func.coalesce(notice_deliveries.c.first_failed_at, at)))
            first, attempts = conn.execute(
                select(func.min(notice_deliveries.c.first_failed_at), func.max(notice_deliveries.c.attempts))
                .where(notice_deliveries.c.id.in_(wanted))).one()
            return first, attempts

        first, attempts = await self.store.run_write(run, notify=False)
        return str(first or at), int(attempts or 1)

    async def mark_dead(self, ids: Sequence[int], reason: str) -> None:
        wanted = list(ids)

        def run(conn: Connection) -> None:
            conn.execute(update(notice_deliveries).where(notice_deliveries.c.id.in_(wanted)).values(
                status="dead", last_error=reason[:2000]))

        await self.store.run_write(run, notify=False)

    async def revive(self, event_id: str) -> list[Delivery]:
        """An event given up on came back (replayed from the dead letters): try its dead mails again."""

        def run(conn: Connection) -> list[Delivery]:
            conn.execute(update(notice_deliveries).where(
                and_(notice_deliveries.c.event_id == event_id, notice_deliveries.c.status == "dead")
            ).values(status="due", attempts=0, first_failed_at=None))
            return self._of_event(conn, event_id)

        return await self.store.run_write(run, notify=False)

    async def held_due(self, now: str) -> list[Delivery]:
        """Held deliveries whose time has come (end of quiet hours, the digest hour), oldest first."""

        def run(conn: Connection) -> list[Delivery]:
            rows = conn.execute(
                select(notice_deliveries)
                .where(notice_deliveries.c.status == "held", notice_deliveries.c.due_at <= now)
                .order_by(notice_deliveries.c.due_at, notice_deliveries.c.id)
            )
            return [Delivery.of(r) for r in rows]

        return await self.store.run_read(run)

    async def next_held(self) -> str | None:
        """When the next held delivery falls due, if any is held."""

        def run(conn: Connection) -> Any:
            return conn.execute(select(func.min(notice_deliveries.c.due_at)).where(
                notice_deliveries.c.status == "held")).scalar_one()

        value = await self.store.run_read(run)
        return None if value is None else str(value)

    async def deliveries(self, status: str | None = None) -> list[Delivery]:
        """Every delivery (or those with one status), in the order they were recorded; for people and tests."""
        query = select(notice_deliveries).order_by(notice_deliveries.c.id)
        if status is not None:
            query = query.where(notice_deliveries.c.status == status)
        return await self.store.run_read(lambda conn: [Delivery.of(r) for r in conn.execute(query)])
