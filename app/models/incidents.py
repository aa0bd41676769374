"""Incidents and units as the console holds them: the stores fed by the watches, and the Qt models
of the incident list and the unit board (ordered with OrderedRowsModel, so a re-sort keeps the
operator's selection).

`IncidentBook` and `UnitBook` are the Qt-free part (tests/unit/test_dispatch_stores.py); the
stores wrap them with a change signal. The list's timers and the board's times in status move on
a one-second tick that repaints only their column; `clock` is the wall clock (a test may move it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont

from vigie.app.models.dispatch_records import (
    INCIDENT_LABELS,
    UNIT_LABELS,
    Catalogue,
    IncidentRecord,
    UnitRecord,
    duration_text,
    incident_order,
    timer_level,
    unit_order,
)
from vigie.app.models.ordered_rows import OrderedRowsModel
from vigie.widgets.dispatch.style import (
    GREY,
    INCIDENT_STATUS_COLORS,
    TIMER_COLORS,
    UNIT_STATUS_COLORS,
    priority_color,
)

ID_ROLE = Qt.ItemDataRole.UserRole + 1
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 2  # the timer's level: "", "amber", "red"
Index = QModelIndex | QPersistentModelIndex


class IncidentBook:
    """Every incident the console knows, by id, and the sequence it is at."""

    def __init__(self) -> None:
        self.incidents: dict[str, IncidentRecord] = {}
        self.sequence = 0

    def reset(self, incidents: Iterable[IncidentRecord], sequence: int) -> None:
        self.incidents = {i.id: i for i in incidents}
        self.sequence = sequence

    def apply(self, incidents: Iterable[IncidentRecord], sequence: int = 0) -> set[str]:
        """Newer states win (an action's answer may arrive after the watch's change, or before)."""
        changed = set()
        for inc in incidents:
            old = self.incidents.get(inc.id)
            if old is None or inc.sequence >= old.sequence:
                self.incidents[inc.id] = inc
                changed.add(inc.id)
        self.sequence = max(self.sequence, sequence)
        return changed

    def ordered(self) -> list[IncidentRecord]:
        return sorted(self.incidents.values(), key=incident_order)

    def open_for_unit(self, unit_id: str) -> IncidentRecord | None:
        return next((i for i in self.incidents.values() if i.is_open and unit_id in i.unit_ids), None)


class UnitBook:
    """Every unit, by id."""

    def __init__(self) -> None:
        self.units: dict[str, UnitRecord] = {}
        self.sequence = 0

    def reset(self, units: Iterable[UnitRecord], sequence: int) -> None:
        self.units = {u.id: u for u in units}
        self.sequence = sequence

    def apply(self, units: Iterable[UnitRecord], sequence: int = 0) -> set[str]:
        changed = set()
        for u in units:
            old = self.units.get(u.id)
            if old is None or u.sequence >= old.sequence:
                self.units[u.id] = u
                changed.add(u.id)
        self.sequence = max(self.sequence, sequence)
        return changed

    def board(self, fleet: str = "") -> list[UnitRecord]:
        """Grouped by status, then callsign; `fleet` ("police", "technical") or "" for all."""
        return sorted((u for u in self.units.values() if not fleet or u.fleet == fleet), key=unit_order)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for u in self.units.values():
            out[u.status] = out.get(u.status, 0) + 1
        return out


class IncidentStore(QObject):
    sig_changed = Signal(object)  # set of incident ids (None: everything)
    sig_catalogue = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.book = IncidentBook()
        self.catalogue = Catalogue()

    def reset(self, incidents: list[IncidentRecord], sequence: int) -> None:
        self.book.reset(incidents, sequence)
        self.sig_changed.emit(None)

    def apply(self, incidents: list[IncidentRecord], sequence: int = 0) -> None:
        changed = self.book.apply(incidents, sequence)
        if changed:
            self.sig_changed.emit(changed)

    def apply_one(self, incident: IncidentRecord) -> None:
        self.apply([incident])

    def set_catalogue(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.sig_catalogue.emit()

    def get(self, incident_id: str) -> IncidentRecord | None:
        return self.book.incidents.get(incident_id)


class UnitStore(QObject):
    sig_changed = Signal(object)  # set of unit ids (None: everything)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.book = UnitBook()

    def reset(self, units: list[UnitRecord], sequence: int) -> None:
        self.book.reset(units, sequence)
        self.sig_changed.emit(None)

    def apply(self, units: list[UnitRecord], sequence: int = 0) -> None:
        changed = self.book.apply(units, sequence)
        if changed:
            self.sig_changed.emit(changed)

    def apply_one(self, unit: UnitRecord) -> None:
        self.apply([unit])

    def get(self, unit_id: str) -> UnitRecord | None:
        return self.book.units.get(unit_id)


class _Ticking(OrderedRowsModel):
    """A model with one column that changes with time alone, repainted once a second."""

    tick_column = 0

    def __init__(self, clock: Callable[[], float], parent: Any) -> None:
        super().__init__(parent)
        self.clock = clock
        self._bold = QFont()
        self._bold.setBold(True)
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self.tick)
        self._tick.start()

    def tick(self) -> None:
        if self._rows:
            top = self.index(0, self.tick_column)
            self.dataChanged.emit(top, self.index(len(self._rows) - 1, self.tick_column))

    def _refresh_all(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self.columns) - 1))


class IncidentListModel(_Ticking):
    """Open incidents by priority then age, with their timers; then the closed ones."""

    columns = [
        ("priority", "P"),
        ("timer", "Open for"),
        ("status", "Status"),
        ("type", "Type"),
        ("place", "Where"),
        ("units", "Units"),
        ("id", "Incident"),
    ]
    tick_column = 1

    def __init__(
        self,
        store: IncidentStore,
        units: UnitStore,
        clock: Callable[[], float] = time.time,
        parent: Any = None,
    ) -> None:
        super().__init__(clock, parent)
        self.store, self.units = store, units
        store.sig_changed.connect(self.refresh)
        store.sig_catalogue.connect(self._refresh_all)
        units.sig_changed.connect(lambda _ids: self._refresh_all())

    def refresh(self, _ids: object = None) -> None:
        rows = [i.id for i in self.store.book.ordered()]
        if rows != self._rows:
            self._apply_order(rows)
        self._refresh_all()

    def incident(self, row: int) -> IncidentRecord:
        return self.store.book.incidents[self._rows[row]]

    def level(self, inc: IncidentRecord) -> str:
        return timer_level(inc, self.store.catalogue.thresholds.get(inc.priority), self.clock())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        inc = self.store.book.incidents.get(self._rows[index.row()])
        if inc is None:
            return None
        col = self.columns[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == "priority":
                return f"P{inc.priority}"
            if col == "timer":
                end = inc.resolved_at or inc.closed_at if not inc.is_open else self.clock()
                text = duration_text(end - inc.created_at) if inc.created_at else ""
                level = self.level(inc)
                return f"{text}  {'⚠ LATE' if level == 'red' else '⚠' if level == 'amber' else ''}".strip()
            if col == "status":
                return INCIDENT_LABELS.get(inc.status, inc.status)
            if col == "type":
                return self.store.catalogue.name(inc.type)
            if col == "place":
                return ", ".join(x for x in (inc.street, inc.district) if x)
            if col == "units":
                return ", ".join(self._callsign(u) for u in inc.unit_ids)
            if col == "id":
                return inc.id
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == "priority":
                return QColor(priority_color(inc.priority))
            if col == "timer":
                return QColor(TIMER_COLORS[self.level(inc)])
            if col == "status":
                return QColor(INCIDENT_STATUS_COLORS.get(inc.status, GREY))
            if not inc.is_open:
                return QColor(GREY)
        if role == Qt.ItemDataRole.FontRole and (col in ("priority", "status") or self.level(inc) == "red"):
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{inc.id} — {inc.description or self.store.catalogue.name(inc.type)}"
        if role == ID_ROLE:
            return inc.id
        if role == LEVEL_ROLE:
            return self.level(inc)
        return None

    def _callsign(self, unit_id: str) -> str:
        u = self.units.get(unit_id)
        return u.callsign if u else unit_id


class UnitBoardModel(_Ticking):
    """Units grouped by status, with their time in status, incident and capabilities."""

    columns = [
        ("status", "Status"),
        ("callsign", "Unit"),
        ("since", "For"),
        ("incident", "Incident"),
        ("capability", "Can do"),
        ("service", "Service"),
    ]
    tick_column = 2

    def __init__(self, store: UnitStore, clock: Callable[[], float] = time.time, parent: Any = None) -> None:
        super().__init__(clock, parent)
        self.store = store
        self.fleet = ""
        store.sig_changed.connect(self.refresh)

    def set_fleet(self, fleet: str) -> None:
        self.fleet = fleet
        self.refresh()

    def refresh(self, _ids: object = None) -> None:
        rows = [u.id for u in self.store.book.board(self.fleet)]
        if rows != self._rows:
            self._apply_order(rows)
        self._refresh_all()

    def unit(self, row: int) -> UnitRecord:
        return self.store.book.units[self._rows[row]]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        u = self.store.book.units.get(self._rows[index.row()])
        if u is None:
            return None
        col = self.columns[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == "status":
                return UNIT_LABELS.get(u.status, u.status)
            if col == "callsign":
                return u.callsign
            if col == "since":
                return duration_text(self.clock() - u.status_since) if u.status_since else ""
            if col == "incident":
                return u.incident_id
            if col == "capability":
                return ", ".join(c for c in u.capabilities if c)
            if col == "service":
                return u.service or u.fleet
        if role == Qt.ItemDataRole.ForegroundRole and col == "status":
            return QColor(UNIT_STATUS_COLORS.get(u.status, GREY))
        if role == Qt.ItemDataRole.FontRole and col in ("status", "callsign"):
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            why = f"\n{u.status_reason}" if u.status_reason else ""
            return f"{u.callsign} ({u.id}) — {UNIT_LABELS.get(u.status, u.status)} by {u.updated_by}{why}"
        if role == ID_ROLE:
            return u.id
        return None
