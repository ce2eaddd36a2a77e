"""The workshop's and shipping's words and small HTML, without Qt: dates, items, history, details.

Amounts and names sit in no-wrap spans so a narrow pane never breaks "£480.00" or "MacGregor" mid-word, and a
column shows every date in one format."""

from __future__ import annotations

import html
from typing import Any

from app.client.live_mirror import Entity
from app.client.people import person_name
from app.client.presenters.words import local_time
from app.domain.money import money
from app.domain.order_states import OrderStatus
from ui.views.text import STATUS_WORDS

LOCKED_STATUSES = frozenset({OrderStatus.IN_PROGRESS.value, OrderStatus.COMPLETED.value})

LOCK_WORDS = {
    "in_progress": ("<p style='color:#7a4a00'><b>Locked:</b> work has started, so the customer can no longer "
                    "change or cancel this order.</p>"),
    "completed": ("<p style='color:#7a4a00'><b>Finished:</b> ready for collection; the customer can no longer "
                  "change or cancel it.</p>"),
}

ACTION_WORDS = {
    "placed": "placed the order",
    "amended": "changed the order",
    "started": "started work",
    "completed": "marked it completed",
    "collected": "marked it collected",
    "cancelled": "cancelled the order",
}


# -- words ------------------------------------------------------------------------------------------


def day_text(at: str | None) -> str:
    moment = local_time(at)
    return f"{moment.day} {moment:%b %Y}" if moment else ""


def when_text(at: str | None) -> str:
    moment = local_time(at)
    return f"{moment.day} {moment:%b %Y, %H:%M}" if moment else (at or "")


def item_text(item: dict[str, Any]) -> str:
    tartan = item.get("tartan") or ""
    return f"{item['quantity']} × {item['description']}" + (f" ({tartan})" if tartan else "")


def items_summary(order: Entity) -> str:
    return ", ".join(item_text(i) for i in order.get("items") or [])


def cm(value: Any) -> str:
    if value is None or value == "":
        return "not taken"
    number = float(value)
    return f"{number:g} cm"


def _change_text(field: str, change: Any) -> str:
    old, new = change if isinstance(change, list | tuple) and len(change) == 2 else (None, change)
    if field == "status":
        return f"{STATUS_WORDS.get(str(old), old)} → {STATUS_WORDS.get(str(new), new)}"
    if field == "items":
        before = "; ".join(item_text(i) for i in old or [])
        after = "; ".join(item_text(i) for i in new or [])
        return f"items were {before or 'none'}; now {after or 'none'}"
    if field == "notes":
        return f"notes were “{old or ''}”; now “{new or ''}”"
    return f"{field}: {old} → {new}"


def history_html(entries: list[dict[str, Any]]) -> str:
    rows = []
    for entry in reversed(entries):  # newest first: what changed last is what he wants to see
        action = str(entry.get("action", ""))
        changes = entry.get("changes") or {}
        detail = ""
        if action == "amended":
            detail = "<br>".join(html.escape(_change_text(f, c)) for f, c in changes.items())
        # The date on a line of its own: beside it, a narrow pane would break the person's name mid-word.
        rows.append(
            f"<p style='margin-top:4px; margin-bottom:0'><span style='color:#5f5f5f'>"
            f"{html.escape(when_text(entry.get('at')))}</span><br>"
            f"<b>{html.escape(person_name(entry.get('actor')))}</b> "
            f"{html.escape(ACTION_WORDS.get(action, action))}"
            + (f"<br><span style='color:#5f5f5f'>{detail}</span>" if detail else "")
            + "</p>"
        )
    return "".join(rows) if rows else "<p>No history yet.</p>"


def details_html(order: Entity, contact: dict[str, Any] | None, history: str) -> str:
    status = str(order["status"])
    lock = LOCK_WORDS.get(status, "<p style='color:#5f5f5f'>Not started: the customer can still change or "
                                  "cancel it.</p>")
    c = contact or {}
    name = c.get("name") or f"Customer {order['contact_id']}"
    lines = [f"<b style='white-space:nowrap'>{html.escape(name)}</b>"]
    address = html.escape(c.get("address") or "").replace("\n", "<br>")
    lines.append(address or "<i>no address given</i>")
    if c.get("phone"):
        lines.append(f"Phone: {html.escape(c['phone'])}")
    if c.get("email"):
        email = html.escape(c["email"])
        lines.append(f"Email: <a href='mailto:{email}'>{email}</a>")
    measurements = c.get("measurements") or {}
    contact_notes = (
        f"<p><b>About the customer:</b> {html.escape(c['notes'])}</p>" if c.get("notes") else ""
    )
    return (
        f"<h3 style='margin-bottom:2px'>Order {html.escape(order['number'])} · "
        f"{html.escape(STATUS_WORDS.get(status, status))}</h3>"
        f"<p style='color:#5f5f5f'>Placed {html.escape(when_text(order.get('placed_at')))}</p>{lock}"
        f"<h4>Customer</h4><p>{'<br>'.join(lines)}</p>"
        "<h4>Measurements</h4><table cellspacing='4'>"
        f"<tr><td>Waist</td><td><b>{cm(measurements.get('waist_cm'))}</b></td></tr>"
        f"<tr><td>Hip</td><td><b>{cm(measurements.get('hip_cm'))}</b></td></tr>"
        f"<tr><td>Length</td><td><b>{cm(measurements.get('length_cm'))}</b></td></tr></table>"
        f"{contact_notes}<h4>Items</h4>{items_html(order)}<h4>History</h4>{history}"
    )


def items_html(order: dict[str, Any]) -> str:
    """The items for a narrow pane: what to make (wrapping between words) and its amount (never wrapping)."""
    nowrap = "style='white-space:nowrap'"
    rows = []
    for i in order["items"]:
        tartan = f" ({html.escape(i['tartan'])})" if i.get("tartan") else ""
        each = (f"<br><span style='color:#5f5f5f'>{i['quantity']} at {money(i['unit_price_pence'])}</span>"
                if i["quantity"] > 1 else "")
        rows.append(f"<tr><td width='100%'>{i['quantity']} × {html.escape(i['description'])}{tartan}{each}</td>"
                    f"<td align='right' valign='top' {nowrap}>"
                    f"&nbsp;{money(i['quantity'] * i['unit_price_pence'])}</td></tr>")
    notes = f"<p><b>Notes:</b> {html.escape(order['notes'])}</p>" if order.get("notes") else ""
    return (
        f"<table cellspacing='2' width='100%'>{''.join(rows)}"
        f"<tr><td><b>Total</b></td><td align='right' {nowrap}><b>&nbsp;{money(order['total_pence'])}</b></td></tr>"
        f"</table>{notes}"
    )


def pickup_html(order: Entity, contact: dict[str, Any]) -> str:
    """Shipping's detail pane: where to go, whom to call, what to bill."""
    lines = [f"<b style='white-space:nowrap'>{html.escape(contact.get('name') or '')}</b>"]
    address = html.escape(contact.get("address") or "").replace("\n", "<br>")
    lines.append(address or "<i>no address given</i>")
    if contact.get("phone"):
        lines.append(f"Phone: <span style='white-space:nowrap'>{html.escape(contact['phone'])}</span>")
    if contact.get("email"):
        lines.append(f"Email: {html.escape(contact['email'])}")
    return (f"<h3>Order {html.escape(order['number'])}</h3><p>{'<br>'.join(lines)}</p>"
            f"<p style='color:#5f5f5f'>Ready since {html.escape(when_text(order.get('updated_at')))}</p>"
            f"{items_html(order)}")
