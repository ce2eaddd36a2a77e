"""The requests ledger per sender, with a digest of each request; the service_keys table with the dead-letter seal.

requests: primary key (sender, message_id) instead of message_id, and a digest column (sha256 of the method and the
parameters). Rows from before get sender '' and digest NULL. No caller has the sender '', so those rows are never
found again: a retry, after the upgrade, of a change made before it runs as a new change (a client retries within
seconds, so only a change in flight during the upgrade can be affected).

service_keys: one row, "dead-letter-seal", 32 random bytes as hex, made here once per database.

A branch of its own off 0001 (other branches may also start from 0001); the store upgrades to "heads".

Revision ID: 0004_ledger
Revises: 0001
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004_ledger"
down_revision = "0001"
branch_labels = None
depends_on = None

SEAL_KEY = "dead-letter-seal"


def _requests_without_key(sender: bool = False) -> sa.Table:
    """The requests table as it is, but without its primary key: SQLite's batch mode copies from this (instead of
    reflecting it) and gives the copy the new key alone (a reflected key column would stay part of the key)."""
    columns = [
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("reply", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    ]
    if sender:
        columns += [sa.Column("sender", sa.String(255), nullable=False, server_default=""),
                    sa.Column("digest", sa.String(64))]
    return sa.Table("requests", sa.MetaData(), *columns)


def upgrade() -> None:
    # SQLite cannot change a primary key in place: batch mode copies the table into a new one. PostgreSQL alters it
    # in place; its primary key from 0001 has PostgreSQL's default name, requests_pkey, and keeps it.
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("requests", copy_from=_requests_without_key()) as batch:
        batch.add_column(sa.Column("sender", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("digest", sa.String(64)))
        if not sqlite:
            batch.drop_constraint("requests_pkey", type_="primary")
        batch.create_primary_key("requests_pkey", ["sender", "message_id"])
    service_keys = op.create_table(
        "service_keys",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(service_keys, [{"name": SEAL_KEY, "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("service_keys")
    # Back to one row per message_id: of several senders' rows for one id, the earliest stays.
    op.execute(
        "DELETE FROM requests WHERE EXISTS (SELECT 1 FROM requests AS r WHERE r.message_id = requests.message_id"
        " AND (r.created_at < requests.created_at"
        " OR (r.created_at = requests.created_at AND r.sender < requests.sender)))"
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("requests", copy_from=_requests_without_key(sender=True)) as batch:
        if not sqlite:
            batch.drop_constraint("requests_pkey", type_="primary")
        batch.create_primary_key("requests_pkey", ["message_id"])
        batch.drop_column("digest")
        batch.drop_column("sender")
