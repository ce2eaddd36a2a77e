"""Human-readable tables and sentences for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.money import money
from app.domain.order_states import STATUS_WORDS

__all__ = ["STATUS_WORDS"]  # main.py words a status change with it



def parse_money(text: str) -> int:
    """'450', '450.5', '£450.50' -> pence; ValueError with a plain message otherwise."""
    cleaned = text.strip().lstrip("£").replace(",", "")
    try:
        pounds, _, pence = cleaned.partition(".")
        if not pounds.isdigit() or (pence and (not pence.isdigit() or len(pence) > 2)):
            raise ValueError
        return int(pounds) * 100 + int((pence or "0").ljust(2, "0"))
    except ValueError:
        raise ValueError(f"{text!r} is not an amount of money (write it like 450 or 450.50).") from None


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def one_line(text: str, width: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def contacts_table(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No contacts."
    return table(
        ["ID", "Name", "E-mail", "Phone", "Address"],
        [[c["id"], c["name"], c["email"], c["phone"], one_line(c["address"], 36)] for c in items],
    )


def orders_table(items: list[dict[str, Any]], names: dict[int, str] | None = None) -> str:
    if not items:
        return "No orders."
    names = names or {}
    return table(
        ["Order", "Status", "Customer", "Items", "Total"],
        [
            [o["number"], STATUS_WORDS.get(o["status"], o["status"]),
             names.get(o["contact_id"], f"contact {o['contact_id']}"),
             one_line("; ".join(f"{i['quantity']} × {i['description']}" for i in o["items"]), 40),
             money(o["total_pence"])]
            for o in items
        ],
    )


def contact_details(c: dict[str, Any]) -> str:
    m = c.get("measurements") or {}
    lines = [
        f"{c['name']}  (contact {c['id']}, version {c['version']})",
        f"  E-mail:   {c['email'] or '-'}",
        f"  Phone:    {c['phone'] or '-'}",
        f"  Address:  {one_line(c['address'], 70) or '-'}",
        "  Measures: " + ", ".join(
            f"{k.removesuffix('_cm')} {v:g} cm" for k, v in m.items() if v is not None
        ) if any(v is not None for v in m.values()) else "  Measures: -",
        f"  Notes:    {c['notes'] or '-'}",
        f"  Changed:  {c['updated_at']} by {c['updated_by']}",
    ]
    return "\n".join(lines) + _history(c.get("history"))


def order_details(o: dict[str, Any]) -> str:
    contact = o.get("contact") or {}
    lines = [
        f"Order {o['number']}  ({STATUS_WORDS.get(o['status'], o['status'])}, version {o['version']})",
        f"  Customer: {contact.get('name', o['contact_id'])}",
        f"  Address:  {one_line(contact.get('address', ''), 70) or '-'}",
        f"  Placed:   {o['placed_at']}",
        "  Items:",
        *(
            f"    {i['quantity']} × {i['description']}"
            + (f" ({i['tartan']})" if i.get("tartan") else "")
            + f"  at {money(i['unit_price_pence'])}"
            for i in o["items"]
        ),
        f"  Total:    {money(o['total_pence'])}",
        f"  Notes:    {o['notes'] or '-'}",
    ]
    return "\n".join(lines) + _history(o.get("history"))


def _history(entries: list[dict[str, Any]] | None) -> str:
    if not entries:
        return ""
    out = ["", "  History:"]
    for h in entries:
        fields = ", ".join(sorted(h["changes"]))
        via = f" via {h['via']}" if h.get("via") else ""
        out.append(f"    {h['at']}  {h['action']} by {h['actor']}{via}" + (f" ({fields})" if fields else ""))
    return "\n".join(out)


def pickups_table(items: list[dict[str, Any]]) -> str:
    if not items:
        return "Nothing is ready for collection."
    rows = [
        [o["number"], o["contact"]["name"], one_line(o["contact"]["address"], 44), o["contact"]["phone"],
         money(o["amount_due_pence"])]
        for o in items
    ]
    total = sum(o["amount_due_pence"] for o in items)
    return table(["Order", "Customer", "Collect from", "Phone", "To bill"], rows) + (
        f"\n\n{len(items)} ready, {money(total)} to bill in all."
    )


def event_line(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    what = data.get("number") or data.get("name") or f"#{data.get('id')}"
    extra = f" -> {STATUS_WORDS.get(data['status'], data['status'])}" if "status" in data else ""
    return f"[{event.get('seq')}] {event.get('at')}  {event.get('event'):<16} {what}{extra}  by {event.get('actor')}"


# -- pickups per day, the billing summary, notice settings ------------------------------------------------


def days_table(days: list[dict[str, Any]], what: str = "Ready") -> str:
    """Count and amount per day (the service's `days`), with the grand total."""
    if not days:
        return ""
    rows = [[d["date"], d["count"], money(d["total_due_pence"])] for d in days]
    rows.append(["All days", sum(d["count"] for d in days), money(sum(d["total_due_pence"] for d in days))])
    return table(["Day", what, "To bill"], rows)


def billing_table(items: list[dict[str, Any]], days: list[dict[str, Any]]) -> str:
    """Every ready or collected order with its items and amount, then the totals per day."""
    if not items:
        return "Nothing ready or collected in this period."
    rows = []
    for o in sorted(items, key=lambda o: (o["ready_at"], o["id"])):
        state = f"collected {o['collected_at'][:10]}" if o.get("collected_at") else "waiting"
        items_text = "; ".join(
            f"{i['quantity']} × {i['description']} at {money(i['unit_price_pence'])}" for i in o["items"]
        )
        rows.append([o["ready_at"][:10], o["number"], o["contact"]["name"], one_line(items_text, 50), state,
                     money(o["amount_due_pence"])])
    listing = table(["Ready", "Order", "Customer", "Items", "Collected", "To bill"], rows)
    return f"{listing}\n\nPer day:\n{days_table(days)}"


def notice_settings_text(s: dict[str, Any]) -> str:
    email = f"on, to {s['email']}" if s["email_enabled"] else "off" + (f" (address {s['email']})" if s["email"]
                                                                        else "")
    quiet = f"{s['quiet_start']} to {s['quiet_end']}" if s["quiet_start"] else "none"
    how = f"a daily digest at {s['digest_at']}" if s["digest"] else "one mail per order"
    saved = f"version {s['version']}, saved {s['updated_at']}" if s["version"] else "never saved (defaults)"
    return "\n".join([
        f"Notices for {s['role']} (login {s['user']}), {saved}:",
        f"  E-mail:      {email}",
        f"  Quiet hours: {quiet}",
        f"  Sent as:     {how}",
        f"  Time zone:   {s['timezone']}",
    ])
