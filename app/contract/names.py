"""The wire contract v1: broker names, events, error codes and headers (the methods are in methods.py).

docs/contract.md and docs/asyncapi.yaml describe the same things for other programs;
tests/test_contract_docs.py fails when they disagree. Change this file only on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.params import DEFAULT_PAGE_SIZE as _DEFAULT_PAGE_SIZE
from app.domain.params import MAX_PAGE_SIZE as _MAX_PAGE_SIZE

CONTRACT_VERSION = "1"
DEFAULT_NAMESPACE = "kiltshop"
CONTENT_TYPE = "application/json"



class Role(StrEnum):
    """The people who use the shop: each login is `<namespace>.<role>` or `<namespace>.<role>.<person>`."""

    SALES = "sales"
    WORKSHOP = "workshop"
    SHIPPING = "shipping"
    STORE = "store"


EVENTS: tuple[str, ...] = (
    "contact.created",
    "contact.updated",
    "contact.merged",
    "order.placed",
    "order.amended",
    "order.started",
    "order.completed",
    "order.cancelled",
    "order.collected",
    "order.moved",  # contacts.merge: the order now belongs to the contact that stays
    "duplicate.queued",
    "duplicate.resolved",
)

RPC_GROUPS: tuple[str, ...] = ("contacts", "orders", "pickups", "notices")

# A group's methods have one more dot than `group.*` matches (notices.settings.get): its queue is bound with `#`.
RPC_BINDING_KEYS: dict[str, str] = {"notices": "notices.#"}

# `unavailable`: the shop could not do it just now (its database is down or busy); nothing was changed and the
# same request may be sent again. `internal`: a fault in the service; the request was set aside in `<ns>.dead`
# for the operator and must not be sent again. Never both for one request.
ERROR_CODES: tuple[str, ...] = ("invalid", "not_found", "conflict", "locked", "forbidden", "unavailable", "internal")

# Headers the service (and the notifier) put on a dead letter in `<ns>.dead`, and `kiltshop dead replay` reads.
DEAD_REASON = "x-kiltshop-reason"
DEAD_EXCHANGE = "x-kiltshop-exchange"
DEAD_ROUTING_KEY = "x-kiltshop-routing-key"
DEAD_AT = "x-kiltshop-dead-at"
DEAD_TRUNCATED = "x-kiltshop-truncated"
DEAD_QUEUE = "x-kiltshop-queue"
DEAD_REPLAYED = "x-kiltshop-replayed"
DEAD_NO_MESSAGE_ID = "x-kiltshop-no-message-id"
# The broker-checked user_id of the request's sender, and the service's seal over (sender, routing key,
# message_id, body): a replay runs as that sender only when the seal holds (app/messaging/seal.py).
DEAD_SENDER = "x-kiltshop-sender"
DEAD_SEAL = "x-kiltshop-seal"
# Properties that were not UTF-8 text (or a timestamp out of range): named here, shown escaped.
DEAD_BAD_PROPERTIES = "x-kiltshop-bad-properties"
# On a replayed request: the operator's login that sent it back (the service records it in the history).
REPLAYED_BY = "x-kiltshop-replayed-by"

# The last part of a reply or client queue name: one word, no dots (see Names.reply_queue).
QUEUE_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

# List calls never send more than MAX_PAGE_SIZE items in one reply (a rule of the parameters: app/domain/params.py).
MAX_PAGE_SIZE = _MAX_PAGE_SIZE
DEFAULT_PAGE_SIZE = _DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class Names:
    """Broker names for one shop; every name starts with the namespace so shops can share a broker."""

    namespace: str = DEFAULT_NAMESPACE

    @property
    def rpc_exchange(self) -> str:
        return f"{self.namespace}.rpc"

    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def dead_exchange(self) -> str:
        return f"{self.namespace}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.namespace}.dead"

    def rpc_queue(self, group: str) -> str:
        return f"{self.namespace}.rpc.{group}"

    def rpc_bindings(self) -> dict[str, str]:
        """Service queue name -> binding key on the rpc exchange."""
        return {self.rpc_queue(group): RPC_BINDING_KEYS.get(group, f"{group}.*") for group in RPC_GROUPS}

    @property
    def relay_exchange(self) -> str:
        """Service-internal: a service process that committed a change wakes the relay holder through it."""
        return f"{self.namespace}.relay"

    def reply_queue(self, login: str, token: str) -> str:
        """A caller's own reply queue: `<ns>.reply.<login>.<token>`. The service replies only to a queue named
        for the request's own user_id, and the broker lets each login use only queues named for it."""
        return f"{self.namespace}.reply.{login}.{token}"

    def client_queue(self, login: str, token: str) -> str:
        """A client's own event queue (a window's mirror, `kiltshop watch`): `<ns>.client.<login>.<token>`."""
        return f"{self.namespace}.client.{login}.{token}"

    def is_own_reply_queue(self, name: str, login: str) -> bool:
        prefix = f"{self.namespace}.reply.{login}."
        token = name[len(prefix):]
        return name.startswith(prefix) and bool(token) and all(c in QUEUE_TOKEN_CHARS for c in token)

    def notifier_queue(self, purpose: str) -> str:
        """The notifier's durable queue for one kind of notice (see app/notifier/notifier.py)."""
        return f"{self.namespace}.notifier.{purpose}"


def method_group(method: str) -> str:
    return method.split(".", 1)[0]


def is_valid_namespace(namespace: str) -> bool:
    # Dots separate our own name parts, so a namespace is one plain word.
    return bool(namespace) and len(namespace) <= 64 and all(c.isalnum() or c in "-_" for c in namespace)
