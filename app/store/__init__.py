"""The one store of contacts and orders (SQLAlchemy 2, async). Knows no broker: it writes events to an outbox."""
