"""Helpers for tests: polling for a condition, and the service as a real process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.config import Settings

REPO = Path(__file__).resolve().parent.parent


async def wait_until(
    predicate: Callable[[], object | Awaitable[object]], timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Poll predicate (sync or async) until true; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


class ServiceProcess:
    """`kiltshop service` as a real process (for crash tests and the UI tests)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KILTSHOP_BROKER_URL": self.settings.broker_url,
            "KILTSHOP_NAMESPACE": self.settings.namespace,
            "KILTSHOP_DATABASE_URL": self.settings.database_url,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", "service"], env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


