"""The words of a notice mail: what is ready or ordered, for whom, where to collect it and what to bill.

Pure functions of the event (and the customer's contact): nothing here sends or stores anything. The order
number is always in the subject. Money is shown in pounds with pence; times in the reader's time zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.money import money
from app.domain.timestamps import parse_time

MAX_NUMBERS_IN_SUBJECT = 8


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str


@dataclass(frozen=True)
class Notice:
    """One event and the customer it is about (None when the contact cannot be found)."""

    event: Mapping[str, Any]
    contact: Mapping[str, Any] | None


def _when(at: str | None, zone: str) -> str:
    if not at:
        return "(time unknown)"
    try:
        moment = parse_time(at).astimezone(ZoneInfo(zone))
    except ValueError:
        return at
    return f"{moment.day} {moment:%b %Y at %H:%M} ({moment.tzname()})"


def _customer(notice: Notice) -> dict[str, Any]:
    contact = dict(notice.contact or {})
    contact.setdefault("name", f"customer {notice.event['data'].get('contact_id')}")
    return contact


def _item_line(item: Mapping[str, Any]) -> str:
    tartan = f" ({item['tartan']})" if item.get("tartan") else ""
    return f"{item['quantity']} × {item['description']}{tartan}"


def _bill_lines(order: Mapping[str, Any]) -> list[str]:
    rows = [(_item_line(i), money(i["unit_price_pence"]), money(i["quantity"] * i["unit_price_pence"]))
            for i in order["items"]]
    width = max([len(r[0]) for r in rows] + [14])
    lines = [f"  {what:<{width}}  at {each:>10}  = {amount:>10}" for what, each, amount in rows]
    lines.append(f"  {'Total to bill':<{width}}  {'':>13}  {money(order['total_pence']):>12}")
    return lines


def _address_lines(label: str, contact: Mapping[str, Any]) -> list[str]:
    lines = [line.strip() for line in str(contact.get("address") or "").splitlines() if line.strip()]
    if not lines:
        return [f"{label:<14}(no address given)"]
    return [f"{label:<14}{lines[0]}", *(f"{'':<14}{line}" for line in lines[1:])]


def _contact_lines(contact: Mapping[str, Any]) -> list[str]:
    lines = []
    if contact.get("phone"):
        lines.append(f"{'Phone:':<14}{contact['phone']}")
    if contact.get("email"):
        lines.append(f"{'E-mail:':<14}{contact['email']}")
    return lines


def _notes(order: Mapping[str, Any]) -> list[str]:
    return [f"Notes: {order['notes']}", ""] if order.get("notes") else []


def ready_section(notice: Notice, collect_from: str, zone: str) -> list[str]:
    order = notice.event["data"]
    contact = _customer(notice)
    return [
        f"Order {order['number']} for {contact['name']} is finished and ready to collect.",
        f"Marked completed on {_when(notice.event.get('at'), zone)} by {notice.event.get('actor', 'the workshop')}.",
        "",
        f"{'Collect from:':<14}{collect_from}",
        f"{'Customer:':<14}{contact['name']}",
        *_address_lines("Deliver to:", contact),
        *_contact_lines(contact),
        "",
        "What to bill:",
        *_bill_lines(order),
        "",
        *_notes(order),
    ]


def _cm(value: Any) -> str:
    return "not taken" if value is None else f"{float(value):g} cm"


def placed_section(notice: Notice, zone: str) -> list[str]:
    order = notice.event["data"]
    contact = _customer(notice)
    measurements = contact.get("measurements") or {}
    return [
        f"{contact['name']} placed order {order['number']} on {_when(order.get('placed_at'), zone)}.",
        "",
        "What to make:",
        *(f"  {_item_line(i)}" for i in order["items"]),
        "",
        f"{'For:':<14}{contact['name']}",
        *_address_lines("Address:", contact),
        *_contact_lines(contact),
        "",
        "Measurements: " + ", ".join([
            f"waist {_cm(measurements.get('waist_cm'))}",
            f"hip {_cm(measurements.get('hip_cm'))}",
            f"length {_cm(measurements.get('length_cm'))}",
        ]),
        f"Total:        {money(order['total_pence'])}",
        "",
        *_notes(order),
    ]


FOOTER = [
    "-- ",
    "Sent by the kilt shop's notifier. Change what you receive, when, or stop these mails:",
    "open the Kiltshop app and choose Notice settings…, or run `kiltshop notices`.",
]


def compose(notice: Notice, collect_from: str = "the workshop", zone: str = "Europe/London") -> Mail:
    """One mail about one event."""
    order = notice.event["data"]
    contact = _customer(notice)
    if notice.event["event"] == "order.completed":
        subject = (f"Kilt ready to collect: order {order['number']} for {contact['name']}, "
                   f"{money(order['total_pence'])} to bill")
        body = ready_section(notice, collect_from, zone)
    else:
        first = _item_line(order["items"][0]) if order["items"] else "no items"
        more = f" and {len(order['items']) - 1} more" if len(order["items"]) > 1 else ""
        subject = f"New order {order['number']} from {contact['name']}: {first}{more}"
        body = placed_section(notice, zone)
    return Mail(subject, "\n".join([*body, *FOOTER]) + "\n")


def _numbers(notices: Sequence[Notice]) -> str:
    numbers = [str(n.event["data"]["number"]) for n in notices]
    shown = ", ".join(numbers[:MAX_NUMBERS_IN_SUBJECT])
    return shown + (f" and {len(numbers) - MAX_NUMBERS_IN_SUBJECT} more" if len(numbers) > MAX_NUMBERS_IN_SUBJECT
                    else "")


def compose_digest(notices: Sequence[Notice], collect_from: str = "the workshop",
                   zone: str = "Europe/London") -> Mail:
    """One daily mail about several events, oldest first."""
    ordered = sorted(notices, key=lambda n: int(n.event.get("seq", 0)))
    ready = [n for n in ordered if n.event["event"] == "order.completed"]
    placed = [n for n in ordered if n.event["event"] != "order.completed"]
    parts = []
    if ready:
        parts.append(f"{len(ready)} {'kilt' if len(ready) == 1 else 'kilts'} ready to collect")
    if placed:
        parts.append(f"{len(placed)} new {'order' if len(placed) == 1 else 'orders'}")
    subject = f"Kiltshop digest: {' and '.join(parts)} ({_numbers(ordered)})"
    lines: list[str] = []
    if ready:
        due = sum(int(n.event["data"]["total_pence"]) for n in ready)
        lines += [f"Ready to collect: {len(ready)}, {money(due)} to bill in all. Collect from {collect_from}.", ""]
        for notice in ready:
            lines += [f"== Order {notice.event['data']['number']} ==", *ready_section(notice, collect_from, zone)]
    if placed:
        lines += [f"New orders: {len(placed)}.", ""]
        for notice in placed:
            lines += [f"== Order {notice.event['data']['number']} ==", *placed_section(notice, zone)]
    return Mail(subject, "\n".join([*lines, *FOOTER]) + "\n")


def mail_id(event_ids: Sequence[str], recipient: str, sender: str) -> str:
    """The Message-ID of the mail for these events to this recipient: the same every time it is made, so a
    mail sent again after a crash is recognisably the same mail."""
    digest = hashlib.sha256("|".join([*sorted(event_ids), recipient]).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "kiltshop.invalid"
    return f"<{digest}.notice@{domain}>"


def build_message(mail: Mail, sender: str, to: str, message_id: str, events: Sequence[Mapping[str, Any]],
                  date: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["X-Kiltshop-Event"] = ", ".join(sorted({str(e["event"]) for e in events}))
    message["X-Kiltshop-Order"] = ", ".join(str(e["data"]["number"]) for e in events)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    return message
