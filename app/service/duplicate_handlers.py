"""Handlers of the possible-duplicates queue and contacts.merge (app/store/duplicate_store.py does the work).

As everywhere in the service, every parameter is checked before the store is touched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from app.contract import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.domain.errors import InvalidError
from app.domain.validation import (
    CONTACT_FIELDS,
    as_int,
    as_text,
    clean_contact_fields,
    clean_page,
    reject_unknown,
    require_int,
)
from app.messaging.rpc_server import Call
from app.store.duplicate_store import LIST_STATUSES, DuplicateStore

if TYPE_CHECKING:
    from app.service.handlers import ShopHandlers

MAX_REASON = 200


class DuplicateHandlers:
    def __init__(self, shop: ShopHandlers) -> None:
        self.shop = shop
        self.duplicates = DuplicateStore(shop.store)
        self.routes: dict[str, Callable[[Call], Awaitable[Any]]] = {
            "contacts.duplicates": self.contacts_duplicates,
            "contacts.flag_duplicate": self.contacts_flag_duplicate,
            "contacts.keep_apart": self.contacts_keep_apart,
            "contacts.merge": self.contacts_merge,
        }

    async def contacts_duplicates(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("status", "limit", "cursor"))
        status = call.params.get("status", "open")
        if not isinstance(status, str) or status not in LIST_STATUSES:
            raise InvalidError(f"'status' must be one of {', '.join(LIST_STATUSES)} (got {status!r}).",
                               field="status")
        limit, cursor = clean_page(call.params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        return await self.duplicates.list_pairs(status, limit, cursor)

    async def contacts_flag_duplicate(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("first_id", "second_id", "score", "reason"))
        first_id = require_int(call.params, "first_id", 1)
        second_id = require_int(call.params, "second_id", 1)
        score = as_int(call.params.get("score", 0), "score", 0, 100)
        reason = as_text(call.params.get("reason"), "reason", max_len=MAX_REASON)
        return await self.shop.mutate(
            call, lambda tx: self.duplicates.flag(tx, first_id, second_id, score, reason)
        )

    async def contacts_keep_apart(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("id", "version"))
        pair_id = require_int(call.params, "id", 1)
        version = require_int(call.params, "version", 1)
        return await self.shop.mutate(call, lambda tx: self.duplicates.keep_apart(tx, pair_id, version))

    async def contacts_merge(self, call: Call) -> dict[str, Any]:
        reject_unknown(call.params, ("keep_id", "keep_version", "merge_id", "merge_version", *CONTACT_FIELDS))
        keep_id = require_int(call.params, "keep_id", 1)
        keep_version = require_int(call.params, "keep_version", 1)
        merge_id = require_int(call.params, "merge_id", 1)
        merge_version = require_int(call.params, "merge_version", 1)
        fields = clean_contact_fields(call.params, partial=True)
        return await self.shop.mutate(
            call, lambda tx: self.duplicates.merge(tx, keep_id, keep_version, merge_id, merge_version, fields)
        )
