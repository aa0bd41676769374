"""Alarm lists: the live list, the shelved list and journal results, as ordered Qt table models.

The live list is sorted by priority, then newest first; an unacknowledged alarm's icon blinks (the
model toggles a blink phase twice a second and repaints only that column). All three lists are fed
from one store of the alarms the console knows, `AlarmStore`, which also keeps the counts and the
rate of new alarms for the flood indicator.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont

from vigie.app import city_time
from vigie.app.models.ordered_rows import OrderedRowsModel
from vigie.app.models.records import AlarmRecord
from vigie.widgets.alarms.style import PRIORITY_COLORS, STATE_LABELS, priority_icon

COLUMNS: list[tuple[str, str]] = [
    ("priority", "Priority"),
    ("age", "Age"),
    ("time", "Raised"),
    ("state", "State"),
    ("asset", "Asset"),
    ("message", "Alarm"),
    ("district", "District"),
    ("count", "Count"),
    ("ack", "Handled"),
]
UNACK_TINT = {1: QColor("#4a1d20"), 2: QColor("#3d2616")}
ID_ROLE = Qt.ItemDataRole.UserRole + 1
PRIORITY_ROLE = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex
FLOOD_WINDOW_S = 60.0
FLOOD_THRESHOLD = 10  # more than this many new alarms in the window: a flood (the indicator turns red)
FIRST_LISTED_MAX = 10_000  # alarms whose first listing time a list remembers (benchmarks)


class AlarmStore(QObject):
    """Every alarm the console knows (open and shelved), from the session's snapshot and changes."""

    sig_changed = Signal(object)  # set of alarm ids that changed (or None: everything)
    sig_raised = Signal(object)  # list[AlarmRecord] newly raised or re-raised (for the tone)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.alarms: dict[str, AlarmRecord] = {}
        self.sequence = 0
        self._raised_times: deque[float] = deque()

    def reset(self, alarms: list[AlarmRecord], sequence: int) -> None:
        self.alarms = {a.id: a for a in alarms if a.state != "normal"}
        self.sequence = sequence
        self.sig_changed.emit(None)

    def apply(self, alarms: list[AlarmRecord], sequence: int) -> None:
        raised = []
        for a in alarms:
            old = self.alarms.get(a.id)
            if a.state == "normal":
                self.alarms.pop(a.id, None)  # closed: the journal keeps it
            else:
                self.alarms[a.id] = a
            if a.state == "unack_active" and (
                old is None or old.occurrences != a.occurrences or old.state != a.state
            ):
                raised.append(a)
        self.sequence = sequence
        now = time.monotonic()
        self._raised_times.extend(now for _ in raised)
        self.sig_changed.emit({a.id for a in alarms})
        if raised:
            self.sig_raised.emit(raised)

    def rate(self) -> int:
        """New alarms in the last minute."""
        cutoff = time.monotonic() - FLOOD_WINDOW_S
        while self._raised_times and self._raised_times[0] < cutoff:
            self._raised_times.popleft()
        return len(self._raised_times)

    def counts(self) -> dict[str, int]:
        """Open alarms per priority ("p1".."p4"), unacknowledged and shelved."""
        out = {"p1": 0, "p2": 0, "p3": 0, "p4": 0, "unack": 0, "shelved": 0}
        for a in self.alarms.values():
            if a.state == "shelved":
                out["shelved"] += 1
                continue
            if a.state in ("suppressed", "out_of_service"):
                continue
            out[f"p{min(4, max(1, a.priority))}"] += 1
            if not a.acknowledged:
                out["unack"] += 1
        return out


def age_text(seconds: float) -> str:
    """How long ago, as an operator reads it at a glance: "45 s", "12 min", "3 h 05"."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d}"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _age(seconds: float) -> str:
    return time.strftime("%H:%M:%S", city_time.localtime(seconds)) if seconds else ""


class AlarmTableModel(OrderedRowsModel):
    """A list of alarms chosen by `accept`, sorted by priority then newest first."""

    columns = COLUMNS
    sig_reordering = Signal()  # rows are about to come, go or move (the panel keeps its place)
    sig_reordered = Signal()

    def __init__(
        self,
        accept: Callable[[AlarmRecord], bool],
        blink: bool = True,
        newest_first: bool = False,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.accept = accept
        self.text = ""
        self._all: list[AlarmRecord] = []
        # Live lists: priority first, then newest. The journal: newest first.
        self.order: Callable[[AlarmRecord], Any] = (
            (lambda a: (-a.raised_at, a.id)) if newest_first else (lambda a: (a.priority, -a.raised_at, a.id))
        )
        self._alarms: dict[str, AlarmRecord] = {}
        self._bold = QFont()
        self._bold.setBold(True)
        self.blink_on = True
        # Alarm id -> unix time it first reached this list (bench/alarm_bench.py reads it after
        # the alarms closed). The newest FIRST_LISTED_MAX only: a shift lists alarms without end.
        self.first_listed: dict[str, float] = {}
        self._ages = QTimer(self, interval=5000)  # the age column keeps counting
        self._ages.timeout.connect(self._refresh_ages)
        self._ages.start()
        if blink:
            self._blink = QTimer(self, interval=500)
            self._blink.timeout.connect(self._toggle_blink)
            self._blink.start()

    def set_text(self, text: str) -> None:
        """Filter by typing: asset, message, district, cause or priority ("p1")."""
        self.text = text.strip().lower()
        self.set_alarms(self._all)

    def _matches(self, a: AlarmRecord) -> bool:
        """Every typed word matches somewhere ("p1 universit"): terms AND, fields OR."""
        if not self.text:
            return True
        fields = [
            s.lower() for s in (a.asset_name, a.message, a.district, a.cause, a.asset_id, f"p{a.priority}")
        ]
        return all(any(t in f for f in fields) for t in self.text.split())

    def set_alarms(self, alarms: Iterable[AlarmRecord]) -> None:
        """The list becomes exactly these alarms (those accepted and matching the typed filter)."""
        now = time.time()
        self._all = list(alarms)
        fresh = {a.id: a for a in self._all if self.accept(a) and self._matches(a)}
        for aid in fresh:
            if aid not in self._alarms:
                self.first_listed.setdefault(aid, now)
        while len(self.first_listed) > FIRST_LISTED_MAX:  # oldest first (insertion order)
            del self.first_listed[next(iter(self.first_listed))]
        order = sorted(fresh.values(), key=self.order)
        new_rows = [a.id for a in order]
        if new_rows == self._rows:
            self._alarms = fresh
            if new_rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(new_rows) - 1, len(COLUMNS) - 1))
            return
        self.sig_reordering.emit()  # the old rows still read their old alarms
        try:
            self._alarms = {**self._alarms, **fresh}  # rows leaving stay readable until removed
            self._apply_order(new_rows)
            self._alarms = fresh
        finally:
            self.sig_reordered.emit()
        if new_rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(new_rows) - 1, len(COLUMNS) - 1))

    def alarm(self, alarm_id: str) -> AlarmRecord | None:
        return self._alarms.get(alarm_id)

    def _refresh_ages(self) -> None:
        if self._rows:
            col = next(i for i, (k, _) in enumerate(COLUMNS) if k == "age")
            self.dataChanged.emit(
                self.index(0, col), self.index(len(self._rows) - 1, col), [Qt.ItemDataRole.DisplayRole]
            )

    def _toggle_blink(self) -> None:
        self.blink_on = not self.blink_on
        rows = [self._pos[aid] for aid, a in self._alarms.items() if not a.acknowledged]
        if rows:
            self.dataChanged.emit(
                self.index(min(rows), 0), self.index(max(rows), 0), [Qt.ItemDataRole.DecorationRole]
            )

    # ---- Qt model interface --------------------------------------------------------------------

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        a = self._alarms[self._rows[index.row()]]
        col = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == "priority":
                return f"P{a.priority}"
            if col == "age":
                return age_text(time.time() - a.raised_at) if a.raised_at else ""
            if col == "time":
                return _age(a.raised_at)
            if col == "state":
                return STATE_LABELS.get(a.state, a.state)
            if col == "asset":
                return a.asset_name
            if col == "message":
                return a.message
            if col == "district":
                return a.district
            if col == "count":
                return (
                    f"×{a.occurrences}" + (" chattering" if a.chattering else "") if a.occurrences > 1 else ""
                )
            if col == "ack":
                if a.state == "shelved":
                    return f"shelved until {_age(a.shelved_until)} — {a.shelve_reason}"
                if a.acknowledged:
                    return f"{a.acknowledged_by} {_age(a.acknowledged_at)} {a.ack_comment}".strip()
                return ""
        if role == Qt.ItemDataRole.DecorationRole and col == "priority":
            # Unacknowledged alarms blink their icon, never the whole row (docs/ux.md).
            return priority_icon(a.priority, lit=a.acknowledged or self.blink_on)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == "priority":
                return QColor(PRIORITY_COLORS.get(a.priority, "#8b949e"))
            if not a.active:
                return QColor("#8b949e")  # returned to normal: still listed until acknowledged
        if role == Qt.ItemDataRole.FontRole and not a.acknowledged:
            return self._bold
        if role == Qt.ItemDataRole.BackgroundRole and not a.acknowledged and a.priority <= 2:
            # Unacknowledged P1/P2 rows are tinted: the alarm list is the loudest thing on screen.
            return UNACK_TINT[a.priority]
        if role == Qt.ItemDataRole.ToolTipRole:
            cams = ", ".join(a.camera_ids) or "none"
            return (
                f"{a.message}\n{a.asset_name} ({a.asset_id}) — {a.district}\ncause {a.cause}; cameras: {cams}"
            )
        if role == ID_ROLE:
            return a.id
        if role == PRIORITY_ROLE:
            return a.priority
        return None
