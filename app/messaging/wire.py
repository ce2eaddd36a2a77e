"""JSON bodies and reply envelopes, as docs/contract.md describes them."""

from __future__ import annotations

import json
from typing import Any

from app.contract import CONTENT_TYPE

MAX_BODY_BYTES = 1024 * 1024  # a request larger than this is refused unread


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


def ok_reply(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def error_reply(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "details": details or {}}}


__all__ = ["CONTENT_TYPE", "MAX_BODY_BYTES", "dumps", "error_reply", "loads", "ok_reply"]
