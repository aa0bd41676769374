"""The recommendation: the k best units for the selected incident (fastest first) with their ETA
and distance; the first is assigned in one action, another one (or a reassignment) with a reason.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.dispatch.style import UNIT_STATUS_COLORS


def _eta(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60} min {s % 60:02d}"


class RecommendationPanel(QWidget):
    # incident id, unit id, reason ("" for the first recommendation), unit it replaces ("" for none)
    sig_assign = Signal(str, str, str, str)
    sig_refresh = Signal(str)  # incident id: ask again
    sig_preview = Signal(str, str)  # incident id, unit id: show that candidate's route

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.incident_id = ""
        self.candidates: list[
            dict
        ] = []  # {"unit_id", "callsign", "status", "eta_s", "distance_m", "capabilities"}
        self.allowed, self._why = False, ""
        self.title = QLabel("Select an incident for its recommended units")
        self.title.setObjectName("panelSummary")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Unit", "ETA", "Distance", "Status"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, 150)
        self.table.itemSelectionChanged.connect(self._on_pick)
        self.assign_first = QPushButton("Assign first")
        self.assign_first.setObjectName("primaryAction")
        # A, with the focus in this panel only: a letter typed elsewhere never sends a unit.
        QShortcut(
            QKeySequence(Qt.Key.Key_A),
            self,
            self._assign_first,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        self.assign_first.clicked.connect(self._assign_first)
        self.reason = QLineEdit(placeholderText="Reason to pick another unit or to reassign")
        self.replace = QComboBox()
        self.replace.addItem("Add to the incident", "")
        self.assign_picked = QPushButton("Assign selected")
        self.assign_picked.clicked.connect(self._assign_picked)
        self.reason.returnPressed.connect(self._assign_picked)
        self.again = QPushButton("Refresh")
        self.again.clicked.connect(lambda: self.incident_id and self.sig_refresh.emit(self.incident_id))
        self.hint = QLabel()
        self.hint.setStyleSheet("color: #d29922;")
        row = QHBoxLayout()
        row.addWidget(self.reason, 1)
        row.addWidget(self.replace)
        row.addWidget(self.assign_picked)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.again)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.assign_first)
        lay.addLayout(row)
        lay.addWidget(self.hint)
        self._update()

    def set_allowed(self, allowed: bool, why: str = "") -> None:
        """Assigning is a supervisor's (the backend decides anyway)."""
        self.allowed, self._why = allowed, why
        self._update()

    def show_candidates(
        self, incident_id: str, title: str, candidates: list[dict], assigned: list[tuple[str, str]]
    ) -> None:
        """`assigned`: (unit id, callsign) on the incident now (a reassignment replaces one)."""
        self.incident_id = incident_id
        self.candidates = candidates
        self.title.setText(title)
        self.hint.clear()
        self.table.setRowCount(len(candidates))
        bold = QFont()
        bold.setBold(True)
        for r, c in enumerate(candidates):
            cells = [c["callsign"], _eta(c["eta_s"]), f"{c['distance_m'] / 1000:.1f} km", c["status"].upper()]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 3:
                    item.setForeground(QColor(UNIT_STATUS_COLORS.get(c["status"], "#8b949e")))
                if r == 0:
                    item.setFont(bold)
                self.table.setItem(r, col, item)
        current = self.replace.currentData()
        self.replace.clear()
        self.replace.addItem("Add to the incident", "")
        for uid, callsign in assigned:
            self.replace.addItem(f"Replace {callsign}", uid)
        self.replace.setCurrentIndex(max(0, self.replace.findData(current)))
        self._update()

    def clear(self, title: str = "Select an incident for its recommended units") -> None:
        self.show_candidates("", title, [], [])

    def _update(self) -> None:
        first = self.candidates[0] if self.candidates else None
        self.assign_first.setText(
            f"Assign {first['callsign']} — ETA {_eta(first['eta_s'])}  (A)" if first else "Assign first"
        )
        ok = self.allowed and first is not None
        self.assign_first.setEnabled(ok)
        for w in (self.assign_picked, self.reason, self.replace):
            w.setEnabled(self.allowed and bool(self.candidates))
        for w in (self.assign_first, self.assign_picked, self.reason):
            w.setToolTip("" if self.allowed else self._why)

    def _picked(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def _on_pick(self) -> None:
        row = self._picked()
        if 0 <= row < len(self.candidates):
            self.sig_preview.emit(self.incident_id, self.candidates[row]["unit_id"])

    def _assign_first(self) -> None:
        if self.allowed and self.candidates:
            self.sig_assign.emit(self.incident_id, self.candidates[0]["unit_id"], "", "")

    def _assign_picked(self) -> None:
        row = self._picked()
        if not self.allowed or not (0 <= row < len(self.candidates)):
            return
        replace = self.replace.currentData() or ""
        reason = self.reason.text().strip()
        if (row > 0 or replace) and not reason:
            self.reason.setFocus()
            self.hint.setText("Another unit than the first, or a reassignment, needs a reason.")
            return
        self.sig_assign.emit(self.incident_id, self.candidates[row]["unit_id"], reason, replace)
        self.reason.clear()
