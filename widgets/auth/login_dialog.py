"""Log in to a backend: user and password, and why the console asks (first start, refused, ended)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class LoginDialog(QDialog):
    sig_login = Signal(str, str)  # user, password

    def __init__(self, backend: str, user: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Vigie — log in")
        self.setObjectName("loginDialog")
        self.setMinimumWidth(420)
        title = QLabel("VIGIE")
        title.setObjectName("appTitle")
        where = QLabel(f"Backend {backend}")
        where.setObjectName("panelSummary")
        self.message = QLabel(wordWrap=True)
        self.message.setObjectName("dialogProblem")
        self.user = QLineEdit(user, placeholderText="user")
        self.password = QLineEdit(placeholderText="password", echoMode=QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("User:", self.user)
        form.addRow("Password:", self.password)
        self.button = QPushButton("Log in")
        self.button.setObjectName("primaryButton")
        self.button.setDefault(True)
        self.button.clicked.connect(self._submit)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.button)
        lay = QVBoxLayout(self)
        lay.addWidget(title)
        lay.addWidget(where)
        lay.addLayout(form)
        lay.addWidget(self.message)
        lay.addLayout(row)
        (self.password if user else self.user).setFocus()

    def ask(self, reason: str) -> None:
        """Show (again) with the reason the console needs credentials."""
        self.message.setText(reason)
        self.password.clear()
        self.button.setEnabled(True)
        self.show()
        self.raise_()

    def _submit(self) -> None:
        if not self.user.text().strip() or not self.password.text():
            self.message.setText("Enter a user and a password.")
            return
        self.message.setText("Logging in…")
        self.button.setEnabled(False)
        self.sig_login.emit(self.user.text().strip(), self.password.text())
