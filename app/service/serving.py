"""How a handler is bound to its declared method, and the one way a handler changes something.

A handler is `async def h(shop, call, params)`: `params` is the method's model (app/domain/params.py), already
decoded and checked against its declaration in app/contract/methods.py, so a handler never sees raw input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from app.contract.methods import REGISTRY

if TYPE_CHECKING:
    from app.messaging.rpc_server import Call
    from app.store.duplicate_store import DuplicateStore
    from app.store.shop_store import ShopStore, Tx


class Shop(Protocol):
    """What a handler is given to work with (app/service/handlers.py ShopHandlers); named here so that the
    handler modules need not import each other."""

    store: ShopStore
    duplicates: DuplicateStore


# async def h(shop, call, params): shop is the ShopHandlers (a Shop), params the method's decoded model
Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)

HANDLERS: dict[str, Handler] = {}


def serves(*names: str) -> Callable[[H], H]:
    """Bind a handler to the methods it serves; each name must be declared in the registry, once."""

    def bind(handler: H) -> H:
        for name in names:
            if name not in REGISTRY:
                raise LookupError(f"{name} is not declared in app/contract/methods.py")
            if name in HANDLERS:
                raise ValueError(f"{name} has two handlers")
            HANDLERS[name] = handler
        return handler

    return bind


def mutate(shop: Shop, call: Call, change: Callable[[Tx], dict[str, Any]]) -> Awaitable[dict[str, Any]]:
    """Run a change once per (sender, message_id) through the store's requests ledger; every change handler
    goes through this."""
    assert call.message_id, "the RPC server refuses changes without a message_id"
    # The caller's app_id (e.g. kiltshop-import/sales) is kept in the history as `via`, and who sent it back
    # when an operator replayed it.
    via = call.app_id if call.replayed_by is None else f"{call.app_id or 'a request'}, sent again by " \
        f"{call.replayed_by}"
    return shop.store.mutate(call.message_id, call.method, call.actor, change, via=via,
                             digest=request_digest(call.method, call.params))


def request_digest(method: str, params: dict[str, Any]) -> str:
    """What a request asks for, as the ledger compares it: sha256 over the method and the parameters as canonical
    JSON (sorted keys, compact, ASCII only, so a lone surrogate is escaped rather than failing to encode)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method}\n{canonical}".encode("ascii")).hexdigest()
