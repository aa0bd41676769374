"""Help > Diagnostics: what support asks for first, on one page an operator can copy: versions,
the backend's address and round-trip time, each stream's state and last message age, dropped
frames per video tile, where the console's log file is. Plain rows in, nothing of the network:
app/controllers/diagnostics.py fills it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

STREAM_COLUMNS = ("Stream", "State", "Last message", "Reconnections")
TILE_COLUMNS = ("Feed", "Camera", "Received", "Decoded", "Dropped")


class DiagnosticsDialog(QDialog):
    """Non-modal; Refresh (F5) asks for new figures, Copy puts the whole page on the clipboard."""

    sig_refresh = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("diagnosticsDialog")
        self.setWindowTitle("Diagnostics")
        self.setModal(False)
        self.resize(720, 560)
        self.summary = QFormLayout()
        self._values: dict[str, QLabel] = {}
        self.streams = self._table(STREAM_COLUMNS, "diagnosticsStreams")
        self.tiles = self._table(TILE_COLUMNS, "diagnosticsTiles")
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.setObjectName("diagnosticsRefresh")
        self.copy_button = QPushButton("&Copy to clipboard")
        self.copy_button.setObjectName("diagnosticsCopy")
        close = QPushButton("Close")
        self.refresh_button.clicked.connect(self.sig_refresh)
        self.copy_button.clicked.connect(self.copy)
        close.clicked.connect(self.close)
        QShortcut(QKeySequence(Qt.Key.Key_F5), self, activated=self.sig_refresh.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(self.summary)
        layout.addWidget(QLabel("Streams"))
        layout.addWidget(self.streams, 2)
        layout.addWidget(QLabel("Video tiles"))
        layout.addWidget(self.tiles, 1)
        layout.addLayout(buttons)

    @staticmethod
    def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
        t = QTableWidget(0, len(columns))
        t.setObjectName(name)
        t.setHorizontalHeaderLabels(list(columns))
        t.verticalHeader().setVisible(False)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        return t

    def set_summary(self, rows: list[tuple[str, str]]) -> None:
        """(label, value) lines at the top, in order; a label seen before keeps its place."""
        for label, value in rows:
            shown = self._values.get(label)
            if shown is None:
                shown = self._values[label] = QLabel()
                shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                shown.setTextFormat(Qt.TextFormat.PlainText)
                self.summary.addRow(f"{label}:", shown)
            shown.setText(value)

    def value(self, label: str) -> str:
        shown = self._values.get(label)
        return shown.text() if shown is not None else ""

    def set_streams(self, rows: list[tuple[str, ...]]) -> None:
        self._fill(self.streams, rows)

    def set_tiles(self, rows: list[tuple[str, ...]]) -> None:
        self._fill(self.tiles, rows)

    @staticmethod
    def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = table.item(r, c)
                if item is None:
                    table.setItem(r, c, QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)

    def as_text(self) -> str:
        lines = [f"{label}: {shown.text()}" for label, shown in self._values.items()]
        for title, table in (("Streams", self.streams), ("Video tiles", self.tiles)):
            lines.append("")
            lines.append(title)
            headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
            lines.append("\t".join(headers))
            for r in range(table.rowCount()):
                cells = [table.item(r, c) for c in range(table.columnCount())]
                lines.append("\t".join(i.text() if i else "" for i in cells))
        return "\n".join(lines) + "\n"

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
