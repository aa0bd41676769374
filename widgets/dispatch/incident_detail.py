"""One incident: what, where, its timers, the checklist (ticked as done), linked alarms and
cameras, the units on it, the timeline, notes and the status actions.

A plain view: `show_incident(view)` takes a dict of plain values (see IncidentDetail.show_incident),
and actions come out as signals; whoever owns it decides what they mean and whether they are
allowed (`set_rights`)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.dispatch.style import INCIDENT_STATUS_COLORS, TIMER_COLORS, priority_color
from vigie.widgets.wall.send_menu import WallChoices

KIND_COLORS = {"status": "#e6edf3", "assigned": "#f0883e", "override": "#f85149", "note": "#58a6ff"}


def _hms(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else "—"


class IncidentDetail(QWidget):
    sig_step = Signal(str, str, bool)  # incident id, step id, done
    sig_note = Signal(str, str)  # incident id, text
    # incident id, status name, text (reason or outcome), override (resolve with steps open)
    sig_status = Signal(str, str, str, bool)
    sig_cameras = Signal(str)  # "cameras near the incident" into the mosaic
    sig_show_on_map = Signal(str)
    sig_send_to_wall = Signal(str, object)  # wall, {"kind": "incident", "incident_id": id}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.incident_id = ""
        self.can_operate = self.can_supervise = False
        self._why_operate = self._why_supervise = ""
        self._open_required = 0
        self._status = ""
        self._filling = False
        self.walls = WallChoices()

        self.title = QLabel("No incident selected")
        self.title.setObjectName("detailTitle")
        self.status = QLabel()
        self.status.setObjectName("detailStatus")
        self.place = QLabel()
        self.timers = QLabel()
        self.description = QLabel()
        self.links = QLabel()
        self.units = QLabel()

        self.cameras = QPushButton("Cameras near → mosaic (C)")
        self.cameras.clicked.connect(lambda: self.incident_id and self.sig_cameras.emit(self.incident_id))
        self.map = QPushButton("Show on map")
        self.map.clicked.connect(lambda: self.incident_id and self.sig_show_on_map.emit(self.incident_id))
        self.wall = QPushButton("Send to wall ▸")
        self.wall.clicked.connect(self._wall_menu)
        tools = QHBoxLayout()
        for w in (self.cameras, self.map, self.wall):
            tools.addWidget(w)
        tools.addStretch(1)

        QShortcut(  # C, with the focus in this panel only
            QKeySequence(Qt.Key.Key_C),
            self,
            lambda: self.incident_id and self.sig_cameras.emit(self.incident_id),
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        self.steps = QListWidget()
        # The dark theme draws no box around an unticked step: draw one (docs/ux.md, readable).
        self.steps.setStyleSheet(
            "QListWidget::indicator { width: 16px; height: 16px; border: 2px solid #8b949e;"
            " border-radius: 3px; background: #0f1216; }"
            "QListWidget::indicator:checked { background: #3fb950; border-color: #3fb950; }"
            "QListWidget::item { padding: 3px; }"
        )
        self.steps.itemChanged.connect(self._on_step)
        self.timeline = QListWidget()
        self.timeline.setWordWrap(True)
        self.note = QLineEdit(placeholderText="Add a note, Enter saves")
        self.note.returnPressed.connect(self._on_note)

        self.text = QLineEdit(placeholderText="Reason (hold, override) or outcome (resolve)")
        self.hold = QPushButton("Hold")
        self.resume = QPushButton("Resume")
        self.resolve = QPushButton("Resolve")
        self.close_ = QPushButton("Close")
        self.reopen = QPushButton("Reopen")
        self.hold.clicked.connect(lambda: self._ask("on_hold"))
        self.resume.clicked.connect(lambda: self._ask("resume"))
        self.resolve.clicked.connect(lambda: self._ask("resolved"))
        self.close_.clicked.connect(lambda: self._ask("closed"))
        self.reopen.clicked.connect(lambda: self._ask("in_progress"))
        self.hint = QLabel()
        # No word wrap in this panel: a wrapped label makes the dock size the panel by its
        # preferred height (heightForWidth), and a short dock would then cut off its bottom.
        for w in (self.place, self.description, self.links, self.units):
            w.setMinimumWidth(1)  # long text is cut at the panel's edge (the tooltip has it whole)
        self.hint.setStyleSheet("color: #d29922;")
        actions = QHBoxLayout()
        actions.addWidget(self.text, 1)
        for b in (self.hold, self.resume, self.resolve, self.close_, self.reopen):
            actions.addWidget(b)

        head = QGridLayout()
        head.addWidget(self.title, 0, 0, 1, 2)
        head.addWidget(self.status, 1, 0)
        head.addWidget(self.timers, 1, 1)
        head.addWidget(self.place, 2, 0, 1, 2)
        head.addWidget(self.description, 3, 0, 1, 2)
        head.addWidget(self.units, 4, 0, 1, 2)
        head.addWidget(self.links, 5, 0, 1, 2)
        # What must stay in sight on a short panel comes first (who, where, the status actions);
        # the checklist and the timeline share what is left.
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(QLabel("Checklist"))
        tl.addWidget(self.steps, 1)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(QLabel("Timeline"))
        bl.addWidget(self.timeline, 1)
        bl.addWidget(self.note)
        for w in (self.steps, self.timeline):
            w.setMinimumHeight(48)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([200, 300])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addLayout(head)
        lay.addLayout(tools)
        lay.addLayout(actions)
        lay.addWidget(self.hint)
        lay.addWidget(split, 1)
        self.show_incident(None)

    # ---- what it shows ---------------------------------------------------------------------

    def show_incident(self, v: dict | None) -> None:
        """`v`: id, priority, type_name, status, status_label, street, district, description,
        created_at, dispatched_at, level ("", "amber", "red"), age_text, steps [(id, text,
        required, done, done_by)], timeline [(time, user, kind, text)], alarms [str], cameras
        [str], units [str], hold_reason, outcome; None: nothing selected."""
        self._filling = True
        try:
            self._fill(v)
        finally:
            self._filling = False
        self._update_actions()

    def _fill(self, v: dict | None) -> None:
        if v is None:
            self.incident_id, self._status, self._open_required = "", "", 0
            self.title.setText("No incident selected")
            for w in (self.status, self.place, self.timers, self.description, self.links, self.units):
                w.clear()
            self.steps.clear()
            self.timeline.clear()
            return
        changed = v["id"] != self.incident_id
        self.incident_id, self._status = v["id"], v["status"]
        color = priority_color(v["priority"])
        self.title.setText(
            f"<span style='color:{color}'>P{v['priority']}</span> · {v['type_name']} — {v['id']}"
        )
        scolor = INCIDENT_STATUS_COLORS.get(v["status"], "#8b949e")
        extra = v.get("hold_reason") if v["status"] == "on_hold" else v.get("outcome")
        self.status.setText(
            f"<b style='color:{scolor}'>{v['status_label']}</b>" + (f" — {extra}" if extra else "")
        )
        tcolor = TIMER_COLORS.get(v.get("level", ""), "#aab3bd")
        self.timers.setText(
            f"<span style='color:{tcolor}'><b>{v.get('age_text', '')}</b></span> · created "
            f"{_hms(v['created_at'])} · dispatched {_hms(v['dispatched_at'])}"
        )
        self.place.setText(", ".join(x for x in (v["street"], v["district"]) if x))
        self.description.setText(v.get("description") or "")
        self.units.setText("Units: " + (", ".join(v["units"]) or "none yet"))
        self.links.setText(
            "Alarms: "
            + (", ".join(v["alarms"]) or "none")
            + " · Cameras: "
            + (", ".join(v["cameras"]) or "none")
        )
        self._open_required = sum(1 for s in v["steps"] if s[2] and not s[3])
        if changed or self.steps.count() != len(v["steps"]):
            self.steps.clear()
            for sid, *_rest in v["steps"]:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, sid)
                self.steps.addItem(item)
        for i, (_sid, text, required, done, by) in enumerate(v["steps"]):
            item = self.steps.item(i)
            item.setText(f"{text}{'  (required)' if required else ''}{f'  — {by}' if done and by else ''}")
            item.setCheckState(Qt.CheckState.Checked if done else Qt.CheckState.Unchecked)
        if changed or self.timeline.count() != len(v["timeline"]):
            self.timeline.clear()
            for t, user, kind, text in v["timeline"]:
                item = QListWidgetItem(f"{_hms(t)}  {user}  ·  {text}")
                item.setForeground(QColor(KIND_COLORS.get(kind, "#aab3bd")))
                self.timeline.addItem(item)
            self.timeline.scrollToBottom()

    def set_rights(self, operate: bool, supervise: bool, why_operate: str, why_supervise: str) -> None:
        """Operators create, note and tick; supervisors also override and close (the backend decides anyway)."""
        self.can_operate, self.can_supervise = operate, supervise
        self._why_operate, self._why_supervise = why_operate, why_supervise
        self._update_actions()

    def set_walls(self, names: list[str], offline: set[str] | frozenset[str] = frozenset()) -> None:
        self.walls.set_walls(names, offline)
        self._update_actions()

    def _update_actions(self) -> None:
        has = bool(self.incident_id)
        st = self._status
        open_ = st in ("new", "dispatched", "in_progress", "on_hold")
        for w in (self.cameras, self.map):
            w.setEnabled(has)
        self.wall.setEnabled(has and bool(self.walls.names) and self.can_supervise)
        self.wall.setToolTip("" if self.can_supervise else self._why_supervise)
        operate = has and self.can_operate
        for w, ok in (
            (self.note, operate),
            (self.steps, operate),
            (self.text, operate),
            (self.hold, operate and st in ("new", "dispatched", "in_progress")),
            (self.resume, operate and st == "on_hold"),
            (self.resolve, operate and open_),
            (self.reopen, operate and st == "resolved"),
        ):
            w.setEnabled(ok)
            w.setToolTip("" if self.can_operate else self._why_operate)
        self.close_.setEnabled(has and self.can_supervise and st == "resolved")
        self.close_.setToolTip("" if self.can_supervise else self._why_supervise)
        if has and open_ and self._open_required:
            who = "" if self.can_supervise else " (a supervisor's)"
            self.hint.setText(
                f"{self._open_required} required step(s) open: resolving needs{who or ' an'} override reason."
            )
        else:
            self.hint.clear()

    # ---- actions ---------------------------------------------------------------------------

    def _on_step(self, item: QListWidgetItem) -> None:
        if self._filling or not self.incident_id:
            return
        done = item.checkState() == Qt.CheckState.Checked
        self.sig_step.emit(self.incident_id, item.data(Qt.ItemDataRole.UserRole), done)

    def _on_note(self) -> None:
        text = self.note.text().strip()
        if text and self.incident_id:
            self.sig_note.emit(self.incident_id, text)
            self.note.clear()

    def _ask(self, status: str) -> None:
        """A status change; hold needs a reason, resolve an outcome (and, with required steps
        open, a supervisor's override: the same text is its reason)."""
        text = self.text.text().strip()
        if not self.incident_id:
            return
        if status in ("on_hold", "resolved") and not text:
            self.text.setFocus()
            need = "a reason to hold" if status == "on_hold" else "an outcome to resolve"
            self.hint.setText(f"Type {need} first.")
            return
        override = False
        if status == "resolved" and self._open_required:
            if not self.can_supervise:
                self.hint.setText(
                    f"{self._open_required} required step(s) open: tick them, or ask a supervisor to "
                    "resolve with an override reason."
                )
                return
            override = True
        self.sig_status.emit(self.incident_id, status, text, override)
        self.text.clear()

    def _wall_menu(self) -> None:
        if not self.incident_id:
            return
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        payload = {"kind": "incident", "incident_id": self.incident_id}
        if self.walls.add_menu(menu, payload, self.sig_send_to_wall.emit) is not None:
            menu.popup(self.wall.mapToGlobal(self.wall.rect().bottomLeft()))  # never exec()
