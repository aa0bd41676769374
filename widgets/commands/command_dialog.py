"""The command dialog: choose an action that fits the selected devices, then follow its progress.

Not modal: alarms and updates keep arriving while it is open. Critical actions (raising bollards,
locking a building, switching a junction to flashing) need a reason and an explicit confirmation,
and are offered only to roles that may send them. After sending, the dialog shows each device's
stage as the backend reports it: it never says "done" before the device reports its new state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from PySide6.QtCore import QAbstractItemModel, QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.commands.style import STAGE_COLORS

PIPELINE = (
    ("SENT", "Sent"),
    ("ACCEPTED", "Accepted"),
    ("ACKNOWLEDGED", "Device ack"),
    ("CONFIRMED", "Confirmed"),
)
ENDINGS = (("FAILED", "Failed"), ("TIMED_OUT", "Timed out"), ("REJECTED", "Rejected"))
ORDER = {s: i for i, (s, _) in enumerate(PIPELINE)}
# How far a device that ended without success got: a rejected one was only sent; one that failed
# or timed out had been accepted (whether it acknowledged first is in its detail).
REACHED = {**ORDER, "REJECTED": 0, "FAILED": 1, "TIMED_OUT": 1}


class Action(Protocol):
    """What the dialog reads of an offered action (app.models.commands.ActionInfo fits)."""

    action: int
    label: str
    critical: bool
    params: tuple[str, ...]


class StageChip(QLabel):
    """One step of the pipeline with how many devices reached it."""

    def __init__(self, stage: str, label: str) -> None:
        super().__init__()
        self.stage, self.label = stage, label
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(120)
        self.set_count(0, 0)

    def set_count(self, n: int, total: int) -> None:
        color = STAGE_COLORS[self.stage]
        lit = n > 0
        self.setText(f"{self.label}\n{n} / {total}" if total else self.label)
        self.setStyleSheet(
            f"border: 2px solid {color if lit else '#30363d'}; border-radius: 6px; padding: 4px 8px;"
            f"color: {color if lit else '#6e7681'}; font-weight: bold; background: {'#1d2430' if lit else '#15181d'};"
        )


class CommandDialog(QDialog):
    # action number, params {"level_percent", "badge_id", "until" (unix s), "preset", "hold_seconds",
    # "station_id"}, reason, confirmed
    sig_send = Signal(int, dict, str, bool)

    def __init__(
        self,
        targets: Sequence[tuple[str, str, str]],
        actions: Sequence[Action],
        role: str,
        may_critical: bool,
        parent: QWidget | None = None,
        state: str = "",
        default: int = 0,
        unchanged: set[int] | frozenset[int] = frozenset(),
    ) -> None:
        """`targets`: (asset id, name, kind label); `actions`: those that fit every target;
        `state`: the devices' current state in words; `default`: the index of the action proposed
        first (one that changes the state); `unchanged`: actions the devices already show."""
        super().__init__(parent)
        self.setObjectName("commandDialog")
        self.setWindowTitle("Vigie — device command")
        self.setModal(False)
        self.setMinimumWidth(820)
        self.targets = list(targets)
        self.actions = list(actions)
        self.role = role
        self.may_critical = may_critical
        self.state_text = state
        self.unchanged = set(unchanged)

        self.pages = QStackedWidget()
        self.pages.addWidget(self._compose_page())
        self.pages.addWidget(self._progress_page())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 12, 14, 12)
        lay.addWidget(self.pages)
        if 0 <= default < len(self.actions):
            self.action_box.setCurrentIndex(default)
        self._on_action_changed()

    # ---- composing -------------------------------------------------------------------------

    def _compose_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(10)
        kinds = sorted({k for _, _, k in self.targets})
        head = QLabel(f"COMMAND {len(self.targets)} DEVICE{'S' if len(self.targets) > 1 else ''}")
        head.setObjectName("dialogTitle")
        lay.addWidget(head)
        names = [f"{n}  ({i})" for i, n, _ in self.targets[:6]]
        more = f"\n… and {len(self.targets) - 6} more" if len(self.targets) > 6 else ""
        self.targets_label = QLabel(f"{', '.join(kinds)}\n" + "\n".join(names) + more)
        self.targets_label.setObjectName("dialogTargets")
        lay.addWidget(self.targets_label)
        self.state_label = QLabel(f"Now: {self.state_text}" if self.state_text else "")
        self.state_label.setObjectName("dialogState")
        self.state_label.setStyleSheet("font-weight: bold;")
        self.state_label.setVisible(bool(self.state_text))
        lay.addWidget(self.state_label)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.action_box = QComboBox()
        for a in self.actions:
            label = f"{a.label}   ⚠ critical" if a.critical else a.label
            if a.action in self.unchanged:
                label += "   (already so)"
            self.action_box.addItem(label, a.action)
        self.action_box.currentIndexChanged.connect(self._on_action_changed)
        form.addRow("Action:", self.action_box)

        self.level = QSlider(Qt.Orientation.Horizontal, minimum=1, maximum=100, value=50)
        self.level_value = QLabel("50 %")
        self.level.valueChanged.connect(lambda v: self.level_value.setText(f"{v} %"))
        level_row = QWidget()
        lr = QHBoxLayout(level_row)
        lr.setContentsMargins(0, 0, 0, 0)
        lr.addWidget(self.level, 1)
        lr.addWidget(self.level_value)
        self.badge = QLineEdit(placeholderText="badge number, e.g. B-004211")
        self.until = QDateTimeEdit(QDateTime.currentDateTime().addSecs(2 * 3600))
        self.until.setCalendarPopup(True)
        self.until.setDisplayFormat("dd MMM yyyy HH:mm")
        self.preset = QSpinBox(minimum=1, maximum=32, value=1)
        # Tram regulation: a hold of 1–900 s (the backend's bound), a station ahead to skip.
        self.hold = QSpinBox(minimum=1, maximum=900, value=120, suffix=" s")
        self.station = QComboBox()
        self._param_rows: dict[str, QWidget] = {
            "level_percent": level_row,
            "badge_id": self.badge,
            "until": self.until,
            "preset": self.preset,
            "hold_seconds": self.hold,
            "station_id": self.station,
        }
        labels = {
            "level_percent": "Level:",
            "badge_id": "Badge:",
            "until": "Until:",
            "preset": "Preset:",
            "hold_seconds": "Hold for:",
            "station_id": "Station to skip:",
        }
        for name, widget in self._param_rows.items():
            form.addRow(labels[name], widget)
        self.form = form
        self.reason = QLineEdit(
            placeholderText="Why? (required for critical commands; kept in the audit trail)"
        )
        self.reason.textChanged.connect(self._validate)
        self.badge.textChanged.connect(self._validate)
        form.addRow("Reason:", self.reason)
        lay.addLayout(form)

        self.critical = QFrame(objectName="criticalBanner")
        cl = QVBoxLayout(self.critical)
        self.critical_text = QLabel(wordWrap=True)
        self.confirm = QCheckBox()
        self.confirm.toggled.connect(self._validate)
        cl.addWidget(self.critical_text)
        cl.addWidget(self.confirm)
        lay.addWidget(self.critical)
        self.problem = QLabel(objectName="dialogProblem", wordWrap=True)
        lay.addWidget(self.problem)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primaryButton")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self._send)
        buttons.addWidget(cancel)
        buttons.addWidget(self.send_button)
        lay.addLayout(buttons)
        return page

    def current_action(self) -> Action | None:
        i = self.action_box.currentIndex()
        return self.actions[i] if 0 <= i < len(self.actions) else None

    def _on_action_changed(self) -> None:
        a = self.current_action()
        needed = set(a.params) if a else set()
        for name, widget in self._param_rows.items():
            self.form.setRowVisible(widget, name in needed)
        crit = bool(a and a.critical)
        self.critical.setVisible(crit)
        if a is not None and crit:
            n = len(self.targets)
            self.critical_text.setText(
                f"⚠  CRITICAL — “{a.label}” on {n} device{'s' if n > 1 else ''} acts on the street or on a "
                "building. It needs a reason and your confirmation, and is recorded with your name."
            )
            self.confirm.setText(f"I confirm: {a.label.lower()} on {n} device{'s' if n > 1 else ''}")
            self.confirm.setChecked(False)
        self._validate()

    def _problems(self) -> list[str]:
        a = self.current_action()
        if a is None:
            return ["No command fits this selection."]
        out = []
        if a.critical and not self.may_critical:
            out.append(
                f"“{a.label}” needs the SUPERVISOR role — you are logged in as {self.role or 'nobody'}."
            )
        if a.critical and not self.reason.text().strip():
            out.append("Give a reason: critical commands are recorded with it.")
        if a.critical and not self.confirm.isChecked():
            out.append("Tick the confirmation.")
        if "badge_id" in a.params and not self.badge.text().strip():
            out.append("Enter the badge number.")
        if "station_id" in a.params and self.station.count() == 0:
            out.append("No station ahead of this tram on its trip: nothing to skip.")
        return out

    def set_stations(self, stations: Sequence[tuple[str, str]]) -> None:
        """The stations ahead a tram may skip: (station id, name), in trip order."""
        self.station.clear()
        for sid, name in stations:
            self.station.addItem(f"{name}  ({sid})" if name else sid, sid)
        self._validate()

    def _validate(self) -> None:
        problems = self._problems()
        self.problem.setText("\n".join(problems))
        self.send_button.setEnabled(not problems)
        a = self.current_action()
        n = len(self.targets)
        label = f"{a.label} — {n} device{'s' if n > 1 else ''}" if a else "Send"
        self.send_button.setText(label)
        self.send_button.setProperty("critical", bool(a and a.critical))
        self.send_button.style().unpolish(self.send_button)
        self.send_button.style().polish(self.send_button)

    def params(self) -> dict[str, Any]:
        a = self.current_action()
        needed = set(a.params) if a else set()
        out: dict[str, Any] = {}
        if "level_percent" in needed:
            out["level_percent"] = self.level.value()
        if "badge_id" in needed:
            out["badge_id"] = self.badge.text().strip()
        if "until" in needed:
            out["until"] = self.until.dateTime().toSecsSinceEpoch()
        if "preset" in needed:
            out["preset"] = self.preset.value()
        if "hold_seconds" in needed:
            out["hold_seconds"] = self.hold.value()
        if "station_id" in needed:
            out["station_id"] = self.station.currentData() or ""
        return out

    def _send(self) -> None:
        a = self.current_action()
        if a is None or self._problems():
            return
        self.progress_title.setText(f"{a.label.upper()} — {len(self.targets)} DEVICE(S)")
        self.set_counts({"SENT": len(self.targets)}, len(self.targets))
        self.pages.setCurrentIndex(1)
        self.sig_send.emit(a.action, self.params(), self.reason.text().strip(), bool(a.critical))

    # ---- progress --------------------------------------------------------------------------

    def _progress_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(10)
        self.progress_title = QLabel(objectName="dialogTitle")
        lay.addWidget(self.progress_title)
        chips = QHBoxLayout()
        self.chips: dict[str, StageChip] = {}
        for i, (stage, label) in enumerate(PIPELINE):
            if i:
                arrow = QLabel("→")
                arrow.setStyleSheet("color: #6e7681; font-size: 16pt;")
                chips.addWidget(arrow)
            self.chips[stage] = chip = StageChip(stage, label)
            chips.addWidget(chip)
        lay.addLayout(chips)
        endings = QHBoxLayout()
        ended = QLabel("Ended without success:")
        ended.setObjectName("panelSummary")
        endings.addWidget(ended)
        for stage, label in ENDINGS:
            self.chips[stage] = chip = StageChip(stage, label)
            endings.addWidget(chip)
        endings.addStretch(1)
        lay.addLayout(endings)
        self.table = QTableView()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setAlternatingRowColors(True)
        self.table.setMinimumHeight(160)
        lay.addWidget(self.table, 1)
        self.summary = QLabel(objectName="dialogSummary", wordWrap=True)
        lay.addWidget(self.summary)
        row = QHBoxLayout()
        row.addStretch(1)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.accept)
        row.addWidget(self.close_button)
        lay.addLayout(row)
        return page

    def set_progress_model(self, model: QAbstractItemModel) -> None:
        self.table.setModel(model)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            h.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)

    def set_counts(self, counts: dict[str, int], total: int) -> None:
        """Counts per stage; a step counts every device that got at least that far."""
        for stage, chip in self.chips.items():
            if stage in ORDER:
                n = sum(c for s, c in counts.items() if REACHED.get(s, -1) >= ORDER[stage])
            else:
                n = counts.get(stage, 0)
            chip.set_count(n, total)

    def set_summary(self, text: str, done: bool, failed: bool) -> None:
        color = "#f85149" if failed else ("#3fb950" if done else "#c9d1d9")
        self.summary.setText(text)
        self.summary.setStyleSheet(f"color: {color}; font-weight: bold;")
        self.close_button.setText("Close" if done else "Close (the command goes on)")
