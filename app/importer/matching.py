"""When two records are the same person, and which value of a field wins.

- **Certain**: the same e-mail address (case and spaces do not count). Also a record that agrees with the
  other in every field both have, with the same name and the same phone or postcode (an earlier import of
  the very same record, say): nothing about them differs, so there is nothing to review.
- **Probable**: names alike (rapidfuzz token_sort_ratio of the plain names at least PROBABLE_NAME_SCORE)
  and the same postcode or the same phone. These are never merged silently: they are listed for review.
- Anything weaker (the same name alone, the same phone with another name) stays separate.

Field by field, the **newer non-empty value wins**: each value carries the time of its record (the row's own
"last updated" column or vCard REV, else the file's date) or, for the shop's contact, its `updated_at`.
Values that mean the same (an e-mail in capitals, a phone written +44 or 0) are one value; among them the
best written one is kept (mixed case over all capitals, accents over none).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz

PROBABLE_NAME_SCORE = 85  # out of 100

UK_POSTCODE_RE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\b", re.IGNORECASE)

TEXT_FIELDS = ("name", "email", "phone", "address")
MEASURE_FIELDS = ("waist_cm", "hip_cm", "length_cm")
LABELS = {
    "name": "name", "email": "e-mail", "phone": "phone", "address": "address",
    "waist_cm": "waist", "hip_cm": "hip", "length_cm": "length",
}


# -- normalising ------------------------------------------------------------------------------------


def norm_email(value: str | None) -> str:
    return (value or "").strip().casefold()


def norm_phone(value: str | None) -> str:
    """Digits only, UK numbers in their national form: '+44 (0)1838 400200' and '01838 400200' agree."""
    text = (value or "").strip().lower().removeprefix("tel:")
    text = text.replace("(0)", "")
    digits = re.sub(r"\D", "", text)
    if text.startswith("+44") or text.startswith("0044"):
        digits = "0" + digits.removeprefix("00").removeprefix("44")
    elif text.startswith("+") or text.startswith("00"):
        digits = "+" + digits.removeprefix("00")
    return digits


def norm_postcode(value: str | None) -> str:
    return re.sub(r"\s+", "", (value or "")).upper()


def find_postcode(text: str | None) -> str:
    """The UK postcode in an address, normalised ('' when there is none)."""
    found = list(UK_POSTCODE_RE.finditer(text or ""))
    if not found:
        return ""
    last = found[-1]  # a postcode ends the address
    return (last.group(1) + last.group(2)).upper()


def plain(text: str | None) -> str:
    """Case, accents and punctuation removed: 'Mhairi Ó Briain' -> 'mhairi o briain'."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", letters).split())


def norm_name(value: str | None) -> str:
    return plain(value)


def norm_address(value: str | None) -> str:
    return " ".join(re.sub(r"[,;\n\r]+", " ", (value or "").casefold()).split())


def name_score(a: str, b: str) -> int:
    if not norm_name(a) or not norm_name(b):
        return 0
    return round(fuzz.token_sort_ratio(norm_name(a), norm_name(b)))


def equivalent(field: str, a: Any, b: Any) -> bool:
    """Whether two values of a field say the same thing."""
    if field in MEASURE_FIELDS:
        return a is not None and b is not None and abs(float(a) - float(b)) < 0.05
    if field == "email":
        return norm_email(a) == norm_email(b)
    if field == "phone":
        return norm_phone(a) == norm_phone(b)
    if field == "name":
        return norm_name(a) == norm_name(b)
    if field == "address":
        return norm_address(a) == norm_address(b)
    return str(a or "").strip() == str(b or "").strip()


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# -- who is who -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What matching looks at, for a record or a contact."""

    names: tuple[str, ...]
    emails: frozenset[str]
    phones: frozenset[str]
    postcodes: frozenset[str]


def facts_of(names: Iterable[str], emails: Iterable[str], phones: Iterable[str],
             postcodes: Iterable[str]) -> Facts:
    return Facts(
        names=tuple(n for n in names if norm_name(n)),
        emails=frozenset(e for e in map(norm_email, emails) if e),
        phones=frozenset(p for p in map(norm_phone, phones) if len(p) >= 6),
        postcodes=frozenset(p for p in map(norm_postcode, postcodes) if p),
    )


def merge_facts(facts: Sequence[Facts]) -> Facts:
    return Facts(
        names=tuple(n for f in facts for n in f.names),
        emails=frozenset().union(*(f.emails for f in facts)),
        phones=frozenset().union(*(f.phones for f in facts)),
        postcodes=frozenset().union(*(f.postcodes for f in facts)),
    )


def same_email(a: Facts, b: Facts) -> bool:
    return bool(a.emails & b.emails)


def agrees_fully(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same name, the same phone or postcode, and no field that both have differs."""
    if not norm_name(a.get("name")) or norm_name(a.get("name")) != norm_name(b.get("name")):
        return False
    phone = not is_empty(a.get("phone")) and equivalent("phone", a.get("phone"), b.get("phone"))
    code_a, code_b = find_postcode(a.get("address")), find_postcode(b.get("address"))
    if not (phone or (code_a and code_a == code_b)):
        return False
    for field in (*TEXT_FIELDS, *MEASURE_FIELDS):
        x, y = a.get(field), b.get(field)
        if not is_empty(x) and not is_empty(y) and not equivalent(field, x, y):
            return False
    return True


def probable(a: Facts, b: Facts, threshold: int = PROBABLE_NAME_SCORE) -> tuple[int, str] | None:
    """(score, reason) when a and b are probably the same person; None otherwise."""
    shared = []
    if a.phones & b.phones:
        shared.append("phone")
    if a.postcodes & b.postcodes:
        shared.append("postcode")
    if not shared:
        return None
    score = max((name_score(x, y) for x in a.names for y in b.names), default=0)
    if score < threshold:
        return None
    alike = "the same name" if score == 100 else f"similar names ({score}%)"
    return score, f"{alike} and the same {' and '.join(shared)}"


# -- which value wins --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One value of one field, from a record (source = its source name) or the shop's contact (source '')."""

    value: Any
    at: datetime
    rank: int  # breaks ties between equal times: higher wins (the shop's contact is highest)
    source: str


def _written_well(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    letters = [c for c in value if c.isalpha()]
    mixed = any(c.isupper() for c in letters) and any(c.islower() for c in letters)
    accented = any(ord(c) > 127 for c in letters)
    return 2 * mixed + accented


def pick(field: str, candidates: Sequence[Candidate]) -> tuple[Candidate | None, list[Candidate]]:
    """The winning value (newest non-empty; among values that mean the same, the best written, and the shop's
    own when it is written as well: no change for a comma) and the losers: the values that differ from it."""
    present = [c for c in candidates if not is_empty(c.value)]
    if not present:
        return None, []
    newest = max(present, key=lambda c: (c.at, c.rank))
    same = [c for c in present if equivalent(field, c.value, newest.value)]
    winner = max(same, key=lambda c: (_written_well(c.value), c.source == "", c.at, c.rank))
    losers = [c for c in present if not equivalent(field, c.value, winner.value)]
    return winner, losers
