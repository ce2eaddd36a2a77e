"""The sales desk's contact form: which contact it holds, what a save says and for whom, what leaving it
would lose."""

from __future__ import annotations

from app.client.live_mirror import Entity
from app.client.people import person_name
from app.client.presenters.contact_edit import ContactEdit
from app.client.presenters.words import short_time
from app.client.role_session import RoleSession


class SalesPresenter:
    def __init__(self, session: RoleSession) -> None:
        self.session = session
        self.edit = ContactEdit(session, with_notes=True)
        self._message: tuple[int | None, str] = (None, "")  # (contact it is about, sentence)

    # -- what the form says -----------------------------------------------------------------------

    def load(self, contact: Entity | None) -> None:
        """A contact (or a blank form) in the form; a message about another contact goes."""
        if (contact["id"] if contact else None) != self._message[0]:
            self._message = (None, "")
        self.edit.load(contact)

    def say(self, text: str) -> None:
        self._message = (self.edit.contact_id, text)

    def message(self) -> str:
        """The sentence under the form, only while the contact it is about is in the form."""
        about, text = self._message
        return text if about == self.edit.contact_id else ""

    def title(self) -> str:
        contact = self.edit.current()
        return contact["name"] if contact else "New contact"

    def subtitle(self) -> str:
        contact = self.edit.current()
        if contact is None:
            return "Fill in at least a name, then Save (Ctrl+S).\n"
        return (f"Customer since {contact['created_at'][:10]}\nlast changed by "
                f"{person_name(contact.get('updated_by'))} on {short_time(contact['updated_at'])}")

    # -- what would be lost -------------------------------------------------------------------------

    def unsaved_changes(self, dirty: bool) -> str | None:
        if not dirty:
            return None
        contact = self.edit.current()
        if contact is None:
            return "The new contact you started is not saved."
        return f"Your changes to {contact['name']} are not saved."

    def leave_question(self) -> str:
        contact = self.edit.current()
        what = f"your changes to {contact['name']}" if contact else "the new contact you started"
        return f"You have not saved {what}. Drop them?"

    def may_save(self, dirty: bool, valid: bool, online: bool) -> bool:
        return online and dirty and valid and not self.edit.saving
