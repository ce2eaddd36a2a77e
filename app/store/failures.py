"""Which store failures pass by themselves: the database down, unreachable or busy (locked).

Such a failure changed nothing (the transaction rolled back or never began), so the caller is told to try again
(`unavailable`), and the request is not set aside as a dead letter: a retry and a replay must never both run it.
Anything else is a fault of ours (`internal`, dead-lettered for the operator)."""

from __future__ import annotations

from sqlalchemy import exc as sa

# Words SQLite and the drivers use for a database that is busy or out of reach (not for a wrong statement).
_TRANSIENT_WORDS = ("database is locked", "database table is locked", "unable to open database file",
                    "disk i/o error", "connection refused", "connection was closed", "connection is closed",
                    "server closed the connection", "could not connect", "terminating connection",
                    "the database system is starting up", "the database system is shutting down",
                    "cannot connect now", "connection reset", "timeout")


def is_transient(error: BaseException) -> bool:
    if isinstance(error, sa.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sa.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error, sa.OperationalError | sa.InterfaceError):
            text = str(error.orig if error.orig is not None else error).lower()
            return any(words in text for words in _TRANSIENT_WORDS)
        return False
    # asyncpg raises OSError (refused, reset) or its own connection errors before SQLAlchemy wraps anything.
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    return isinstance(error, OSError) and not isinstance(error, FileNotFoundError | PermissionError)
