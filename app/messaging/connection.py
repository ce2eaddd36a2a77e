"""Opening robust broker connections, with failures told in plain words."""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import parse_qs, urlsplit

import aio_pika
from aio_pika.abc import AbstractRobustConnection


class BrokerUnavailable(Exception):
    """The broker cannot be reached or refused us; the message says what to do."""


def describe_broker(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    return f"{parts.hostname or 'localhost'}:{port}"


async def connect(url: str, name: str, timeout: float = 10.0) -> AbstractRobustConnection:
    """A robust connection: it reconnects by itself and restores the channels and queues we keep."""
    try:
        return await aio_pika.connect_robust(
            url,
            timeout=timeout,
            client_properties={"connection_name": name},
            reconnect_interval=1,
            fail_fast="true",
            ssl_context=_ssl_context(url),
        )
    except aio_pika.exceptions.ProbableAuthenticationError:
        raise BrokerUnavailable(
            f"The message broker at {describe_broker(url)} refused the user name or password."
        ) from None
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
        raise BrokerUnavailable(
            f"Cannot reach the message broker at {describe_broker(url)} ({_reason(exc)}). "
            "Is RabbitMQ running? scripts/run-shop.sh starts one."
        ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer"
    return text.splitlines()[0][:120] if text else type(exc).__name__


def _ssl_context(url: str) -> ssl.SSLContext | None:
    parts = urlsplit(url)
    if parts.scheme != "amqps":
        return None
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    context = ssl.create_default_context(cafile=query.get("cafile"))
    if query.get("certfile"):
        context.load_cert_chain(query["certfile"], query.get("keyfile"))
    return context
