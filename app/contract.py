"""The wire contract v1, as code: every broker name, method and event in one place.

docs/contract.md and docs/asyncapi.yaml describe the same things for other programs;
tests/test_contract_docs.py fails when the two disagree. Change this file only on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTRACT_VERSION = "1"
DEFAULT_NAMESPACE = "kiltshop"
CONTENT_TYPE = "application/json"

# Each method's routing key is its name; the first part picks the service queue it lands in.
METHODS: tuple[str, ...] = (
    "contacts.list",
    "contacts.get",
    "contacts.create",
    "contacts.update",
    # the review queue of possible duplicates and merging (one word after the dot: the `contacts.*` binding)
    "contacts.duplicates",
    "contacts.flag_duplicate",
    "contacts.keep_apart",
    "contacts.merge",
    "orders.list",
    "orders.get",
    "orders.place",
    "orders.amend",
    "orders.cancel",
    "orders.start",
    "orders.complete",
    "orders.collect",
    "pickups.list",
    "pickups.billing",
    "notices.settings.get",
    "notices.settings.set",
)

# Calls that change something: they must carry a message_id (the idempotency key).
MUTATING_METHODS: frozenset[str] = frozenset(
    {
        "contacts.create",
        "contacts.update",
        "contacts.flag_duplicate",
        "contacts.keep_apart",
        "contacts.merge",
        "orders.place",
        "orders.amend",
        "orders.cancel",
        "orders.start",
        "orders.complete",
        "orders.collect",
        "notices.settings.set",
    }
)

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

ERROR_CODES: tuple[str, ...] = ("invalid", "not_found", "conflict", "locked", "forbidden", "internal")

# List calls never send more than this many items in one reply.
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


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

    def notifier_queue(self, purpose: str) -> str:
        """The notifier's durable queue for one kind of notice (see app/notifier/notifier.py)."""
        return f"{self.namespace}.notifier.{purpose}"


def method_group(method: str) -> str:
    return method.split(".", 1)[0]


def is_valid_namespace(namespace: str) -> bool:
    # Dots separate our own name parts, so a namespace is one plain word.
    return bool(namespace) and len(namespace) <= 64 and all(c.isalnum() or c in "-_" for c in namespace)
