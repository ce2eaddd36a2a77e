""""Possible duplicates (N)" for the sales view: opens the duplicates dialog, and says (by a signal) when the
contact a view shows was merged away, so the view moves on to the one it became part of. It knows no view."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QPushButton

from app.client.live_mirror import MirrorListener
from app.client.role_session import RoleSession
from ui.partials.tasks import run_dialog, spawn
from ui.views.duplicates_panel import DuplicatesDialog


class DuplicatesButton(QPushButton):
    """"Possible duplicates (N)" for the sales view: opens the dialog, and moves the form on from a contact
    that was merged away (to the one it became part of)."""

    merged_away = Signal(int, int)  # (the contact merged away, the one it became part of)

    def __init__(self, session: RoleSession, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicatesButton")
        self.setToolTip("Pairs of contacts that may be one person: merge them or keep them apart")
        self.session = session
        self.dialog: DuplicatesDialog | None = None
        assert self.session.duplicates is not None
        self.session.duplicates.listen(MirrorListener(reset=self.refresh, upsert=lambda *_: self.refresh(),
                                                      remove=lambda _id: self.refresh()))
        self.session.contacts.listen(MirrorListener(reset=self.refresh, remove=self._contact_removed))
        self.clicked.connect(lambda: spawn(self.open_dialog()))
        self.refresh()

    def count(self) -> int:
        contacts = self.session.contacts.items
        pairs = self.session.duplicates.items.values() if self.session.duplicates is not None else []
        return sum(1 for p in pairs if p["first_id"] in contacts and p["second_id"] in contacts)

    def refresh(self) -> None:
        n = self.count()
        self.setText(f"Possible duplicates ({n})")
        self.setEnabled(n > 0 or self.dialog is not None)

    def _contact_removed(self, contact_id: int) -> None:
        self.refresh()
        survivor = self.session.survivor_of(contact_id)
        if survivor != contact_id and survivor in self.session.contacts.items:
            self.merged_away.emit(contact_id, survivor)

    async def open_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            return
        self.dialog = DuplicatesDialog(self.session, self.window())
        try:
            await run_dialog(self.dialog)
        finally:
            self.dialog.panel.detach()
            self.dialog.deleteLater()
            self.dialog = None
            self.refresh()
