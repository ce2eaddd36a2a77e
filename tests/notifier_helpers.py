"""A real SMTP server on loopback for the notifier's tests (aiosmtpd, in its own thread), and helpers.

The server can accept, refuse every mail (a 550 answer), or stall in DATA until told to go on (to kill the
notifier while it waits for the server's answer). It keeps every mail it accepted, parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from app.client.shop_client import ShopClient
from app.config import NotifierSettings
from tests.shop_helpers import free_port, queue_state
from tests.support import wait_until


@dataclass(frozen=True)
class Received:
    to: list[str]
    sender: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())


class RecordingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: str | None = None  # e.g. "550 5.1.1 No such mailbox": every mail is refused with it
        self.stall = threading.Event()  # while set, DATA waits (the client waits for our answer)
        self.stalled = threading.Event()  # set once a mail is waiting in DATA
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.refuse is not None:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        while self.stall.is_set():
            self.stalled.set()
            await asyncio.sleep(0.02)  # if the client dies meanwhile, aiosmtpd cancels us: nothing is kept
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), str(envelope.mail_from), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; `port` is fixed at construction so the server can be down first, up later."""

    def __init__(self, port: int | None = None, **smtp_kwargs: Any) -> None:
        self.port = port or free_port()
        self.handler = RecordingHandler()
        self.smtp_kwargs = smtp_kwargs
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.smtp_kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            with contextlib.suppress(Exception):
                self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.to]

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        await wait_until(lambda: len(self.received) >= count, timeout, interval=0.05)
        return self.received


def notify_settings(smtp: SmtpServer, **overrides: Any) -> NotifierSettings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": "none",
        "smtp_sender": "notices@macgrudder.example", "collect_from": "MacGrudder's workshop, Bridge of Orchy",
        "retry_for": 120.0, "smtp_timeout": 10.0,
    }
    values.update(overrides)
    return NotifierSettings(**values)


class ShiftedClock:
    """The real time plus an offset the test moves forward (to reach the end of quiet hours or the digest
    hour without waiting for them)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def advance_to(self, moment: datetime) -> None:
        self.offset += max(timedelta(0), moment - self.now())


def hhmm(moment: datetime) -> str:
    return f"{moment:%H:%M}"


async def want_mail(client: ShopClient, role: str, email_address: str, **settings: Any) -> dict[str, Any]:
    """Turn e-mail notices on for the client's user in a role, through the contract."""
    current = await client.call("notices.settings.get", {"role": role})
    result: dict[str, Any] = await client.call("notices.settings.set", {
        "role": role, "version": current["version"], "email_enabled": True, "email": email_address,
        "timezone": "UTC", **settings})
    return result


async def ready_order(client: ShopClient, name: str = "Morag MacLeod", **contact: Any) -> dict[str, Any]:
    """A customer and an order in progress: completing it is the event under test."""
    created = await client.call("contacts.create", {
        "name": name, "address": contact.pop("address", "3 Loch View\nTyndrum FK20 8RY"),
        "phone": contact.pop("phone", "01838 400 123"), "email": contact.pop("email", "morag@example.co.uk"),
        **contact})
    order = await client.call("orders.place", {"contact_id": created["id"], "items": [
        {"description": "Eight-yard kilt", "tartan": "MacGregor", "quantity": 1, "unit_price_pence": 48000},
        {"description": "Kilt pin", "tartan": "", "quantity": 2, "unit_price_pence": 2550}],
        "notes": "Wedding on the 14th"})
    started: dict[str, Any] = await client.call("orders.start", {"id": order["id"], "version": order["version"]})
    return started


async def complete(client: ShopClient, order: dict[str, Any]) -> dict[str, Any]:
    done: dict[str, Any] = await client.call("orders.complete", {"id": order["id"], "version": order["version"]})
    return done


async def notifier_queues_idle(broker_url: str, namespace: str) -> bool:
    """No event waits in the notifier's queues (ready ones; unacknowledged ones count once the consumer is gone)."""
    for purpose in ("order-completed", "order-placed"):
        state = await queue_state(broker_url, f"{namespace}.notifier.{purpose}")
        if state is None or state[0] != 0:
            return False
    return True


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 with a fresh self-signed certificate, and the certificate's file
    (the CA bundle the client is told to trust)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


def login_checker(user: str, password: str) -> Any:
    """An aiosmtpd authenticator that lets exactly this user and password in."""

    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    return check
