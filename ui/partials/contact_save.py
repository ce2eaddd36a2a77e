"""Saving a contact form through ContactEdit, the same for the sales form and the store's "Your details": a race
lost on fields only the other person changed is merged without a word; a field both changed opens the
ConflictDialog (theirs vs mine) with the form showing mine on top of their version meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtWidgets import QWidget

from app.client.live_mirror import Entity
from app.client.presenters.contact_edit import ContactEdit, flat
from ui.partials.contact_form import ContactForm, plain_message
from ui.partials.tasks import run_dialog
from ui.views.conflict_dialog import OVERWRITE, USE_THEIRS, ConflictDialog


@dataclass
class FormSave:
    kind: str  # "saved" | "invalid" | "kept" (dialog closed: not sent, form as typed) | "theirs" (nothing to send)
    contact: Entity | None = None
    took_theirs: list[str] = field(default_factory=list)  # fields only they changed, kept with mine


async def save_form(form: ContactForm, edit: ContactEdit, parent: QWidget,
                    showing: Callable[[ConflictDialog | None], None], mine_word: str = "Mine",
                    fields: dict[str, object] | None = None) -> FormSave:
    outcome = await edit.save(fields or form.clean())
    took = list(outcome.took_theirs)
    if outcome.kind == "invalid" and outcome.error is not None:
        form.show_error(str(outcome.error.details.get("field", "")).split(".")[0], plain_message(outcome.error))
        return FormSave("invalid")
    if outcome.kind == "conflict" and outcome.merge is not None:
        merge = outcome.merge
        form.load(merge.theirs)
        form.fill(merge.fields)  # nothing typed disappears while the person chooses
        dialog = ConflictDialog(merge.theirs, merge.conflicts, took, parent, mine_word=mine_word)
        showing(dialog)
        try:
            choice = await run_dialog(dialog)
        finally:
            showing(None)
            dialog.deleteLater()
        if choice not in (USE_THEIRS, OVERWRITE):
            return FormSave("kept", None, took)
        chosen = merge.resolved(keep_mine=choice == OVERWRITE)
        if all(flat(merge.theirs).get(k) == v for k, v in flat(chosen).items()):
            form.load(merge.theirs)
            return FormSave("theirs", merge.theirs, took)
        again = await save_form(form, edit, parent, showing, mine_word, chosen)
        again.took_theirs = took + [t for t in again.took_theirs if t not in took]
        return again
    assert outcome.contact is not None
    form.load(outcome.contact)
    return FormSave("saved", outcome.contact, took)
