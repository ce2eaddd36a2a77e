"""Broker passwords in the system keyring, never in a file. Keyring calls can block (a locked wallet
asking to be unlocked) or fail (no backend on a headless machine): they run in a worker thread with a
timeout, and every failure is reported in words, so the caller can fall back to asking each time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

SERVICE = "kiltshop"
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class KeyringResult:
    ok: bool
    password: str | None = None
    problem: str = ""


def _account(user: str, broker: str) -> str:
    return f"{user}@{broker}"


def _get(user: str, broker: str) -> str | None:
    import keyring

    return keyring.get_password(SERVICE, _account(user, broker))


def _set(user: str, broker: str, password: str) -> None:
    import keyring

    keyring.set_password(SERVICE, _account(user, broker), password)


def _explain(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "NoKeyringError":
        return "This computer has no password keyring, so the password will be asked for each time."
    if isinstance(exc, TimeoutError):
        return "The password keyring did not answer (is it locked?), so the password will be asked for each time."
    return f"The password keyring could not be used ({exc or name}), so the password will be asked for each time."


async def load_password(user: str, broker: str, timeout: float = TIMEOUT_SECONDS) -> KeyringResult:
    try:
        password = await asyncio.wait_for(asyncio.to_thread(_get, user, broker), timeout)
    except Exception as exc:
        return KeyringResult(False, None, _explain(exc))
    return KeyringResult(True, password)


async def save_password(user: str, broker: str, password: str, timeout: float = TIMEOUT_SECONDS) -> KeyringResult:
    try:
        await asyncio.wait_for(asyncio.to_thread(_set, user, broker, password), timeout)
    except Exception as exc:
        return KeyringResult(False, None, _explain(exc))
    return KeyringResult(True, password)
