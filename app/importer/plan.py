"""The import plan: which contacts to create, which to update (and with what), which pairs to list for review.

Every record is matched against the shop's contacts and against the other records (app/importer/matching.py):
certain matches form one group, which becomes one contact (a `contacts.create`, or a `contacts.update` of the
shop's contact in the group); probable matches between groups (or with the shop's other contacts) become
review pairs. Nothing is lost: a value that loses to a newer one, and every value without a contact field,
is written into the contact's notes as "From <source> (<date>): <label>: <value>; ..." unless the contact
already holds it (in a field, in its notes, in its history, or in a contact merged into it).

Message ids are derived from the records (source, key, content) for creates and from the contact's id,
version and the change for updates, so running the same import again, after it stopped half way or after
it finished, sends the same ids: the service's idempotency ledger answers instead of creating again.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain.timestamps import parse_time
from app.domain.validation import MAX_TEXT
from app.importer.matching import (
    LABELS,
    MEASURE_FIELDS,
    PROBABLE_NAME_SCORE,
    TEXT_FIELDS,
    Candidate,
    Facts,
    agrees_fully,
    equivalent,
    facts_of,
    find_postcode,
    is_empty,
    merge_facts,
    norm_email,
    norm_name,
    pick,
    probable,
)
from app.importer.records import SourceRecord, one_line

Ref = int | str  # a shop contact's id, or the ref of a contact the plan creates
STORE_RANK = 10**9  # the shop's own value wins a tie of times
VIA_PREFIX = "kiltshop-import/"


@dataclass
class Create:
    ref: str
    message_id: str
    params: dict[str, Any]
    records: list[SourceRecord]
    via: str

    @property
    def label(self) -> str:
        return f"{self.params['name']} (new, from {', '.join(r.origin for r in self.records)})"


@dataclass
class Update:
    contact: dict[str, Any]
    message_id: str
    params: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    records: list[SourceRecord]
    via: str

    @property
    def label(self) -> str:
        return f"{self.contact['name']} (#{self.contact['id']})"


@dataclass
class Review:
    first: Ref
    second: Ref
    score: int
    reason: str
    first_label: str
    second_label: str


@dataclass
class Unchanged:
    contact: dict[str, Any]
    records: list[SourceRecord]


@dataclass
class ImportPlan:
    creates: list[Create] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.reviews)

    def summary(self) -> dict[str, Any]:
        return {
            "create": [{"ref": c.ref, "params": c.params, "from": [r.origin for r in c.records]}
                       for c in self.creates],
            "update": [{"id": u.contact["id"], "name": u.contact["name"], "params": u.params,
                        "changes": {k: list(v) for k, v in u.changes.items()},
                        "from": [r.origin for r in u.records]} for u in self.updates],
            "review": [{"first": r.first, "second": r.second, "score": r.score, "reason": r.reason,
                        "first_label": r.first_label, "second_label": r.second_label} for r in self.reviews],
            "unchanged": [{"id": u.contact["id"], "name": u.contact["name"], "from": [r.origin for r in u.records]}
                          for u in self.unchanged],
            "warnings": self.warnings,
        }


# -- helpers -------------------------------------------------------------------------------------------


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def contact_fields(contact: dict[str, Any]) -> dict[str, Any]:
    """A contact entity flattened like a record's fields."""
    measurements = contact.get("measurements") or {}
    return {**{f: contact.get(f) or "" for f in (*TEXT_FIELDS, "notes")},
            **{m: measurements.get(m) for m in MEASURE_FIELDS}}


def record_facts(record: SourceRecord) -> Facts:
    return facts_of([record.fields["name"]], [record.fields["email"], *record.more_emails],
                    [record.fields["phone"], *record.more_phones], [record.postcode])


def contact_facts(contact: dict[str, Any]) -> Facts:
    return facts_of([contact["name"]], [contact.get("email") or ""], [contact.get("phone") or ""],
                    [find_postcode(contact.get("address"))])


def parse_iso(text: str | None) -> datetime:
    """A stored time; now when it has none (a contact written before times were kept is not older)."""
    try:
        return parse_time(str(text))
    except ValueError:
        return datetime.now(UTC)


def render(field_name: str, value: Any) -> str:
    if field_name in MEASURE_FIELDS:
        return f"{float(value):g} cm"
    return one_line(str(value))


class _Groups:
    """Union-find over records ('r', index) and shop contacts ('c', id)."""

    def __init__(self) -> None:
        self.parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(self, node: tuple[str, int]) -> tuple[str, int]:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a: tuple[str, int], b: tuple[str, int]) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class _Group:
    records: list[int]
    anchors: list[int]


def _survivors(contacts: Sequence[dict[str, Any]]) -> dict[int, int | None]:
    """Each contact's id -> the live contact it is (itself, or where it was merged into); None if lost."""
    by_id = {c["id"]: c for c in contacts}
    out: dict[int, int | None] = {}
    for contact in contacts:
        current: dict[str, Any] | None = contact
        steps = 0
        while current is not None and current.get("merged_into") and steps < 100:
            current, steps = by_id.get(current["merged_into"]), steps + 1
        out[contact["id"]] = None if current is None or current.get("merged_into") else current["id"]
    return out


def _group(records: Sequence[SourceRecord], contacts: Sequence[dict[str, Any]]) -> list[_Group]:
    survivors = _survivors(contacts)
    groups = _Groups()
    by_email: dict[str, list[tuple[str, int]]] = defaultdict(list)
    by_name: dict[str, list[tuple[tuple[str, int], dict[str, Any]]]] = defaultdict(list)
    contacts_by_name: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, record in enumerate(records):
        node = ("r", i)
        groups.find(node)
        for email in record_facts(record).emails:
            by_email[email].append(node)
        by_name[norm_name(record.fields["name"])].append((node, record.fields))
    for contact in contacts:
        survivor = survivors.get(contact["id"])
        if survivor is None:
            continue
        node = ("c", survivor)
        if email := norm_email(contact.get("email")):
            by_email[email].append(node)
        by_name[norm_name(contact["name"])].append((node, contact_fields(contact)))
        contacts_by_name[norm_name(contact["name"])].append((survivor, contact))
    for nodes in by_email.values():
        if any(kind == "r" for kind, _ in nodes):
            for node in nodes[1:]:
                groups.union(nodes[0], node)
    for members in by_name.values():
        for i, (node, fields) in enumerate(members):
            if node[0] != "r":
                continue
            for other, other_fields in members[:i] + members[i + 1:]:
                if agrees_fully(fields, other_fields):
                    groups.union(node, other)
    for i, record in enumerate(records):
        # A contact that already holds everything the record says is the record, imported before.
        for survivor, contact in contacts_by_name.get(norm_name(record.fields["name"]), []):
            if already_holds(record, contact):
                groups.union(("r", i), ("c", survivor))
    found: dict[tuple[str, int], _Group] = {}
    for node in list(groups.parent):
        root = groups.find(node)
        group = found.setdefault(root, _Group([], []))
        (group.records if node[0] == "r" else group.anchors).append(node[1])
    return [_Group(sorted(g.records), sorted(set(g.anchors))) for g in found.values() if g.records]


def already_holds(record: SourceRecord, contact: dict[str, Any]) -> bool:
    """The contact has the record's name and holds each of its other values (at least one) in a field or in
    its notes: importing the record again would add nothing."""
    fields = contact_fields(contact)
    if norm_name(record.fields["name"]) != norm_name(fields["name"]):
        return False
    notes = fields["notes"]
    values = [(k, v) for k, v in record.fields.items() if k != "name" and not is_empty(v)]
    items = [f"{label}: {one_line(value)}" for label, value in record.extras]
    if not values and not items:
        return False  # a bare name says too little
    for name, value in values:
        if name == "notes":
            if value.strip() not in notes:
                return False
        elif not equivalent(name, value, fields[name]) and f"{LABELS[name]}: {render(name, value)}" not in notes:
            return False
    return all(item in notes for item in items)


def matched_contacts(records: Sequence[SourceRecord], contacts: Sequence[dict[str, Any]]) -> list[int]:
    """The shop's contacts that some record is certainly the same as (their history is worth a look)."""
    return sorted({a for g in _group(records, contacts) for a in g.anchors})


def _kept_values(anchor: dict[str, Any] | None, history: Iterable[dict[str, Any]],
                 absorbed: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """Values a contact already holds or held: its fields, its history, the contacts merged into it."""
    kept: dict[str, list[Any]] = defaultdict(list)
    for contact in [*([anchor] if anchor else []), *absorbed]:
        for name, value in contact_fields(contact).items():
            kept[name].append(value)
    for entry in history:
        for name, change in (entry.get("changes") or {}).items():
            for value in change if isinstance(change, list) else []:
                if name == "measurements" and isinstance(value, dict):
                    for m in MEASURE_FIELDS:
                        kept[m].append(value.get(m))
                else:
                    kept[name].append(value)
    return kept


# -- the plan ------------------------------------------------------------------------------------------


def build_plan(
    records: Sequence[SourceRecord],
    contacts: Sequence[dict[str, Any]],
    histories: dict[int, list[dict[str, Any]]] | None = None,
    known_pairs: Iterable[tuple[int, int]] = (),
    threshold: int = PROBABLE_NAME_SCORE,
) -> ImportPlan:
    """contacts: every contact of the shop (merged ones too: `contacts.list` with merged=true);
    histories: the history of the matched contacts (see matched_contacts); known_pairs: pairs already
    queued or resolved, which are not queued again."""
    histories = histories or {}
    known = {frozenset(p) for p in known_pairs}
    by_id = {c["id"]: c for c in contacts}
    survivors = _survivors(contacts)
    absorbed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for contact in contacts:
        survivor = survivors.get(contact["id"])
        if contact.get("merged_into") and survivor is not None:
            absorbed[survivor].append(contact)
    plan = ImportPlan()
    units: list[tuple[Ref, Facts, str, bool]] = []  # (ref, facts, label, has records)
    anchored: set[int] = set()

    for number, group in enumerate(_group(records, contacts), start=1):
        members = [records[i] for i in group.records]
        anchor = by_id[group.anchors[0]] if group.anchors else None
        for other in group.anchors[1:]:
            anchored.add(other)
            if frozenset((group.anchors[0], other)) not in known:
                plan.reviews.append(Review(group.anchors[0], other, 100, "the same e-mail; both already in the shop",
                                           _contact_label(anchor), _contact_label(by_id[other])))
        if anchor is not None:
            anchored.add(anchor["id"])
        merged, notes, warnings = _merge(members, group.records, anchor, histories.get(anchor["id"], []) if anchor
                                         else [], absorbed.get(anchor["id"], []) if anchor else [])
        plan.warnings.extend(warnings)
        via = (VIA_PREFIX + "+".join(dict.fromkeys(r.source for r in members)))[:200]
        facts = merge_facts([record_facts(r) for r in members] + ([contact_facts(anchor)] if anchor else []))
        if anchor is None:
            params = _create_params(merged, notes, members, plan.warnings)
            ref = f"new-{number}"
            identity = sorted([r.source, r.key, r.content_hash] for r in members)
            plan.creates.append(Create(ref, "import-" + _hash(identity)[:40], params, members, via))
            units.append((ref, facts, plan.creates[-1].label, True))
            continue
        params, changes = _update_params(anchor, merged, notes)
        units.append((anchor["id"], facts, _contact_label(anchor), True))
        if not changes:
            plan.unchanged.append(Unchanged(anchor, members))
            continue
        message_id = "import-" + _hash([anchor["id"], anchor["version"], params])[:40]
        plan.updates.append(Update(anchor, message_id, {"id": anchor["id"], "version": anchor["version"], **params},
                                   changes, members, via))

    for contact in contacts:
        if not contact.get("merged_into") and contact["id"] not in anchored:
            units.append((contact["id"], contact_facts(contact), _contact_label(contact), False))
    plan.reviews.extend(_reviews(units, known, threshold))
    return plan


def _contact_label(contact: dict[str, Any] | None) -> str:
    return f"{contact['name']} (#{contact['id']})" if contact else "?"


def _merge(members: list[SourceRecord], ranks: list[int], anchor: dict[str, Any] | None,
           history: list[dict[str, Any]], absorbed: list[dict[str, Any]]
           ) -> tuple[dict[str, Any], str, list[str]]:
    """Field by field, the newer non-empty value; and the notes with everything that has no other place."""
    merged: dict[str, Any] = {}
    lost: dict[int, list[tuple[str, Any]]] = defaultdict(list)  # member index -> (field, value)
    for name in (*TEXT_FIELDS, *MEASURE_FIELDS):
        candidates = [Candidate(r.fields.get(name), r.at, rank, r.source) for r, rank in zip(members, ranks,
                                                                                              strict=True)]
        if anchor is not None:
            candidates.append(Candidate(contact_fields(anchor)[name], parse_iso(anchor.get("updated_at")),
                                        STORE_RANK, ""))
        winner, losers = pick(name, candidates)
        merged[name] = winner.value if winner else (None if name in MEASURE_FIELDS else "")
        for loser in losers:
            if loser.rank != STORE_RANK:  # the shop's old value stays in the contact's history
                lost[ranks.index(loser.rank)].append((name, loser.value))
    kept = _kept_values(anchor, history, absorbed)
    parts = [anchor["notes"]] if anchor is not None and anchor.get("notes") else []
    for record in members:
        note = record.fields.get("notes", "").strip()
        if note and note not in "\n".join(parts):
            parts.append(note)
    for index, record in enumerate(members):
        text = "\n".join(parts)
        items: list[str] = []
        for name, value in lost.get(index, []):
            item = f"{LABELS[name]}: {render(name, value)}"
            if item in text or item in items or any(equivalent(name, value, v) for v in kept.get(name, [])
                                                    if not is_empty(v)):
                continue
            items.append(item)
        for label, value in record.extras:
            item = f"{label}: {one_line(value)}"
            if item not in text and item not in items:
                items.append(item)
        if items:
            parts.append(f"From {record.source} ({record.at:%Y-%m-%d}): " + "; ".join(items))
    notes = "\n".join(parts)
    warnings = []
    if len(notes) > MAX_TEXT["notes"]:
        warnings.append(f"the notes of {merged['name'] or members[0].origin} would be {len(notes)} characters long; "
                        f"only the first {MAX_TEXT['notes']} fit, so the rest was left out.")
        notes = notes[:MAX_TEXT["notes"]]
    if len(merged["address"] or "") > MAX_TEXT["address"]:
        warnings.append(f"the address of {merged['name']} is longer than {MAX_TEXT['address']} characters; "
                        "it was cut.")
        merged["address"] = merged["address"][:MAX_TEXT["address"]]
    return merged, notes, warnings


def _create_params(merged: dict[str, Any], notes: str, members: list[SourceRecord],
                   warnings: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {"name": merged["name"] or members[0].fields["name"]}
    for name in ("email", "phone", "address"):
        if merged[name]:
            params[name] = merged[name]
    if notes:
        params["notes"] = notes
    if any(merged[m] is not None for m in MEASURE_FIELDS):
        params["measurements"] = {m: merged[m] for m in MEASURE_FIELDS}
    return params


def _update_params(anchor: dict[str, Any], merged: dict[str, Any], notes: str
                   ) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    current = contact_fields(anchor)
    params: dict[str, Any] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    for name in TEXT_FIELDS:
        if merged[name] and merged[name] != current[name]:
            params[name] = merged[name]
            changes[name] = (current[name], merged[name])
    if notes != current["notes"]:
        params["notes"] = notes
        changes["notes"] = (current["notes"], notes)
    if any(merged[m] != current[m] for m in MEASURE_FIELDS):
        params["measurements"] = {m: merged[m] for m in MEASURE_FIELDS}
        changes["measurements"] = ({m: current[m] for m in MEASURE_FIELDS}, params["measurements"])
    return params, changes


def _reviews(units: list[tuple[Ref, Facts, str, bool]], known: set[frozenset[Any]], threshold: int) -> list[Review]:
    index: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, (_ref, facts, _label, _has) in enumerate(units):
        for phone in facts.phones:
            index[("phone", phone)].append(position)
        for code in facts.postcodes:
            index[("postcode", code)].append(position)
    reviews: list[Review] = []
    seen: set[frozenset[Ref]] = set()
    for position, (ref, facts, _label, has_records) in enumerate(units):
        if not has_records:
            continue
        near = sorted({p for key in [*(("phone", x) for x in facts.phones), *(("postcode", x) for x in facts.postcodes)]
                       for p in index.get(key, [])} - {position})
        for other in near:
            other_ref, other_facts, _other_label, _ = units[other]
            pair = frozenset((ref, other_ref))
            if ref == other_ref or pair in seen or pair in known:
                continue
            seen.add(pair)
            found = probable(facts, other_facts, threshold)
            if found is None:
                continue
            # The shop's contact (the older one) first, then the new one.
            first, second = sorted((position, other), key=lambda p: _ref_order(units[p][0]))
            reviews.append(Review(units[first][0], units[second][0], found[0], found[1], units[first][2],
                                  units[second][2]))
    return reviews


def _ref_order(ref: Ref) -> tuple[int, int, str]:
    return (0, ref, "") if isinstance(ref, int) else (1, 0, ref)
