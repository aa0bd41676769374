"""The city modes panel: choose a mode and a scope, preview every change, activate it with a
reason, follow its progress device by device, retry the failures, return to normal (choosing
which hand-changed devices to restore), and the journal of past runs.

A view only: it takes plain values (objects with the fields of app/models/modes.py, read by
name) and emits what the supervisor asked for; the controller (app/controllers/modes.py) talks to
the backend and says what the logged-in user may do."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

STYLE = """
QLabel#modesHint { color: #8b949e; }
QLabel#modesProblem { color: #f0883e; font-weight: bold; }
QLabel#modesCounts { font-size: 12pt; }
QLabel#modesRunTitle { font-size: 13pt; font-weight: bold; }
QPushButton#modesActivate { background: #b62324; color: #ffffff; font-weight: bold; padding: 6px 14px; }
QPushButton#modesActivate:disabled { background: #30363d; color: #6e7681; }
"""
MAX_ROWS = 2000  # rows a device table shows (the counts are complete)


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    # Interactive, sized once per fill: ResizeToContents re-measures on every cell set (quadratic).
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setUpdatesEnabled(False)
    table.setRowCount(min(len(rows), MAX_ROWS))
    for r, row in enumerate(rows[:MAX_ROWS]):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))
    table.resizeColumnsToContents()
    table.setUpdatesEnabled(True)


class ModesPanel(QWidget):
    sig_preview = Signal(str, bool, list)  # mode id, whole city, districts
    sig_activate = Signal(str, bool, list, str)  # mode id, whole city, districts, reason
    sig_run_selected = Signal(str)  # run id ("" for none)
    sig_retry = Signal(str, str)  # run id, reason
    sig_return_check = Signal(str)  # run id: which devices were changed by hand?
    sig_return = Signal(str, str, list)  # run id, reason, hand-changed devices to restore
    sig_journal = Signal()  # refresh the journal
    sig_journal_run = Signal(str)  # show this run's results
    # The previewed devices to ring on the map: ids, the mode's colour, frame them ([] clears).
    sig_highlight = Signal(list, str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modesPanel")
        self.setStyleSheet(STYLE)
        self.modes: list[Any] = []
        self.runs: list[Any] = []
        self.journal_runs: list[Any] = []
        self.preview_value: Any = None
        self.allowed, self.why_not = False, ""
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        lay.addWidget(self.tabs)
        self.tabs.addTab(self._activate_tab(), "Activate")
        self.tabs.addTab(self._runs_tab(), "Active modes")
        self.tabs.addTab(self._journal_tab(), "Journal")
        self.tabs.currentChanged.connect(lambda i: i == 2 and self.sig_journal.emit())

    # ---- the activate tab -------------------------------------------------------------------

    def _activate_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Mode"))
        self.mode_box = QComboBox()
        self.mode_box.setMinimumWidth(220)
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        row.addWidget(self.mode_box, 1)
        self.whole_city = QRadioButton("Whole city")
        self.some_districts = QRadioButton("Districts:")
        self.whole_city.setChecked(True)
        group = QButtonGroup(page)
        group.addButton(self.whole_city)
        group.addButton(self.some_districts)
        row.addWidget(self.whole_city)
        row.addWidget(self.some_districts)
        self.preview_button = QPushButton("Preview")
        self.preview_button.clicked.connect(self._ask_preview)
        row.addWidget(self.preview_button)
        self.map_button = QPushButton("Show on map")
        self.map_button.setToolTip(
            "Frame the devices this preview changes on the city map (they are ringed there)"
        )
        self.map_button.setEnabled(False)
        self.map_button.clicked.connect(lambda: self.highlight_preview(fit=True))
        row.addWidget(self.map_button)
        lay.addLayout(row)
        self.description = QLabel(objectName="modesHint")
        self.description.setWordWrap(True)
        lay.addWidget(self.description)
        self.districts = QListWidget()
        self.districts.setMaximumHeight(64)
        self.districts.setFlow(QListWidget.Flow.LeftToRight)
        self.districts.setWrapping(True)
        self.districts.itemChanged.connect(lambda _i: self.some_districts.setChecked(True))
        lay.addWidget(self.districts)
        self.counts = QLabel("Choose a mode and a scope, then Preview: nothing changes before you activate.")
        self.counts.setObjectName("modesCounts")
        self.counts.setWordWrap(True)
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.counts)
        split = QSplitter(Qt.Orientation.Vertical)
        self.changes = _table(["Device", "Kind", "District", "Step", "Now", "→ After"])
        self.problems = _table(["Device", "Step", "Why not changed"])
        split.addWidget(self.changes)
        split.addWidget(self.problems)
        split.setSizes([300, 120])
        lay.addWidget(split, 1)
        row = QHBoxLayout()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Reason (required, written to the audit trail)")
        self.reason.setMaxLength(500)
        self.reason.textChanged.connect(self._update_activate)
        row.addWidget(self.reason, 1)
        self.activate_button = QPushButton("Activate mode", objectName="modesActivate")
        self.activate_button.clicked.connect(self._activate)
        row.addWidget(self.activate_button)
        lay.addLayout(row)
        self.problem = QLabel(objectName="modesProblem")
        self.problem.setWordWrap(True)
        lay.addWidget(self.problem)
        self._update_activate()
        return page

    def set_modes(self, modes: list[Any], districts: list[str]) -> None:
        current = self.mode_id()
        self.modes = list(modes)
        self.mode_box.blockSignals(True)
        self.mode_box.clear()
        for m in self.modes:
            self.mode_box.addItem(m.name, m.id)
        ids = [m.id for m in self.modes]
        self.mode_box.setCurrentIndex(ids.index(current) if current in ids else 0)
        self.mode_box.blockSignals(False)
        if self.mode_id() != current or self.preview_value is None:  # a refresh keeps the preview
            self._mode_changed()
        checked = set(self.scope()[1])
        self.districts.blockSignals(True)
        self.districts.clear()
        for d in districts:
            item = QListWidgetItem(d)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if d in checked else Qt.CheckState.Unchecked)
            self.districts.addItem(item)
        self.districts.blockSignals(False)

    def mode_id(self) -> str:
        return str(self.mode_box.currentData() or "")

    def scope(self) -> tuple[bool, list[str]]:
        chosen = [
            self.districts.item(i).text()
            for i in range(self.districts.count())
            if self.districts.item(i).checkState() == Qt.CheckState.Checked
        ]
        return self.whole_city.isChecked(), chosen

    def _mode_changed(self) -> None:
        m = next((m for m in self.modes if m.id == self.mode_id()), None)
        if m is not None:
            steps = "; ".join(f"{s.label} ({s.selection})" if s.selection else s.label for s in m.steps)
            self.description.setText(f"{m.description}  Steps: {steps}" if steps else m.description)
        self.set_preview(None)

    def _ask_preview(self) -> None:
        whole, districts = self.scope()
        if not whole and not districts:
            self.problem.setText("Choose at least one district, or the whole city.")
            return
        self.counts.setText("Preview on its way…")
        self.sig_preview.emit(self.mode_id(), whole, districts)

    def set_preview(self, p: Any) -> None:
        """A preview (or None: the choice changed, the old preview no longer holds)."""
        self.preview_value = p
        if p is None:
            self.counts.setText("Preview the mode to see every change before it happens.")
            _fill(self.changes, [])
            _fill(self.problems, [])
        else:
            kinds = "  ·  ".join(
                f"<b>{c.kind.replace('_', ' ')}</b>: {c.changes} change"
                + (f", {c.unchanged} already so" if c.unchanged else "")
                + (f", <span style='color:#f0883e'>{c.refusals} will refuse</span>" if c.refusals else "")
                + (f", <span style='color:#f85149'>{c.conflicts} in conflict</span>" if c.conflicts else "")
                for c in p.counts
            )
            shown = len(p.changes)
            more = f" (first {shown} listed)" if shown < p.total_changes else ""
            self.counts.setText(
                f"<b>{p.mode.name}</b> on {p.scope.text()}: <b>{p.total_changes}</b> devices change{more}.<br>{kinds}"
            )
            _fill(
                self.changes,
                [
                    [c.name, c.kind.replace("_", " "), c.district, c.step, c.current, c.target]
                    for c in p.changes
                ],
            )
            _fill(
                self.problems,
                [[r.name, r.step, f"refuses: {r.reason} {r.detail}".strip()] for r in p.refusals]
                + [[c.name, c.step, c.detail or f"held by {c.mode_name}"] for c in p.conflicts],
            )
        self.map_button.setEnabled(p is not None and bool(p.changes))
        self.highlight_preview(fit=False)
        self._update_activate()

    def highlight_preview(self, fit: bool) -> None:
        p = self.preview_value
        if p is None:
            self.sig_highlight.emit([], "", False)
        else:
            self.sig_highlight.emit(p.affected_ids(), p.mode.color, fit)

    def set_allowed(self, allowed: bool, why_not: str) -> None:
        """Whether the logged-in user may activate, retry and return (and why not)."""
        self.allowed, self.why_not = allowed, why_not
        self._update_activate()
        self._update_run_buttons()

    def _update_activate(self) -> None:
        if not self.allowed:
            problem = self.why_not
        elif self.preview_value is None:
            problem = "Preview first: you activate what you have seen."
        elif not self.reason.text().strip():
            problem = "Give a reason: it goes to the audit trail."
        else:
            problem = ""
        self.activate_button.setEnabled(not problem)
        self.activate_button.setToolTip(problem or "Activate the previewed mode on its scope")
        self.problem.setText(problem)

    def _activate(self) -> None:
        p = self.preview_value
        if p is None or not self.allowed:
            return
        self.sig_activate.emit(
            p.mode.id, p.scope.whole_city, list(p.scope.districts), self.reason.text().strip()
        )
        self.reason.clear()
        self.set_preview(None)
        self.tabs.setCurrentIndex(1)

    # ---- the active modes tab ---------------------------------------------------------------

    def _runs_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.run_list = QListWidget()
        self.run_list.setMaximumHeight(110)
        self.run_list.currentRowChanged.connect(self._run_changed)
        lay.addWidget(self.run_list)
        self.run_title = QLabel("No mode is active.", objectName="modesRunTitle")
        self.run_title.setWordWrap(True)
        lay.addWidget(self.run_title)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m confirmed")
        lay.addWidget(self.progress)
        self.results = _table(["Device", "Kind", "Step", "Result", "Detail", "Before", "Target"])
        lay.addWidget(self.results, 1)
        self.hand_label = QLabel(objectName="modesHint")
        self.hand_label.setWordWrap(True)
        lay.addWidget(self.hand_label)
        self.hand_changed = QListWidget()
        self.hand_changed.setMaximumHeight(110)
        self.hand_changed.setVisible(False)
        lay.addWidget(self.hand_changed)
        row = QHBoxLayout()
        self.run_reason = QLineEdit()
        self.run_reason.setPlaceholderText("Reason for retrying or returning (required)")
        self.run_reason.setMaxLength(500)
        self.run_reason.textChanged.connect(self._update_run_buttons)
        row.addWidget(self.run_reason, 1)
        self.retry_button = QPushButton("Retry failed")
        self.retry_button.clicked.connect(
            lambda: self.sig_retry.emit(self.run_id(), self.run_reason.text().strip())
        )
        row.addWidget(self.retry_button)
        self.return_button = QPushButton("Return to normal…")
        self.return_button.clicked.connect(self._return_clicked)
        row.addWidget(self.return_button)
        lay.addLayout(row)
        self.run_problem = QLabel(objectName="modesProblem")
        lay.addWidget(self.run_problem)
        self.pending_return = ""  # the run whose hand-changed devices are listed, awaiting a choice
        self._update_run_buttons()
        return page

    def run_id(self) -> str:
        row = self.run_list.currentRow()
        return self.runs[row].run_id if 0 <= row < len(self.runs) else ""

    def current_run(self) -> Any:
        row = self.run_list.currentRow()
        return self.runs[row] if 0 <= row < len(self.runs) else None

    def set_runs(self, runs: list[Any], prefer: str = "") -> None:
        """The active runs; keeps the current one selected (or `prefer`, a run just activated)."""
        keep = prefer or self.run_id()
        self.runs = list(runs)
        self.run_list.blockSignals(True)
        self.run_list.clear()
        for r in self.runs:
            item = QListWidgetItem(
                f"■ {r.mode_name} — {r.scope.text()} — {r.state_text()} — {r.progress_text()}"
            )
            item.setForeground(Qt.GlobalColor.white)
            item.setData(Qt.ItemDataRole.DecorationRole, None)
            self.run_list.addItem(item)
        ids = [r.run_id for r in self.runs]
        self.run_list.setCurrentRow(ids.index(keep) if keep in ids else (0 if ids else -1))
        self.run_list.blockSignals(False)
        self._show_run()
        if self.run_id() != keep:
            self.sig_run_selected.emit(self.run_id())

    def _run_changed(self, _row: int) -> None:
        self.pending_return = ""
        self.hand_changed.setVisible(False)
        self.hand_label.clear()
        self._show_run()
        self.sig_run_selected.emit(self.run_id())

    def _show_run(self) -> None:
        r = self.current_run()
        if r is None:
            self.run_title.setText("No mode is active.")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            _fill(self.results, [])
        else:
            self.run_title.setText(
                f"<span style='color:{r.color}'>■</span> {r.mode_name} — {r.scope.text()} — {r.state_text()}: "
                f"{r.progress_text()}. By {r.activated_by}: “{r.reason}”"
            )
            self.progress.setRange(0, max(1, r.total))
            self.progress.setValue(r.confirmed)
        self._update_run_buttons()

    def set_results(self, run: Any, results: list[Any]) -> None:
        if run.run_id != self.run_id():
            return
        _fill(
            self.results,
            [
                [x.name, x.kind.replace("_", " "), x.step, x.outcome(), x.detail, x.previous, x.target]
                for x in results
            ],
        )

    def _update_run_buttons(self) -> None:
        r = self.current_run()
        reason = self.run_reason.text().strip()
        if not self.allowed:
            problem = self.why_not
        elif r is None:
            problem = ""
        elif r.busy:
            problem = "Commands are on their way: wait for them before retrying or returning."
        elif not reason:
            problem = "Give a reason to retry or return to normal."
        else:
            problem = ""
        ok = self.allowed and r is not None and not r.busy and bool(reason)
        # Refused devices (offline, fault, maintenance at activation) are resent if able now.
        retryable = r is not None and (r.failed > 0 or (r.refused > 0 and r.state in ("ACTIVE", "PARTIAL")))
        self.retry_button.setEnabled(ok and retryable)
        self.return_button.setEnabled(ok)
        self.return_button.setText("Confirm return to normal" if self.pending_return else "Return to normal…")
        self.run_problem.setText(problem)

    def _return_clicked(self) -> None:
        run_id = self.run_id()
        if self.pending_return == run_id:
            restore = [
                self.hand_changed.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.hand_changed.count())
                if self.hand_changed.item(i).checkState() == Qt.CheckState.Checked
            ]
            self.sig_return.emit(run_id, self.run_reason.text().strip(), restore)
            self.pending_return = ""
            self.hand_changed.setVisible(False)
            self.hand_label.clear()
            self.run_reason.clear()
        else:
            self.hand_label.setText("Checking which devices were changed by hand during the mode…")
            self.sig_return_check.emit(run_id)
        self._update_run_buttons()

    def set_hand_changed(self, run_id: str, devices: list[Any]) -> None:
        """The return's dry run: tick the hand-changed devices to restore too, then confirm."""
        if run_id != self.run_id():
            return
        self.pending_return = run_id
        self.hand_changed.clear()
        for d in devices:
            item = QListWidgetItem(f"{d.name}: now {d.detail or '?'} — before the mode {d.previous or '?'}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, d.asset_id)
            self.hand_changed.addItem(item)
        self.hand_changed.setVisible(bool(devices))
        self.hand_label.setText(
            f"{len(devices)} device(s) were changed by hand during the mode: ticked ones are restored too, "
            "the others are left as they are. Confirm to return to normal."
            if devices
            else "No device was changed by hand. Confirm to return every device to its state before the mode."
        )
        self._update_run_buttons()

    # ---- the journal tab --------------------------------------------------------------------

    def _journal_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        row = QHBoxLayout()
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.sig_journal.emit)
        row.addWidget(
            QLabel("Every mode run, newest first; pick one to see its devices.", objectName="modesHint")
        )
        row.addStretch(1)
        row.addWidget(refresh)
        lay.addLayout(row)
        self.journal = _table(["Mode", "Scope", "State", "Activated", "By", "Reason", "Returned", "Devices"])
        self.journal.itemSelectionChanged.connect(self._journal_pick)
        lay.addWidget(self.journal, 2)
        self.journal_results = _table(["Device", "Kind", "Phase", "Step", "Result", "Detail", "Before"])
        lay.addWidget(self.journal_results, 3)
        return page

    def set_journal(self, runs: list[Any], times: list[tuple[str, str]]) -> None:
        """`times`: each run's (activated, returned) in city time, from the controller."""
        self.journal_runs = list(runs)
        _fill(
            self.journal,
            [
                [
                    r.mode_name,
                    r.scope.text(),
                    r.state_text(),
                    t[0],
                    r.activated_by,
                    r.reason,
                    t[1],
                    r.progress_text(),
                ]
                for r, t in zip(runs, times, strict=True)
            ],
        )

    def _journal_pick(self) -> None:
        rows = self.journal.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self.journal_runs):
            self.sig_journal_run.emit(self.journal_runs[rows[0].row()].run_id)

    def set_journal_results(self, results: list[Any]) -> None:
        _fill(
            self.journal_results,
            [
                [x.name, x.kind.replace("_", " "), x.phase, x.step, x.outcome(), x.detail, x.previous]
                for x in results
            ],
        )
