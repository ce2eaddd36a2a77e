"""The order state machine: pending -> in_progress -> completed -> collected; pending -> cancelled."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import InvalidError, LockedError


class OrderStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    COLLECTED = "collected"
    CANCELLED = "cancelled"


# action -> (state it must be in, state it moves to, the event it emits)
TRANSITIONS: dict[str, tuple[OrderStatus, OrderStatus, str]] = {
    "start": (OrderStatus.PENDING, OrderStatus.IN_PROGRESS, "order.started"),
    "complete": (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED, "order.completed"),
    "collect": (OrderStatus.COMPLETED, OrderStatus.COLLECTED, "order.collected"),
    "cancel": (OrderStatus.PENDING, OrderStatus.CANCELLED, "order.cancelled"),
}

OPEN_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED})

# The one set of words for each state: its name in a list or a sentence ("Order K-0001 is now in progress"), and
# how a refusal describes it ("it is already being made"). The CLI and the app show these words.
STATUS_TEXT: dict[OrderStatus, tuple[str, str]] = {
    OrderStatus.PENDING: ("pending", "still waiting to be started"),
    OrderStatus.IN_PROGRESS: ("in progress", "already being made"),
    OrderStatus.COMPLETED: ("completed", "already finished"),
    OrderStatus.COLLECTED: ("collected", "already collected"),
    OrderStatus.CANCELLED: ("cancelled", "cancelled"),
}
STATUS_WORDS: dict[str, str] = {status.value: word for status, (word, _) in STATUS_TEXT.items()}

_ACTION_WORDS = {
    "start": "started",
    "complete": "marked completed",
    "collect": "marked collected",
    "cancel": "cancelled",
}


def describe(status: OrderStatus) -> str:
    return STATUS_TEXT[status][1]


def check_customer_change(number: str, status: OrderStatus, action: str = "changed") -> None:
    """A customer may change (amend or cancel) an order only while it is pending."""
    if status == OrderStatus.PENDING:
        return
    if status in (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED, OrderStatus.COLLECTED):
        raise LockedError(
            f"Order {number} is {describe(status)}, so it can no longer be {action}.",
            {"number": number, "status": status.value},
        )
    raise InvalidError(
        f"Order {number} is {describe(status)}, so it can no longer be {action}.",
        field="status",
        details={"number": number, "status": status.value},
    )


def next_status(number: str, status: OrderStatus, action: str) -> tuple[OrderStatus, str]:
    """The state an action moves an order to, and the event it emits; anything else is refused."""
    try:
        required, target, event = TRANSITIONS[action]
    except KeyError:
        raise InvalidError(f"'{action}' is not something an order can do.", field="action") from None
    if action == "cancel":
        check_customer_change(number, status, "cancelled")
    if status != required:
        raise InvalidError(
            f"Order {number} is {describe(status)}, so it cannot be {_ACTION_WORDS[action]}.",
            field="status",
            details={"number": number, "status": status.value, "required": required.value},
        )
    return target, event
