"""The wire contract v1, as code: broker names (names.py) and the method registry (methods.py).

`from app.contract import X` works for everything that was in the single app/contract.py module.
"""

from app.contract.methods import METHODS, MUTATING_METHODS, PERMISSIONS, REGISTRY, Method, methods_of
from app.contract.names import (
    CONTENT_TYPE,
    CONTRACT_VERSION,
    DEAD_AT,
    DEAD_BAD_PROPERTIES,
    DEAD_EXCHANGE,
    DEAD_NO_MESSAGE_ID,
    DEAD_QUEUE,
    DEAD_REASON,
    DEAD_REPLAYED,
    DEAD_ROUTING_KEY,
    DEAD_SEAL,
    DEAD_SENDER,
    DEAD_TRUNCATED,
    DEFAULT_NAMESPACE,
    DEFAULT_PAGE_SIZE,
    ERROR_CODES,
    EVENTS,
    MAX_PAGE_SIZE,
    QUEUE_TOKEN_CHARS,
    REPLAYED_BY,
    RPC_BINDING_KEYS,
    RPC_GROUPS,
    Names,
    Role,
    is_valid_namespace,
    method_group,
)

__all__ = [
    "CONTENT_TYPE", "CONTRACT_VERSION", "DEAD_AT", "DEAD_BAD_PROPERTIES", "DEAD_EXCHANGE", "DEAD_NO_MESSAGE_ID",
    "DEAD_QUEUE", "DEAD_REASON", "DEAD_REPLAYED", "DEAD_ROUTING_KEY", "DEAD_SEAL", "DEAD_SENDER", "DEAD_TRUNCATED",
    "DEFAULT_NAMESPACE", "DEFAULT_PAGE_SIZE", "ERROR_CODES", "EVENTS", "MAX_PAGE_SIZE", "METHODS",
    "MUTATING_METHODS", "PERMISSIONS", "QUEUE_TOKEN_CHARS", "REGISTRY", "REPLAYED_BY", "RPC_BINDING_KEYS",
    "RPC_GROUPS", "Method", "Names", "Role", "is_valid_namespace", "method_group", "methods_of",
]
