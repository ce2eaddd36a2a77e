"""Errors that travel on the wire as {"code", "message", "details"}; messages are plain sentences."""

from __future__ import annotations

from typing import Any


class ShopError(Exception):
    """A refusal the caller should see: the code is one of the contract's error codes."""

    code = "internal"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidError(ShopError):
    code = "invalid"

    def __init__(self, message: str, field: str | None = None, details: dict[str, Any] | None = None) -> None:
        merged = dict(details or {})
        if field is not None:
            merged.setdefault("field", field)
        super().__init__(message, merged)


class NotFoundError(ShopError):
    code = "not_found"


class ConflictError(ShopError):
    code = "conflict"


class LockedError(ShopError):
    code = "locked"


class ForbiddenError(ShopError):
    code = "forbidden"


class InternalError(ShopError):
    code = "internal"


class UnavailableError(ShopError):
    """The shop cannot do it just now (its records are down or busy); nothing was changed, try again."""

    code = "unavailable"
