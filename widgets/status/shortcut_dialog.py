"""The shortcut list (F1) and where the operator changes a key: one table of every action, its group
and its keys; a key editor under it. Not modal: alarms keep arriving while it is open. It knows only
rows and signals; the registry (app/shortcuts.py) saves and applies the keys."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class ShortcutDialog(QDialog):
    sig_set = Signal(str, str)  # action name, new keys in portable text ("" for none)
    sig_reset_all = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.setModal(False)
        self.resize(560, 620)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Group", "Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.editor = QKeySequenceEdit()
        self.editor.setMaximumSequenceLength(1)
        self.editor.setClearButtonEnabled(True)
        self.apply = QPushButton("Set")
        self.reset = QPushButton("Reset all to defaults")
        self.status = QLabel("Select an action, press its new keys, then Set.")
        self.status.setWordWrap(True)
        edit = QHBoxLayout()
        edit.addWidget(QLabel("New keys:"))
        edit.addWidget(self.editor, 1)
        edit.addWidget(self.apply)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addLayout(edit)
        lay.addWidget(self.status)
        foot = QHBoxLayout()
        foot.addStretch(1)
        foot.addWidget(self.reset)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        foot.addWidget(close)
        lay.addLayout(foot)
        self._names: list[str] = []
        self.apply.clicked.connect(self._apply)
        self.reset.clicked.connect(self.sig_reset_all)
        self.table.currentCellChanged.connect(lambda *_: self.editor.clear())

    def set_rows(self, rows: list[tuple[str, str, str, str]]) -> None:
        """(name, group, title, keys) for every action."""
        row = self.table.currentRow()
        self._names = [r[0] for r in rows]
        self.table.setRowCount(len(rows))
        for i, (_name, group, title, keys) in enumerate(rows):
            for col, text in enumerate((group, title, keys or "—")):
                item = QTableWidgetItem(text)
                if col == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, col, item)
        if 0 <= row < len(rows):
            self.table.setCurrentCell(row, 1)

    def say(self, text: str) -> None:
        self.status.setText(text)

    def _apply(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            self.say("Select the action to change first.")
            return
        keys = self.editor.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
        self.sig_set.emit(self._names[row], keys)
