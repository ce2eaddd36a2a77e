"""The start dialog: broker address, user, password and role, for when they were not given."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from app.client.role_session import ROLE_INFO, ROLES


class StartDialog(QDialog):
    def __init__(self, address: str, user: str, role: str, password: str | None, keyring_problem: str,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Kiltshop — sign in")
        self.address = QLineEdit(address or "127.0.0.1:5672")
        self.address.setPlaceholderText("host:port, e.g. shop.local:5672")
        self.user = QLineEdit(user or "guest")
        self.password = QLineEdit(password or "")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.role = QComboBox()
        for name in ROLES:
            self.role.addItem(f"{ROLE_INFO[name].title} — {ROLE_INFO[name].purpose}", name)
        if role in ROLES:
            self.role.setCurrentIndex(ROLES.index(role))
        self.remember = QCheckBox("Remember the password in this computer's keyring")
        self.remember.setChecked(not keyring_problem)
        self.remember.setEnabled(not keyring_problem)
        self.keyring_note = QLabel(keyring_problem)
        self.keyring_note.setObjectName("keyringNote")
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setVisible(bool(keyring_problem))
        self.problem = QLabel("")
        self.problem.setObjectName("formError")
        self.problem.hide()

        form = QFormLayout()
        form.addRow("Shop broker", self.address)
        form.addRow("User", self.user)
        form.addRow("Password", self.password)
        form.addRow("I am", self.role)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Open")
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.remember)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _check(self) -> None:
        if not self.address.text().strip():
            self._say("Enter the shop broker's address, e.g. 127.0.0.1:5672.")
        elif not self.user.text().strip():
            self._say("Enter your user name.")
        elif not self.password.text():
            self._say("Enter your password.")
        else:
            self.accept()

    def _say(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.show()

    def chosen_role(self) -> str:
        return str(self.role.currentData())
