"""Notices: each person's notice preferences, and the notifier's record of every mail owed or sent.

A branch of its own off 0001 (other branches may also start from 0001); the store upgrades to "heads".

Revision ID: 0002_notices
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_notices"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_settings",
        sa.Column("user_name", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("email_enabled", sa.Boolean, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("quiet_start", sa.String(5)),
        sa.Column("quiet_end", sa.String(5)),
        sa.Column("digest", sa.Boolean, nullable=False),
        sa.Column("digest_at", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("order_number", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("due_at", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("sent_at", sa.String(32)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_failed_at", sa.String(32)),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("mail_id", sa.String(200)),
        sa.UniqueConstraint("event_id", "recipient", name="uq_notice_deliveries_event_recipient"),
    )
    op.create_index("ix_notice_deliveries_status_due", "notice_deliveries", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_notice_deliveries_status_due", table_name="notice_deliveries")
    op.drop_table("notice_deliveries")
    op.drop_table("notice_settings")
