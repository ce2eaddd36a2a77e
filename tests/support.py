"""Helpers for tests: polling for a condition, the service as a real process, a held database, a proxy to cut."""

from __future__ import annotations

import asyncio
import os
import sqlite3
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


class KiltshopProcess:
    """A `kiltshop COMMAND` process with its output in a log file: started, killed, or stopped gracefully."""

    command = "service"

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", self.command], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, cwd=REPO,
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


class DatabaseLock:
    """Holds the SQLite database's write lock from outside the service, so its writes wait (a slow disk, say)."""

    def __init__(self, database_url: str) -> None:
        self.path = database_url.split("///", 1)[1]
        self._conn: sqlite3.Connection | None = None

    async def hold(self) -> None:
        def take() -> sqlite3.Connection:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN IMMEDIATE")
            return conn

        self._conn = await asyncio.to_thread(take)

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            def let_go() -> None:
                conn.execute("ROLLBACK")
                conn.close()

            await asyncio.to_thread(let_go)


class ServiceProcess(KiltshopProcess):
    """`kiltshop service` as a real process (for crash tests and the UI tests)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        super().__init__({
            **os.environ,
            "KILTSHOP_BROKER_URL": settings.broker_url,
            "KILTSHOP_NAMESPACE": settings.namespace,
            "KILTSHOP_DATABASE_URL": settings.database_url,
        }, log_path)


class TcpProxy:
    """A loopback TCP proxy in front of the broker, to cut a client's connection and bring it back
    without touching the broker itself (other clients keep working meanwhile)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # Bytes passed from the broker to the client so far: grows when, say, a publish is confirmed.
        self.bytes_down = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, broker_url: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(broker_url)
        netloc = parts.netloc.rsplit("@", 1)
        creds = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit((parts.scheme, f"{creds}127.0.0.1:{self.port}", parts.path, parts.query, ""))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, down: bool) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                    if down:
                        self.bytes_down += len(data)
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))
        self._writers.difference_update({writer, up_writer})

    async def cut(self) -> None:
        """Refuse new connections and break every open one (as a dead network would)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()
