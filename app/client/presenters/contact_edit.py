"""One contact being edited: the version it was loaded from, what was loaded (the base of a three-way merge),
and what a save that lost the race does next.

Field-level merge: a field only one side changed takes that side's value; a field both changed to different
values is a conflict, shown as theirs vs mine. Nothing the other person changed is overwritten by a field the
person in front of the window never touched (the web store cannot even see Notes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.client.live_mirror import Entity
from app.client.people import person_name
from app.client.role_session import RoleSession
from app.client.shop_client import CallError
from app.domain.validation import CONTACT_TEXT_FIELDS, MEASUREMENT_FIELDS

LABELS = {
    "name": "Name", "email": "E-mail", "phone": "Phone", "address": "Address", "notes": "Notes",
    "measurements": "Measurements", "measurements.waist_cm": "Waist", "measurements.hip_cm": "Hip",
    "measurements.length_cm": "Length",
}
# A save that keeps losing races (someone saving every second) gives up after this many merges.
MAX_MERGES = 3


def flat(fields: dict[str, Any]) -> dict[str, Any]:
    """{'name': …, 'measurements': {'waist_cm': 86}} -> {'name': …, 'measurements.waist_cm': 86.0}, normalised
    so that '' and None, 86 and 86.0 compare equal."""
    out: dict[str, Any] = {}
    for key in CONTACT_TEXT_FIELDS:
        if key in fields:
            out[key] = (fields[key] or "").strip()
    if "measurements" in fields:
        sizes = fields["measurements"] or {}
        for key in MEASUREMENT_FIELDS:
            value = sizes.get(key)
            out[f"measurements.{key}"] = None if value is None or value == "" else float(value)
    return out


def unflat(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in values.items() if not k.startswith("measurements.")}
    sizes = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("measurements.")}
    if sizes:
        out["measurements"] = sizes
    return out


def shown(key: str, value: Any) -> str:
    if key.startswith("measurements."):
        return "" if value is None else f"{value:g} cm"
    return str(value or "")


@dataclass(frozen=True)
class Conflict:
    key: str
    label: str
    theirs: str
    mine: str


@dataclass
class Merge:
    """The result of merging my edits onto their newer version."""

    theirs: Entity
    fields: dict[str, Any]  # what to send, conflicts resolved as mine (the person may still choose theirs)
    conflicts: list[Conflict]
    took_theirs: list[str] = field(default_factory=list)  # labels of fields only they changed

    def resolved(self, keep_mine: bool) -> dict[str, Any]:
        """The fields to send once the person chose, for every conflicting field, theirs or mine."""
        values = flat(self.fields)
        if not keep_mine:
            their_values = flat(self.theirs)
            for conflict in self.conflicts:
                values[conflict.key] = their_values[conflict.key]
        return unflat(values)


def merge(base: dict[str, Any], theirs: Entity, mine: dict[str, Any]) -> Merge:
    """Three-way merge of the fields in `mine` (as the form would send them)."""
    b, t, m = flat(base), flat(theirs), flat(mine)
    out: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    took: list[str] = []
    for key, my_value in m.items():
        base_value, their_value = b.get(key), t.get(key)
        if my_value == base_value:
            out[key] = their_value  # I did not touch it: theirs (changed or not)
            if their_value != base_value:
                took.append(LABELS[key])
        elif their_value in (base_value, my_value):
            out[key] = my_value
        else:
            out[key] = my_value
            conflicts.append(Conflict(key, LABELS[key], shown(key, their_value), shown(key, my_value)))
    return Merge(theirs, unflat(out), conflicts, took)


@dataclass
class SaveOutcome:
    """saved: the contact as stored (perhaps after merging their changes in); conflict: `merge` says what
    both changed; invalid: `error` names the field."""

    kind: str  # "saved" | "conflict" | "invalid"
    contact: Entity | None = None
    merge: Merge | None = None
    error: CallError | None = None
    took_theirs: list[str] = field(default_factory=list)


class ContactEdit:
    """The contact in a form: which one, at which version, loaded with which values."""

    def __init__(self, session: RoleSession, with_notes: bool = True) -> None:
        self.session = session
        self.with_notes = with_notes
        self.contact_id: int | None = None  # None: a new contact
        self.version: int | None = None
        self.base: dict[str, Any] = {}
        self.changed_elsewhere: Entity | None = None  # a newer version seen while the form had edits
        self.saving = False

    def load(self, contact: Entity | None) -> None:
        self.contact_id = contact["id"] if contact else None
        self.version = contact["version"] if contact else None
        self.base = dict(contact) if contact else {}
        self.changed_elsewhere = None

    def current(self) -> Entity | None:
        return self.session.contacts.items.get(self.contact_id) if self.contact_id is not None else None

    def arrived(self, contact: Entity, dirty: bool) -> str:
        """A newer version of this contact came in: 'reload' the form, 'keep' the edits and say so, or 'ignore'."""
        if contact["id"] != self.contact_id or self.saving or contact["version"] <= (self.version or 0):
            return "ignore"
        if dirty:
            self.changed_elsewhere = contact
            return "keep"
        return "reload"

    def changed_by(self) -> str:
        """Who changed the contact while the form had edits, as a person ('Dougie (shipping)')."""
        theirs = self.changed_elsewhere
        if theirs is None:
            return ""
        return person_name(theirs.get("updated_by"))

    async def save(self, fields: dict[str, Any]) -> SaveOutcome:
        """Send the form; a lost race merges field by field and sends again unless both changed a field."""
        if not self.with_notes:
            fields = {k: v for k, v in fields.items() if k != "notes"}
        contact_id, version = self.contact_id, self.version
        took: list[str] = []
        self.saving = True
        try:
            for _attempt in range(MAX_MERGES + 1):
                try:
                    saved = await self.session.save_contact(fields, contact_id, version)
                except CallError as exc:
                    theirs = exc.details.get("current")
                    if exc.code == "invalid":
                        return SaveOutcome("invalid", error=exc)
                    if exc.code != "conflict" or not isinstance(theirs, dict):
                        raise
                    self.session.contacts.apply(theirs)  # the list shows theirs; the form stays mine
                    result = merge(self.base, theirs, fields)
                    took += [label for label in result.took_theirs if label not in took]
                    self.base, self.version = dict(theirs), theirs["version"]
                    version = theirs["version"]
                    if result.conflicts:
                        self.changed_elsewhere = None
                        return SaveOutcome("conflict", contact=theirs, merge=result, took_theirs=took)
                    fields = result.fields
                    continue
                self.load(saved)
                return SaveOutcome("saved", contact=saved, took_theirs=took)
            raise CallError("conflict", "This contact keeps being changed by someone else; please try again.")
        finally:
            self.saving = False
