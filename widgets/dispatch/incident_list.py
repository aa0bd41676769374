"""The incident list: open incidents by priority and age with their timers (amber, then red past
the priority's threshold), then the closed ones; and a row to open an incident by hand.

Nothing modal: the new incident's type, priority and description are chosen inline, Enter creates."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)


class IncidentListPanel(QWidget):
    sig_selected = Signal(str)  # the current incident
    sig_activated = Signal(str)  # double-click / Enter: show it (map, detail)
    sig_create = Signal(str, int, str)  # by hand: type code, priority (0: the type's), description

    def __init__(self, model: QAbstractItemModel, id_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._id_role = id_role
        self.summary = QLabel()
        self.summary.setObjectName("panelSummary")
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((40, 110, 110, 170, 220, 120)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.table.activated.connect(self._on_activated)

        self.type = QComboBox()
        self.type.setMinimumWidth(160)
        self.priority = QComboBox()
        self.priority.addItem("Type's priority", 0)
        for p in (1, 2, 3, 4):
            self.priority.addItem(f"P{p}", p)
        self.description = QLineEdit(placeholderText="Description, Enter creates at the selected place")
        self.create = QPushButton("New incident")
        self.create.setToolTip("Opens an incident at the selected asset, or at the map's centre")
        self.create.clicked.connect(self._create)
        self.description.returnPressed.connect(self._create)
        row = QHBoxLayout()
        row.addWidget(self.type)
        row.addWidget(self.priority)
        row.addWidget(self.description, 1)
        row.addWidget(self.create)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        model.rowsInserted.connect(self._update_summary)
        model.rowsRemoved.connect(self._update_summary)
        model.dataChanged.connect(self._update_summary)
        self._update_summary()

    def set_types(self, types: list[tuple[str, str]]) -> None:
        """(code, name) of the catalogue, in the order to offer them."""
        current = self.type.currentData()
        self.type.clear()
        for code, name in types:
            self.type.addItem(name, code)
        self.type.setCurrentIndex(max(0, self.type.findData(current)))

    def set_create_allowed(self, allowed: bool, why: str = "") -> None:
        for w in (self.type, self.priority, self.description, self.create):
            w.setEnabled(allowed)
            w.setToolTip("" if allowed else why)

    def selected_id(self) -> str:
        index = self.table.selectionModel().currentIndex()
        return index.data(self._id_role) if index.isValid() else ""

    def select(self, incident_id: str) -> None:
        model = self.table.model()
        for row in range(model.rowCount()):
            if model.index(row, 0).data(self._id_role) == incident_id:
                self.table.selectRow(row)
                self.table.scrollTo(model.index(row, 0))
                return

    def _create(self) -> None:
        if self.create.isEnabled() and self.type.currentData():
            self.sig_create.emit(
                self.type.currentData(), int(self.priority.currentData()), self.description.text().strip()
            )
            self.description.clear()

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sig_selected.emit(current.data(self._id_role))

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.sig_activated.emit(index.data(self._id_role))

    def _update_summary(self, *_args: object) -> None:
        model = self.table.model()
        levels = [model.index(r, 0).data(self._id_role + 1) for r in range(model.rowCount())]
        late = sum(1 for lv in levels if lv == "red")
        text = f"{model.rowCount()} incidents"
        if late:
            text += f" · ⚠ {late} late"
        self.summary.setText(text)
