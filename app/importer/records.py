"""What the importer reads a list into: one SourceRecord per person, the Problems met on the way, and the
RecordBuilder that collects a record's values column by column (CSV, app/importer/reading.py) or property by
property (vCard, app/importer/vcard.py). No value is dropped: what has no contact field is kept as an extra,
which ends up in the contact's notes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.validation import EMAIL_RE, PHONE_RE
from app.importer.matching import find_postcode, norm_postcode

SINGLE = ("name", "email", "phone", "postcode", "updated", "key")  # first non-empty wins, others are extras
MEASURES = ("waist_cm", "hip_cm", "length_cm")
MAX_NAME = 200


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass(frozen=True)
class SourceRecord:
    """One person as one old list knows them."""

    source: str  # the list's name, e.g. "sales"
    file: str  # the file's name, for messages
    line: int  # where the record starts
    key: str  # its id in the source ("" when the source has none)
    at: datetime  # when it was last true: its own time, else the file's
    fields: dict[str, Any]  # name, email, phone, address (postcode included), notes, waist_cm, hip_cm, length_cm
    extras: tuple[tuple[str, str], ...] = ()  # (label, value) with no contact field, in file order
    more_emails: tuple[str, ...] = ()  # further addresses and numbers, for matching (also in extras)
    more_phones: tuple[str, ...] = ()
    postcode: str = ""  # normalised, for matching

    @property
    def origin(self) -> str:
        return f"{self.file} line {self.line}"

    @property
    def content_hash(self) -> str:
        body = json.dumps([sorted(self.fields.items()), list(self.extras)], ensure_ascii=False, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:24]


# -- values --------------------------------------------------------------------------------------------


def clean_phone(value: str) -> str | None:
    """A phone the shop can store, or None (then it is kept as an extra)."""
    text = value.strip().removeprefix("tel:").removeprefix("TEL:").replace("\u2013", "-").replace("/", " ")
    text = " ".join(text.split())
    return text if PHONE_RE.match(text) else None


def clean_email(value: str) -> str | None:
    text = value.strip().removeprefix("mailto:").removeprefix("MAILTO:").strip().lower()
    return text if EMAIL_RE.match(text) and len(text) <= 254 else None


def parse_centimetres(value: str) -> float | None:
    """'86', '86.5', '86,5 cm', '34 in' or '34"' in centimetres; None when it is not a size."""
    text = value.strip().lower().replace(",", ".")
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(cm|in|inch|inches|\"|”)?", text)
    if not match:
        return None
    number = float(match.group(1))
    if match.group(2) and match.group(2) not in ("cm",):
        number = round(number * 2.54, 1)
    return number if 10 <= number <= 400 else None


_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%dT%H%M%S%z", "%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S", "%Y%m%d",
                 "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")


def parse_list_time(value: str) -> datetime | None:
    """A date or time as UK lists write it (day before month), in UTC; None when it is not one."""
    text = value.strip().replace("Z", "+0000") if value.strip().endswith("Z") else value.strip()
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def one_line(text: str) -> str:
    return ", ".join(part.strip() for part in text.splitlines() if part.strip())


def compose_address(lines: Iterable[str], postcode: str) -> str:
    """Address lines, then the postcode on its own line unless the address already has it."""
    address = "\n".join(line.strip() for line in lines if line and line.strip())
    if postcode.strip() and norm_postcode(postcode) not in norm_postcode(address):
        address = f"{address}\n{postcode.strip()}" if address else postcode.strip()
    return address


class RecordBuilder:
    """Collects one record's values column by column (or property by property)."""

    def __init__(self) -> None:
        self.single: dict[str, str] = {}
        self.first_name = ""
        self.last_name = ""
        self.address_lines: list[str] = []
        self.notes: list[str] = []
        self.measures: dict[str, float] = {}
        self.extras: list[tuple[str, str]] = []
        self.more_emails: list[str] = []
        self.more_phones: list[str] = []
        self.updated: datetime | None = None

    def add(self, target: str, label: str, value: str) -> None:
        value = value.strip()
        if not value or target == "meta":
            return
        if target == "email":
            email = clean_email(value)
            if email is None:
                self.extras.append((label, value))
                return
            if "email" in self.single:
                if email != self.single["email"]:
                    self.more_emails.append(email)
                    self.extras.append((label, email))
                return
            self.single["email"] = email
        elif target == "phone":
            phone = clean_phone(value)
            if phone is None:
                self.extras.append((label, value))
                return
            if "phone" in self.single:
                if phone != self.single["phone"]:
                    self.more_phones.append(phone)
                    self.extras.append((label, phone))
                return
            self.single["phone"] = phone
        elif target == "updated":
            when = parse_list_time(value)
            if when is None:
                self.extras.append((label, value))
            elif self.updated is None:
                self.updated = when
        elif target in SINGLE:
            if target in self.single:
                if value != self.single[target]:
                    self.extras.append((label, value))
            else:
                self.single[target] = value
        elif target == "first_name":
            self.first_name = f"{self.first_name} {value}".strip()
        elif target == "last_name":
            self.last_name = f"{self.last_name} {value}".strip()
        elif target == "address":
            self.address_lines.extend(line for line in value.splitlines() if line.strip())
        elif target == "notes":
            self.notes.append(value)
        elif target in MEASURES:
            size = parse_centimetres(value)
            if size is None or target in self.measures:
                self.extras.append((label, value))
            else:
                self.measures[target] = size
        else:
            self.extras.append((label, value))

    def empty(self) -> bool:
        return not (self.single or self.first_name or self.last_name or self.address_lines or self.notes
                    or self.measures or self.extras)

    def build(self, source: str, file: str, line: int, file_date: datetime,
              problems: list[Problem]) -> SourceRecord:
        name = self.single.get("name") or f"{self.first_name} {self.last_name}".strip()
        if not name:
            name = self.single.get("email") or self.single.get("phone") or "Unnamed contact"
            problems.append(Problem(file, line, f"this record has no name; it is imported as {name!r}."))
        if len(name) > MAX_NAME:
            self.extras.append(("full name", name))
            name = name[:MAX_NAME].rstrip()
        postcode = self.single.get("postcode", "")
        address = compose_address(self.address_lines, postcode)
        fields: dict[str, Any] = {
            "name": name,
            "email": self.single.get("email", ""),
            "phone": self.single.get("phone", ""),
            "address": address,
            "notes": "\n".join(self.notes),
            **{m: self.measures.get(m) for m in MEASURES},
        }
        return SourceRecord(
            source=source, file=file, line=line, key=self.single.get("key", ""),
            at=self.updated or file_date, fields=fields, extras=tuple(self.extras),
            more_emails=tuple(self.more_emails), more_phones=tuple(self.more_phones),
            postcode=norm_postcode(postcode) or find_postcode(address),
        )
