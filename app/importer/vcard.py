"""vCard 3.0 and 4.0 files (a phone's contacts export) into SourceRecords, read with vobject.

The file is cut into cards at their BEGIN:VCARD/END:VCARD lines (so a broken card is reported with its line
number and the others are still read); vobject reads each card. FN (or N) is the name; the first EMAIL, TEL
and ADR fill the contact's fields, further ones and ORG, TITLE, BDAY, URL, NICKNAME, ... are kept as extras;
NOTE goes to the notes, REV is the record's time, UID its key. Pictures (PHOTO, LOGO) cannot be kept and
are reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import vobject

from app.importer.records import Problem, RecordBuilder, SourceRecord, compose_address

LABELS = {
    "ORG": "company", "TITLE": "title", "ROLE": "role", "BDAY": "birthday", "ANNIVERSARY": "anniversary",
    "URL": "web", "NICKNAME": "nickname", "CATEGORIES": "categories", "GENDER": "gender", "LANG": "language",
    "IMPP": "messaging", "X-SKYPE": "skype", "RELATED": "related", "TZ": "time zone", "GEO": "location",
}
SKIPPED = {"VERSION", "PRODID", "FN", "N", "X-ABLABEL", "X-ABUID", "CLIENTPIDMAP", "KIND", "SOURCE",
           "X-ABSHOWAS", "X-ABADR", "SORT-STRING"}
PICTURES = {"PHOTO", "LOGO", "SOUND", "KEY"}


def read_vcards(text: str, file: str, source: str, when: datetime) -> tuple[list[SourceRecord], list[Problem]]:
    records: list[SourceRecord] = []
    problems: list[Problem] = []
    for line, card_text in _cards(text, file, problems):
        try:
            card = vobject.readOne(card_text)
        except Exception as exc:  # vobject raises ParseError and others on a malformed card
            problems.append(Problem(file, line, f"this vCard cannot be read ({_short(exc)}); it was not imported."))
            continue
        builder = _builder(card, file, line, problems)
        if not builder.empty():
            records.append(builder.build(source, file, line, when, problems))
    return records, problems


def _cards(text: str, file: str, problems: list[Problem]) -> list[tuple[int, str]]:
    cards: list[tuple[int, str]] = []
    start: int | None = None
    lines: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        word = raw.strip().upper()
        if word.startswith("BEGIN:VCARD"):
            if start is not None:
                problems.append(Problem(file, start, "this vCard has no END:VCARD; it was not imported."))
            start, lines = number, [raw]
        elif start is not None:
            lines.append(raw)
            if word.startswith("END:VCARD"):
                cards.append((start, "\r\n".join(lines) + "\r\n"))
                start, lines = None, []
    if start is not None:
        problems.append(Problem(file, start, "this vCard has no END:VCARD; it was not imported."))
    return cards


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:120] or type(exc).__name__


def _label(child: Any, card: Any, kind: str) -> str:
    """'phone (work)': the TYPE parameters or the group's X-ABLabel."""
    words: list[str] = []
    for value in child.params.get("TYPE", []):
        for word in str(value).split(","):
            word = word.strip().strip('"').lower()
            if word and word not in ("internet", "voice", "pref", "x400") and word not in words:
                words.append(word)
    if child.group:
        for other in card.getChildren():
            if other.group == child.group and other.name == "X-ABLABEL":
                words.append(str(other.value).strip("_$!<>").lower())
    return f"{kind} ({', '.join(words)})" if words else kind


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value if str(v).strip())
    return str(value)


def _builder(card: Any, file: str, line: int, problems: list[Problem]) -> RecordBuilder:
    builder = RecordBuilder()
    name = ""
    fn = getattr(card, "fn", None)
    if fn is not None and str(fn.value).strip():
        name = str(fn.value).strip()
    elif getattr(card, "n", None) is not None:
        n = card.n.value
        name = " ".join(_text(p) for p in (n.prefix, n.given, n.additional, n.family, n.suffix) if _text(p).strip())
    if name:
        builder.add("name", "name", name)
    addresses = 0
    for child in card.getChildren():
        prop = child.name.upper()
        if prop in SKIPPED:
            continue
        if prop in PICTURES:
            problems.append(Problem(file, line, f"the {prop.lower()} of {name or 'this card'} is not imported "
                                    "(Kiltshop keeps no pictures or files)."))
            continue
        if prop == "EMAIL":
            builder.add("email", _label(child, card, "e-mail"), _text(child.value))
        elif prop == "TEL":
            builder.add("phone", _label(child, card, "phone"), _text(child.value))
        elif prop == "ADR":
            adr = child.value
            lines = [_text(adr.box), _text(adr.extended), _text(adr.street), _text(adr.city), _text(adr.region)]
            address = compose_address(lines, _text(adr.code))
            country = _text(adr.country).strip()
            if country:
                address = f"{address}\n{country}" if address else country
            if addresses == 0:
                builder.add("address", "address", address)
                if _text(adr.code).strip():
                    builder.single["postcode"] = _text(adr.code).strip()
            else:
                builder.add("extra", _label(child, card, "address"), ", ".join(address.splitlines()))
            addresses += 1
        elif prop == "NOTE":
            builder.add("notes", "note", _text(child.value))
        elif prop == "REV":
            builder.add("updated", "revised", _text(child.value))
        elif prop == "UID":
            builder.add("key", "uid", _text(child.value))
        else:
            label = LABELS.get(prop) or prop.lower().removeprefix("x-").replace("-", " ")
            builder.add("extra", label, _text(child.value))
    return builder
