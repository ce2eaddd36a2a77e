"""Handlers of the possible-duplicates queue and contacts.merge (app/store/duplicate_store.py does the work).

Their parameters are decoded and checked against the declared models before a handler runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.domain import params as p
from app.service.serving import Shop, mutate, serves

if TYPE_CHECKING:
    from app.messaging.rpc_server import Call


@serves("contacts.duplicates")
async def contacts_duplicates(shop: Shop, call: Call, q: p.ContactsDuplicates) -> dict[str, Any]:
    return await shop.duplicates.list_pairs(q.status, q.limit, q.position())


@serves("contacts.flag_duplicate")
async def contacts_flag_duplicate(shop: Shop, call: Call, q: p.ContactsFlagDuplicate) -> dict[str, Any]:
    return await mutate(shop, call, lambda tx: shop.duplicates.flag(tx, q.first_id, q.second_id, q.score,
                                                                    q.reason or ""))


@serves("contacts.keep_apart")
async def contacts_keep_apart(shop: Shop, call: Call, q: p.ContactsKeepApart) -> dict[str, Any]:
    return await mutate(shop, call, lambda tx: shop.duplicates.keep_apart(tx, q.id, q.version))


@serves("contacts.merge")
async def contacts_merge(shop: Shop, call: Call, q: p.ContactsMerge) -> dict[str, Any]:
    fields = q.contact_fields()
    return await mutate(shop, call, lambda tx: shop.duplicates.merge(tx, q.keep_id, q.keep_version, q.merge_id,
                                                                     q.merge_version, fields))
