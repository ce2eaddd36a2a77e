"""Alembic environment: runs on the connection the store hands over (see app/store/database.py)."""

from __future__ import annotations

from alembic import context

from app.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through app.store.database.migrate(), which provides the connection.")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
