"""The detail view of one asset: its identity, status, attributes and a live telemetry chart."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.charts.telemetry_chart import TelemetryChart
from vigie.widgets.status.palette import STATUS_LABELS, status_color, status_icon


class AssetDetailView(QWidget):
    sig_command_requested = Signal()  # the operator wants to command the shown asset

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.title = QLabel("No asset selected")
        self.title.setObjectName("detailTitle")
        self.status = QLabel()
        self.status.setObjectName("detailStatus")
        # Long names and reasons must not push the command button out of a narrow panel.
        for label in (self.title, self.status):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        head = QHBoxLayout()
        head.addWidget(self.icon)
        head.addWidget(self.title, 1)
        self.command_button = QPushButton("Command…")
        self.command_button.setToolTip("Send a command to this device")
        self.command_button.setEnabled(False)
        self.command_button.clicked.connect(self.sig_command_requested)
        head.addWidget(self.command_button)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setContentsMargins(4, 0, 4, 0)
        self.form.setVerticalSpacing(2)
        self.chart = TelemetryChart()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.form_host)
        split.addWidget(self.chart)
        split.setSizes([170, 260])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.addLayout(head)
        lay.addLayout(status_row)
        lay.addWidget(split, 1)
        self._values: dict[str, QLabel] = {}
        self.commandable = False  # set by the owner: the shown asset accepts commands from this user

    def show_asset(self, title: str, status: str, reason: str, fields: list[tuple[str, str]]) -> None:
        """Show (or refresh in place) an asset; `fields` are (label, value) pairs in display order."""
        self.title.setText(title)
        self.title.setToolTip(title)
        self.command_button.setEnabled(self.commandable)
        self.icon.setPixmap(status_icon(status, 22).pixmap(22, 22))
        label = STATUS_LABELS.get(status, status.upper())
        self.status.setText(f"{label} — {reason}" if reason else label)
        self.status.setStyleSheet(f"color: {status_color(status).name()}; font-weight: bold;")
        if [k for k, _ in fields] != list(self._values):
            while self.form.rowCount():
                self.form.removeRow(0)
            self._values = {}
            for key, _ in fields:
                value = QLabel()
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.form.addRow(f"{key}:", value)
                self._values[key] = value
        for key, text in fields:
            self._values[key].setText(text)

    def clear(self) -> None:
        self.title.setText("No asset selected")
        self.command_button.setEnabled(False)
        self.icon.clear()
        self.status.clear()
        while self.form.rowCount():
            self.form.removeRow(0)
        self._values = {}
        self.chart.clear()
