"""A hostile AMQP 0-9-1 client for tests: it writes content-header frames byte by byte, so it can send what the
broker accepts but the client libraries refuse to build (non-UTF-8 short strings, a timestamp of 2**63-1, a
header table key that is not text). Method frames are marshalled with pamqp; the properties are not.

    async with HostileClient(url) as hostile:
        await hostile.publish("ns.rpc", "orders.list", b"{}", correlation_id=b"\\xff\\xfe", reply_to=b"...")
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any
from urllib.parse import unquote, urlsplit

from pamqp import commands, encode, frame
from pamqp.exceptions import UnmarshalingException
from pamqp.header import ProtocolHeader

# Basic's property flags (AMQP 0-9-1, class 60) in wire order: name -> (flag bit, kind).
PROPERTIES: tuple[tuple[str, int, str], ...] = (
    ("content_type", 15, "shortstr"),
    ("content_encoding", 14, "shortstr"),
    ("headers", 13, "table"),
    ("delivery_mode", 12, "octet"),
    ("priority", 11, "octet"),
    ("correlation_id", 10, "shortstr"),
    ("reply_to", 9, "shortstr"),
    ("expiration", 8, "shortstr"),
    ("message_id", 7, "shortstr"),
    ("timestamp", 6, "timestamp"),
    ("type", 5, "shortstr"),
    ("user_id", 4, "shortstr"),
    ("app_id", 3, "shortstr"),
)


def raw_table(entries: dict[bytes, bytes]) -> bytes:
    """A field table from raw keys and already-encoded values (type byte + value), e.g. {b"\\xff": b"t\\x01"}."""
    body = b"".join(bytes([len(k)]) + k + v for k, v in entries.items())
    return struct.pack(">I", len(body)) + body


def content_header(body_size: int, props: dict[str, Any]) -> bytes:
    """The payload of a content-header frame; str/bytes short strings are written as given (bytes raw)."""
    unknown = set(props) - {name for name, _bit, _kind in PROPERTIES}
    if unknown:
        raise ValueError(f"unknown properties {sorted(unknown)}")
    flags = 0
    parts: list[bytes] = []
    for name, bit, kind in PROPERTIES:
        if name not in props or props[name] is None:
            continue
        value = props[name]
        flags |= 1 << bit
        if kind == "shortstr":
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts.append(bytes([len(raw)]) + raw)
        elif kind == "octet":
            parts.append(bytes([int(value)]))
        elif kind == "timestamp":
            parts.append(struct.pack(">Q", int(value)))
        else:  # a table: raw bytes as given, or a dict pamqp encodes
            parts.append(value if isinstance(value, bytes) else encode.field_table(value))
    return struct.pack(">HHQH", 60, 0, body_size, flags) + b"".join(parts)


def raw_frame(frame_type: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + b"\xce"


class HostileClient:
    """One connection and one confirming channel; publish() returns once the broker confirmed (acked)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = b""
        self._frame_max = 131072

    async def __aenter__(self) -> HostileClient:
        parts = urlsplit(self.url)
        self._reader, self._writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 5672)
        self._send(ProtocolHeader())
        await self._receive(commands.Connection.Start)
        user, password = unquote(parts.username or "guest"), unquote(parts.password or "guest")
        self._send(commands.Connection.StartOk(client_properties={"product": "kiltshop-hostile-tests"},
                                               mechanism="PLAIN", response=f"\0{user}\0{password}", locale="en_US"))
        tune = await self._receive(commands.Connection.Tune)
        self._frame_max = tune.frame_max
        self._send(commands.Connection.TuneOk(channel_max=tune.channel_max, frame_max=tune.frame_max, heartbeat=0))
        self._send(commands.Connection.Open(virtual_host=unquote(parts.path[1:]) or "/"))
        await self._receive(commands.Connection.OpenOk)
        self._send(commands.Channel.Open(), 1)
        await self._receive(commands.Channel.OpenOk)
        self._send(commands.Confirm.Select(), 1)
        await self._receive(commands.Confirm.SelectOk)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._writer is not None
        with contextlib.suppress(Exception):
            self._send(commands.Connection.Close(reply_code=200, reply_text="done", class_id=0, method_id=0))
            await asyncio.wait_for(self._receive(commands.Connection.CloseOk), 5)
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def publish(self, exchange: str, routing_key: str | bytes, body: bytes, **props: Any) -> None:
        """Publish one message with exactly these properties and wait for the broker's confirm.
        A routing key given as bytes is written raw too."""
        assert self._writer is not None
        if isinstance(routing_key, bytes):
            method = commands.Basic.Publish(exchange=exchange, routing_key="X" * len(routing_key))
            marshalled = frame.marshal(method, 1)
            marshalled = marshalled.replace(b"X" * len(routing_key), routing_key, 1)
            self._writer.write(marshalled)
        else:
            self._send(commands.Basic.Publish(exchange=exchange, routing_key=routing_key), 1)
        self._writer.write(raw_frame(2, 1, content_header(len(body), props)))
        step = self._frame_max - 8
        for start in range(0, len(body), step):
            self._writer.write(raw_frame(3, 1, body[start:start + step]))
        await self._receive(commands.Basic.Ack)

    def _send(self, value: Any, channel: int = 0) -> None:
        assert self._writer is not None
        self._writer.write(frame.marshal(value, channel))

    async def _receive(self, kind: type) -> Any:
        assert self._reader is not None
        while True:
            try:
                used, _channel, value = frame.unmarshal(self._buffer)
            except UnmarshalingException:
                chunk = await asyncio.wait_for(self._reader.read(65536), 10)
                if not chunk:
                    raise ConnectionError("the broker closed the connection") from None
                self._buffer += chunk
                continue
            self._buffer = self._buffer[used:]
            if isinstance(value, commands.Connection.Close | commands.Channel.Close):
                raise ConnectionError(f"the broker refused: {value.reply_text}")
            if isinstance(value, kind):
                return value
