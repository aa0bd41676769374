"""The Transport panel: line diagrams with live vehicles and the tram regulator's actions, the
corridor chart, and the junctions with their TSP switch. Views only: the controller feeds plain
values and acts on the signals."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.transport.corridor_chart import CorridorChart
from vigie.widgets.transport.line_diagram import DiagramLine, DiagramVehicle, LineDiagram
from vigie.widgets.transport.rules_editor import JunctionRules, RulesEditor


class TransportPanel(QWidget):
    sig_hold = Signal(str, int)  # vehicle id, seconds
    sig_release = Signal(str)
    sig_skip = Signal(str, str)  # vehicle id, station (stop) id
    sig_tsp = Signal(str, bool)  # junction id, on
    sig_tsp_rules = Signal(str, object)  # junction id, JunctionRules

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        # Lines: the diagrams, then the selected tram and what may be done to it.
        lines_tab = QWidget()
        self.rows = QVBoxLayout()
        self.rows.setSpacing(2)
        holder = QWidget()
        holder.setLayout(self.rows)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        self.selected = QLabel("Click a tram to regulate it.")
        self.hold_s = QSpinBox()
        self.hold_s.setRange(1, 900)
        self.hold_s.setValue(120)
        self.hold_s.setSuffix(" s")
        self.hold_btn = QPushButton("Hold")
        self.release_btn = QPushButton("Release")
        self.station = QComboBox()
        self.skip_btn = QPushButton("Skip station")
        self.command_state = QLabel("")
        actions = QHBoxLayout()
        for w in (self.selected, self.hold_s, self.hold_btn, self.release_btn, self.station, self.skip_btn):
            actions.addWidget(w)
        actions.addStretch(1)
        lay = QVBoxLayout(lines_tab)
        lay.addWidget(scroll, 1)
        lay.addLayout(actions)
        lay.addWidget(self.command_state)
        self.tabs.addTab(lines_tab, "Lines")
        self.chart = CorridorChart()
        self.tabs.addTab(self.chart, "Corridor statistics")
        junctions_tab = QWidget()
        self.junctions = QTableWidget(0, 5)
        self.junctions.setHorizontalHeaderLabels(["Junction", "Lines", "TSP", "Rules", "Id"])
        self.junctions.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.tsp_btn = QPushButton("Turn TSP on/off")
        self.rules_box = RulesEditor()
        jl = QVBoxLayout(junctions_tab)
        jl.addWidget(self.junctions, 1)
        jl.addWidget(self.tsp_btn)
        jl.addWidget(self.rules_box)
        self.junction_state = QLabel("")  # the last command's stages, as under the diagrams
        self.junction_state.setWordWrap(True)
        jl.addWidget(self.junction_state)
        self.tabs.addTab(junctions_tab, "Junctions")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.tabs)
        self.diagrams: dict[str, LineDiagram] = {}
        self.vehicle = ""
        self.vehicle_stations: dict[str, list[tuple[str, str]]] = {}
        self._tsp_on: dict[str, bool] = {}
        self._rules: dict[str, JunctionRules] = {}
        self.set_regulable(False)
        self.hold_btn.clicked.connect(lambda: self.sig_hold.emit(self.vehicle, self.hold_s.value()))
        self.release_btn.clicked.connect(lambda: self.sig_release.emit(self.vehicle))
        self.skip_btn.clicked.connect(
            lambda: self.sig_skip.emit(self.vehicle, self.station.currentData() or "")
        )
        self.tsp_btn.clicked.connect(self._toggle_tsp)
        self.junctions.currentCellChanged.connect(lambda row, *_: self._edit_junction(row))
        self.rules_box.apply_btn.clicked.connect(self._apply_rules)

    def set_lines(self, lines: list[DiagramLine], stations: dict[str, list[tuple[str, str]]]) -> None:
        """The diagrams, in order; `stations`: per tram line, its (stop id, name) for skipping."""
        while self.rows.count():  # the old diagrams and the stretch after them
            item = self.rows.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()
        self.diagrams = {}
        self.vehicle_stations = stations
        for line in lines:
            d = LineDiagram(line)
            d.setToolTip(line.name)
            d.sig_vehicle_clicked.connect(lambda vid, lid=line.id: self.select_vehicle(vid, lid))
            self.rows.addWidget(d)
            d.show()  # added to a panel already on screen: not shown by itself
            self.diagrams[line.id] = d
        self.rows.addStretch(1)

    def set_vehicles(self, by_line: dict[str, list[DiagramVehicle]]) -> None:
        for lid, d in self.diagrams.items():
            d.set_vehicles(by_line.get(lid, []))

    def select_vehicle(self, vehicle_id: str, line_id: str) -> None:
        self.vehicle = vehicle_id
        for d in self.diagrams.values():
            d.set_selected(vehicle_id)
        stations = self.vehicle_stations.get(line_id)
        self.station.clear()
        for sid, name in stations or []:
            self.station.addItem(f"{sid} {name}", sid)
        self.selected.setText(vehicle_id if stations else f"{vehicle_id} (regulation is for trams)")
        self.set_regulable(bool(stations))

    def set_regulable(self, on: bool) -> None:
        for w in (self.hold_s, self.hold_btn, self.release_btn, self.station, self.skip_btn):
            w.setEnabled(on)

    def set_command_state(self, text: str) -> None:
        self.command_state.setText(text)
        self.junction_state.setText(text)

    def set_junctions(
        self, rows: list[tuple[str, str, str, bool, str]], rules: dict[str, JunctionRules] | None = None
    ) -> None:
        """(id, name, lines, TSP on, rules in words) per junction; `rules`: each one's rules, for
        the editor (which keeps what the operator is typing: it is filled on a change of row)."""
        self.junctions.setRowCount(len(rows))
        self._tsp_on = {}
        self._rules = rules or {}
        for r, (jid, name, lines, on, words) in enumerate(rows):
            for c, text in enumerate((name, lines, "on" if on else "off", words, jid)):
                self.junctions.setItem(r, c, QTableWidgetItem(text))
            self._tsp_on[jid] = on
        self.junctions.resizeColumnsToContents()
        if not self.rules_box.junction and self.junctions.currentRow() >= 0:
            self._edit_junction(self.junctions.currentRow())

    def set_rules_editable(self, on: bool, reason: str = "") -> None:
        """Whether this user may change rules (the backend decides; this shapes the UI)."""
        self.rules_box.set_allowed(on, reason)

    def _junction_at(self, row: int) -> str:
        item = self.junctions.item(row, 4) if row >= 0 else None
        return item.text() if item is not None else ""

    def _edit_junction(self, row: int) -> None:
        jid = self._junction_at(row)
        if jid and jid in self._rules:
            self.rules_box.load(jid, self._rules[jid])

    def _apply_rules(self) -> None:
        if self.rules_box.junction:
            self.sig_tsp_rules.emit(self.rules_box.junction, self.rules_box.values())

    def _toggle_tsp(self) -> None:
        row = self.junctions.currentRow()
        item = self.junctions.item(row, 4) if row >= 0 else None
        if item is not None:
            jid = item.text()
            self.sig_tsp.emit(jid, not self._tsp_on.get(jid, False))
