"""Tables. Timestamps are ISO-8601 UTC text so SQLite and PostgreSQL store and sort them alike."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    Column("address", Text, nullable=False, server_default=""),
    Column("waist_cm", Float),
    Column("hip_cm", Float),
    Column("length_cm", Float),
    Column("notes", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("ix_contacts_name", "name"),
    Index("ix_contacts_email", "email"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("items", JSON, nullable=False),
    Column("notes", Text, nullable=False, server_default=""),
    Column("total_pence", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("placed_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("ix_orders_status_id", "status", "id"),
    Index("ix_orders_contact_id", "contact_id"),
)

# Who changed what, when: one row per change of a contact or an order.
history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity", String(16), nullable=False),
    Column("entity_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("changes", JSON, nullable=False),
    Index("ix_history_entity", "entity", "entity_id"),
)

# The transactional outbox: an event row is written in the same transaction as the change it reports.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event", String(64), nullable=False),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("published_at", String(32)),
    Index("ix_outbox_unpublished", "published_at", "seq"),
)

# Named counters; "event_seq" hands out the gap-free event sequence inside each write transaction.
counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Integer, nullable=False),
)

# Replies already given to mutating calls, by message_id: a retried or redelivered call gets the same answer.
requests = Table(
    "requests",
    metadata,
    Column("message_id", String(200), primary_key=True),
    Column("method", String(64), nullable=False),
    Column("reply", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# Only one outbox relay publishes at a time, so events leave in seq order even with several services.
relay_lease = Table(
    "relay_lease",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)
