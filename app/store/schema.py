"""Tables. Timestamps are ISO-8601 UTC text so SQLite and PostgreSQL store and sort them alike."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
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
    Column("merged_into", Integer),  # set when merged into another contact (migration 0003_import)
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
    Column("via", String(200)),  # the caller's app_id, e.g. kiltshop-import/sales (migration 0003_import)
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

# Replies already given to mutating calls, by (sender, message_id): a retried or redelivered call gets the same
# answer. Each sender (the broker-checked user_id) has its own message_ids, so one login can neither read another's
# reply nor block its change by reusing an id. digest = sha256 of the method and the canonical JSON of the
# parameters: the same id with another body is refused. Keyed per sender since migration 0004_ledger (rows from
# before have sender '' and digest NULL).
requests = Table(
    "requests",
    metadata,
    Column("sender", String(255), nullable=False, server_default=""),
    Column("message_id", String(200), nullable=False),
    Column("method", String(64), nullable=False),
    Column("reply", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("digest", String(64)),
    PrimaryKeyConstraint("sender", "message_id", name="requests_pkey"),
)

# Secrets the service keeps in its database (migration 0004_ledger): "dead-letter-seal" is the HMAC key that seals
# each dead letter, so a replay can be trusted to run as its original sender. value = hex.
service_keys = Table(
    "service_keys",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Only one outbox relay publishes at a time, so events leave in seq order even with several services.
relay_lease = Table(
    "relay_lease",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# -- notices (migration 0002_notices) ------------------------------------------------------------------

# Each person's notice preferences, per broker user and role; changed through notices.settings.set.
notice_settings = Table(
    "notice_settings",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("email_enabled", Boolean, nullable=False),
    Column("email", String(254), nullable=False),
    Column("quiet_start", String(5)),
    Column("quiet_end", String(5)),
    Column("digest", Boolean, nullable=False),
    Column("digest_at", String(5), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", String(32), nullable=False),
)

# One row per (event, recipient): the mail the notifier owes or has sent. It is the notifier's memory of
# what was sent (status "sent", never sent again), what waits for quiet hours or the digest ("held"), what is
# being tried ("due") and what was given up and dead-lettered ("dead").
notice_deliveries = Table(
    "notice_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("recipient", String(300), nullable=False),
    Column("email", String(254), nullable=False),
    Column("event", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("order_number", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(8), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("due_at", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("sent_at", String(32)),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", String(32)),
    Column("last_error", Text, nullable=False),
    Column("mail_id", String(200)),
    UniqueConstraint("event_id", "recipient", name="uq_notice_deliveries_event_recipient"),
    Index("ix_notice_deliveries_status_due", "status", "due_at"),
)

# -- possible duplicates (migration 0003_import) -----------------------------------------------------------

# Pairs of contacts that are probably one person, for the sales window to merge or keep apart. One row per
# pair (first_id < second_id), whatever its status: open, kept_apart or merged.
duplicates = Table(
    "duplicates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("first_id", Integer, ForeignKey("contacts.id"), nullable=False),
    Column("second_id", Integer, ForeignKey("contacts.id"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(200), nullable=False),
    UniqueConstraint("first_id", "second_id", name="uq_duplicates_pair"),
    Index("ix_duplicates_status_id", "status", "id"),
)
