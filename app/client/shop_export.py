"""Everything out again: every contact or every order, through the contract (paging through `contacts.list`
and `orders.list`), as CSV with a header or as JSON. The contacts CSV is one the importer reads back as it is
(the shop's own bookkeeping columns, id, version, created_at, ..., are recognised and not imported as data).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from app.client.shop_client import ShopClient

KINDS = ("contacts", "orders")
FORMATS = ("csv", "json")

CONTACT_COLUMNS = ("id", "name", "email", "phone", "address", "waist_cm", "hip_cm", "length_cm", "notes",
                   "created_at", "updated_at", "updated_by", "version")
ORDER_COLUMNS = ("id", "number", "contact_id", "contact_name", "status", "items", "total_pence", "notes",
                 "placed_at", "updated_at", "updated_by", "version")


async def fetch(client: ShopClient, kind: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of the kind, and the seq of the snapshot's first page."""
    if kind not in KINDS:
        raise ValueError(f"cannot export {kind!r}: choose {' or '.join(KINDS)}")
    return await client.list_all(f"{kind}.list")


def _number(value: Any) -> str:
    return "" if value is None else f"{float(value):g}"


def contacts_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CONTACT_COLUMNS)
    for c in items:
        m = c.get("measurements") or {}
        writer.writerow([c["id"], c["name"], c["email"], c["phone"], c["address"], _number(m.get("waist_cm")),
                         _number(m.get("hip_cm")), _number(m.get("length_cm")), c["notes"], c["created_at"],
                         c["updated_at"], c["updated_by"], c["version"]])
    return out.getvalue()


def orders_csv(items: list[dict[str, Any]], names: dict[int, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ORDER_COLUMNS)
    for o in items:
        writer.writerow([o["id"], o["number"], o["contact_id"], names.get(o["contact_id"], ""), o["status"],
                         json.dumps(o["items"], ensure_ascii=False), o["total_pence"], o["notes"], o["placed_at"],
                         o["updated_at"], o["updated_by"], o["version"]])
    return out.getvalue()


async def export_text(client: ShopClient, kind: str, fmt: str) -> tuple[str, int]:
    """The export as text, and how many items it holds."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose {' or '.join(FORMATS)}")
    items, seq = await fetch(client, kind)
    if fmt == "json":
        body = {"kind": kind, "seq": seq, "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "count": len(items), "items": items}
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n", len(items)
    if kind == "contacts":
        return contacts_csv(items), len(items)
    contacts, _ = await client.list_all("contacts.list", {"merged": True})
    return orders_csv(items, {c["id"]: c["name"] for c in contacts}), len(items)
