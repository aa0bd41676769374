"""The unit board: units grouped by status with their time in status, incident and capabilities,
filtered by fleet; a crew's radio call is one key on its row (the keys are listed at the bottom).
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

FLEETS = [("All fleets", ""), ("Police", "police"), ("Technical", "technical")]


class UnitBoard(QWidget):
    sig_fleet = Signal(str)  # "" | "police" | "technical"
    sig_status = Signal(str, str)  # unit id, new status name (from a key)
    sig_selected = Signal(str)  # the current unit

    def __init__(
        self,
        model: QAbstractItemModel,
        id_role: int,
        keys: dict[str, tuple[str, str]],
        parent: QWidget | None = None,
    ) -> None:
        """`keys`: key text -> (status name, label), e.g. {"1": ("available", "AVAILABLE")}."""
        super().__init__(parent)
        self._id_role = id_role
        self.keys = keys
        self.allowed = True
        self.fleet = QComboBox()
        for label, key in FLEETS:
            self.fleet.addItem(label, key)
        self.fleet.currentIndexChanged.connect(lambda _i: self.sig_fleet.emit(self.fleet.currentData()))
        self.summary = QLabel()
        self.summary.setObjectName("panelSummary")
        head = QHBoxLayout()
        head.addWidget(self.fleet)
        head.addWidget(self.summary, 1)

        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        hh = self.table.horizontalHeader()
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((120, 130, 80, 100, 120)):
            self.table.setColumnWidth(col, width)
        self.table.installEventFilter(self)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.help = QLabel("  ".join(f"{k} {label}" for k, (_s, label) in keys.items()))
        self.help.setObjectName("panelSummary")
        self.help.setWordWrap(True)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addLayout(head)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.help)

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)

    def set_allowed(self, allowed: bool, why: str = "") -> None:
        """Status keys only for those who may (the backend decides anyway)."""
        self.allowed = allowed
        self.help.setEnabled(allowed)
        self.help.setToolTip("" if allowed else why)
        self.table.setToolTip("" if allowed else why)

    def current_id(self) -> str:
        index = self.table.selectionModel().currentIndex()
        return index.data(self._id_role) if index.isValid() else ""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.table and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            hit = self.keys.get(event.text())
            unit_id = self.current_id()
            if hit is not None and unit_id and event.modifiers() == Qt.KeyboardModifier.NoModifier:
                if self.allowed:
                    self.sig_status.emit(unit_id, hit[0])
                return True
        return super().eventFilter(obj, event)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sig_selected.emit(current.data(self._id_role))
