"""Import and possible duplicates: contacts.merged_into, history.via, the duplicates table.

A branch of its own off 0001 (other branches may also start from 0001); the store upgrades to "heads".

Revision ID: 0003_import
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_import"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without a foreign key: SQLite adds them in place (ALTER TABLE ... ADD COLUMN).
    op.add_column("contacts", sa.Column("merged_into", sa.Integer))
    op.add_column("history", sa.Column("via", sa.String(200)))
    op.create_table(
        "duplicates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("first_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("second_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("first_id", "second_id", name="uq_duplicates_pair"),
    )
    op.create_index("ix_duplicates_status_id", "duplicates", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_duplicates_status_id", table_name="duplicates")
    op.drop_table("duplicates")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("via")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("merged_into")
