"""The audit view: who did what, when, why and with what result; filters and CSV export."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

ACTIONS = (
    ("All actions", ""),
    ("Logins and logouts", "log"),
    ("Commands", "command"),
    ("Command attempts", "command.execute"),
    ("Device acknowledgements", "command.device_ack"),
    ("Alarm handling", "alarm"),
    ("Video wall", "wall"),
    ("User management", "user"),
)
RESULTS = ("", "ok", "denied", "failed", "invalid")


class AuditView(QWidget):
    sig_query = Signal(dict)  # filters: start, end (unix s), user, action, result, text
    sig_open = Signal(int)  # a record's row was double-clicked: open what it touched
    sig_more = Signal()  # the next page
    sig_export = Signal(str, dict)  # CSV path, filters

    def __init__(self, model: QAbstractItemModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        now = QDateTime.currentDateTime()
        self.start = QDateTimeEdit(now.addDays(-1), calendarPopup=True, displayFormat="dd MMM yyyy HH:mm")
        self.end = QDateTimeEdit(now, calendarPopup=True, displayFormat="dd MMM yyyy HH:mm")
        # "to" is "now" unless the operator picks an end: a future time read as a zone error.
        self.up_to_now = QCheckBox("now")
        self.up_to_now.setToolTip("Up to the newest record, whenever the search runs")
        self.up_to_now.setChecked(True)
        self.up_to_now.toggled.connect(lambda on: self.end.setVisible(not on))
        self.end.setVisible(False)
        self.user = QLineEdit(placeholderText="user")
        self.action = QComboBox()
        for label, value in ACTIONS:
            self.action.addItem(label, value)
        self.result = QComboBox()
        for r in RESULTS:
            self.result.addItem(r or "Any result", r)
        self.text = QLineEdit(placeholderText="Search target, reason, detail…")
        self.text.setClearButtonEnabled(True)
        search = QPushButton("Search")
        search.setObjectName("primaryButton")
        search.clicked.connect(self.query)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._ask_export_path)
        for w in (self.user, self.text):
            w.returnPressed.connect(self.query)
        self.action.currentIndexChanged.connect(self.query)
        self.result.currentIndexChanged.connect(self.query)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("From"))
        filters.addWidget(self.start)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.up_to_now)
        filters.addWidget(self.end)
        filters.addWidget(self.user)
        filters.addWidget(self.action)
        filters.addWidget(self.result)
        filters.addWidget(self.text, 1)
        filters.addWidget(search)
        filters.addWidget(self.export_button)

        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.doubleClicked.connect(lambda index: self.sig_open.emit(index.row()))
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        for col, width in enumerate((130, 90, 120, 170, 170, 240, 70)):
            self.table.setColumnWidth(col, width)

        self.summary = QLabel(objectName="panelSummary")
        self.more = QPushButton("Load more")
        self.more.clicked.connect(self.sig_more)
        self.more.setEnabled(False)
        foot = QHBoxLayout()
        foot.addWidget(self.summary, 1)
        foot.addWidget(self.more)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        lay.addLayout(filters)
        lay.addWidget(self.table, 1)
        lay.addLayout(foot)

    def filters(self) -> dict[str, Any]:
        """ "to: now" means up to the newest record whenever the search runs (no bound)."""
        if self.up_to_now.isChecked():
            self.end.setDateTime(QDateTime.currentDateTime())  # where a picked end starts from
        return {
            "start": self.start.dateTime().toSecsSinceEpoch(),
            "end": 0 if self.up_to_now.isChecked() else self.end.dateTime().toSecsSinceEpoch(),
            "user": self.user.text().strip(),
            "action": self.action.currentData() or "",
            "result": self.result.currentData() or "",
            "text": self.text.text().strip(),
        }

    def query(self) -> None:
        self.summary.setText("Searching…")
        self.sig_query.emit(self.filters())

    def set_page_info(self, shown: int, total: int, more: bool) -> None:
        self.summary.setText(f"{shown:,} of {total:,} records".replace(",", " "))
        self.more.setEnabled(more)

    def export_to(self, path: str) -> None:
        self.summary.setText(f"Exporting to {path}…")
        self.sig_export.emit(path, self.filters())

    def _ask_export_path(self) -> None:
        # open(), not exec(): the console keeps receiving alarms while the operator picks a file.
        dlg = QFileDialog(self, "Export the audit trail", "vigie-audit.csv", "CSV files (*.csv)")
        dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dlg.setDefaultSuffix("csv")
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.fileSelected.connect(self.export_to)
        dlg.open()
