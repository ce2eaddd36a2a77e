"""A decode guard at our edge: AMQP properties the broker passes on but pamqp cannot decode.

The broker accepts any bytes in a short string (message_id, correlation_id, reply_to, content_type, app_id,
a routing key, ...) and any 64-bit timestamp. pamqp 4 decodes short strings as strict UTF-8 and timestamps with
`datetime.fromtimestamp`; a non-UTF-8 byte or a timestamp of 2**63-1 raises inside aiormq's frame reader,
which closes the whole connection (`InvalidFrameError: Could not unmarshal ContentHeader frame`) before any of
our code sees the message. The message goes back unacknowledged, the robust connection reconnects, takes it
again and dies again: one message stops every consumer of that queue.

So, once per process (app/messaging/__init__.py calls install()):
- a short string (and a table key) that is not UTF-8 decodes with `surrogateescape`: the bytes survive as lone
  surrogates U+DC80..U+DCFF, which strict UTF-8 can never produce, so `undecodable()` tells them apart and the
  RPC server refuses the message by name instead of dying on it;
- a timestamp out of datetime's range decodes as no timestamp.
`printable()` turns such a value into text that can be logged, published and shown (`\\xff` escapes).
"""

from __future__ import annotations

import datetime
import struct
from typing import Any

from pamqp import common, decode

_INSTALLED = "_kiltshop_frame_guard"


def _short_str(value: bytes) -> tuple[int, str]:
    try:
        length = common.Struct.byte.unpack(value[0:1])[0]
    except (struct.error, TypeError) as err:
        raise ValueError("Could not unpack short string value") from err
    return length + 1, value[1 : length + 1].decode("utf-8", errors="surrogateescape")


def _timestamp(value: bytes) -> tuple[int, datetime.datetime | None]:
    try:
        seconds: float = common.Struct.timestamp.unpack(value[0:8])[0]
    except (struct.error, TypeError) as err:
        raise ValueError("Could not unpack timestamp value") from err
    if seconds > 0xFFFFFFFF:  # as pamqp does: anything past 2106 is taken for milliseconds
        seconds /= 1000.0
    try:
        return 8, datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return 8, None


def _field_table(value: bytes) -> tuple[int, common.FieldTable]:
    # pamqp's own field_table, with keys decoded like short strings above.
    try:
        length = common.Struct.integer.unpack(value[0:4])[0]
        offset = 4
        data: dict[str, Any] = {}
        end = offset + length
        if end > len(value):
            raise ValueError("Field table length exceeds available data")
        while offset < end:
            key_length = common.Struct.byte.unpack_from(value, offset)[0]
            offset += 1
            if offset + key_length > end:
                raise ValueError("Field table key length exceeds data")
            key = value[offset : offset + key_length].decode("utf-8", errors="surrogateescape")
            offset += key_length
            consumed, result = decode.embedded_value(value[offset:])
            offset += consumed
            data[key] = result
        return end, data
    except (struct.error, TypeError) as err:
        raise ValueError("Could not unpack data") from err


def install() -> None:
    """Make pamqp's decoders tolerant as described above; safe to call more than once."""
    if getattr(decode, _INSTALLED, False):
        return
    decode.METHODS["shortstr"] = _short_str
    decode.METHODS["timestamp"] = _timestamp
    decode.METHODS["table"] = _field_table
    decode.TABLE_MAPPING[b"T"] = _timestamp
    decode.TABLE_MAPPING[b"F"] = _field_table
    setattr(decode, _INSTALLED, True)


def undecodable(value: object) -> bool:
    """True for a string that came off the wire with bytes that are not UTF-8 (or a surrogate of any kind)."""
    return isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value)


def printable(value: object) -> str:
    """The value as text that encodes as UTF-8: undecodable bytes become `\\xNN`."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    text = str(value)
    if not undecodable(text):
        return text
    try:  # bytes kept by surrogateescape: show them as they came
        return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates (e.g. a JSON "\ud800")
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
