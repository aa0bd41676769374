"""Device commands as the console follows them: what may be sent, and each command's progress.

`CommandState` is made by the client (off the GUI thread) from every answer of the backend;
`CommandProgressModel` shows one command's targets, stage by stage, to the command dialog.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from vigie.app import city_time
from vigie.widgets.commands.style import STAGE_COLORS

# The stages in the order a healthy command goes through them; SENT is the console's own (the
# request left, no answer yet). The last three end a target without success.
PROGRESS = ("SENT", "ACCEPTED", "ACKNOWLEDGED", "CONFIRMED")
ENDINGS = ("FAILED", "TIMED_OUT", "REJECTED")
FINAL = ("CONFIRMED", *ENDINGS)
STAGE_LABELS = {
    "SENT": "Sent",
    "ACCEPTED": "Accepted by backend",
    "ACKNOWLEDGED": "Acknowledged by device",
    "CONFIRMED": "Confirmed — new state reported",
    "FAILED": "Failed",
    "TIMED_OUT": "Timed out",
    "REJECTED": "Rejected",
}


@dataclass(frozen=True)
class ActionInfo:
    """One action the backend offers (ListActions)."""

    action: int  # vigie.v1.CommandAction number
    name: str  # "LIGHT_DIM"
    label: str  # "Dim to a level"
    kinds: tuple[str, ...]  # asset kinds it fits ("street_light", ...)
    critical: bool
    params: tuple[str, ...]  # CommandParams fields it needs


def actions_for(actions: list[ActionInfo], kinds: set[str]) -> list[ActionInfo]:
    """The actions that fit every selected kind (a mixed selection gets only the common ones)."""
    return [a for a in actions if kinds and kinds <= set(a.kinds)]


# What a device reports once an action took effect (the attributes of protos/vigie/v1/assets.proto's
# README table, as the backend's actions set them): the dialog shows the current state and does not
# propose an action that would change nothing.
EFFECTS: dict[str, dict[str, str]] = {
    "LIGHT_ON": {"mode": "on"},
    "LIGHT_OFF": {"mode": "off"},
    "SIGNAL_FLASHING": {"mode": "flashing"},
    "SIGNAL_NORMAL": {"mode": "normal"},
    "SIGNAL_BUS_PRIORITY_ON": {"bus_priority": "on"},
    "SIGNAL_BUS_PRIORITY_OFF": {"bus_priority": "off"},
    "BOLLARD_RAISE": {"position": "raised"},
    "BOLLARD_LOWER": {"position": "lowered"},
    "ACCESS_LOCK": {"lock": "locked"},
    "ACCESS_UNLOCK": {"lock": "unlocked"},
}
# The attributes that make a device's commandable state, in the order they are told.
STATE_LABELS = {
    "mode": "Mode",
    "level_pct": "Level",
    "position": "Position",
    "bus_priority": "Bus priority",
    "lock": "Lock",
}


def device_state(attributes: list[dict[str, str]]) -> str:
    """The selected devices' current state in words: "Mode: on · Level: 100 %" for one device,
    counts per value for several ("Position: 3 raised, 1 lowered")."""
    parts = []
    for key, label in STATE_LABELS.items():
        values = [a[key] for a in attributes if a.get(key)]
        if not values:
            continue
        unit = " %" if key == "level_pct" else ""
        if len(set(values)) == 1:
            parts.append(f"{label}: {values[0]}{unit}" + (f" (all {len(values)})" if len(values) > 1 else ""))
        else:
            counts = {v: values.count(v) for v in sorted(set(values))}
            parts.append(f"{label}: " + ", ".join(f"{n} {v}{unit}" for v, n in counts.items()))
    return " · ".join(parts)


def changes_nothing(action: ActionInfo, attributes: list[dict[str, str]]) -> bool:
    """Every selected device already shows what `action` would make it show."""
    effect = EFFECTS.get(action.name)
    return bool(effect and attributes) and all(
        all(a.get(k) == v for k, v in effect.items()) for a in attributes
    )


def default_action(actions: list[ActionInfo], attributes: list[dict[str, str]]) -> int:
    """The index of the action to propose: the first one that changes something (a lamp that is
    on gets "Switch off"), else the first."""
    return next((i for i, a in enumerate(actions) if not changes_nothing(a, attributes)), 0)


@dataclass
class TargetState:
    asset_id: str
    stage: str  # one of PROGRESS or ENDINGS
    detail: str = ""
    updated: float = 0.0


@dataclass
class CommandState:
    """A command as this console knows it; `key` (the idempotency key) names it from the start."""

    key: str
    action: str
    targets: list[TargetState]
    reason: str = ""
    command_id: str = ""
    user: str = ""
    created: float = field(default_factory=time.time)
    done: bool = False
    replayed: bool = False
    error: str = ""  # the console could not get the command accepted (refused, unreachable)
    retries: int = 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.targets:
            out[t.stage] = out.get(t.stage, 0) + 1
        return out

    def summary(self) -> str:
        """One line for the operator: where the command stands, honestly."""
        if self.error:
            return self.error
        c = self.counts()
        n = len(self.targets)
        parts = [
            f"{c[s]} {STAGE_LABELS[s].split(' —')[0].lower()}" for s in (*PROGRESS, *ENDINGS) if c.get(s)
        ]
        state = "done" if self.done else "in progress"
        return f"{n} device(s), {state}: " + ", ".join(parts)


class CommandProgressModel(QAbstractTableModel):
    """One command's targets: device, stage, detail, last update."""

    HEADERS = ("Device", "Stage", "Detail", "Updated")

    def __init__(self, names: dict[str, str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.names = names  # asset id -> display name
        self.state: CommandState | None = None

    def set_state(self, state: CommandState) -> None:
        same_rows = self.state is not None and [t.asset_id for t in self.state.targets] == [
            t.asset_id for t in state.targets
        ]
        if same_rows:
            self.state = state
            if state.targets:
                self.dataChanged.emit(self.index(0, 0), self.index(len(state.targets) - 1, 3))
        else:
            self.beginResetModel()
            self.state = state
            self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.state is None else len(self.state.targets)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if self.state is None or not index.isValid():
            return None
        t = self.state.targets[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                name = self.names.get(t.asset_id, "")
                return f"{name}  ({t.asset_id})" if name else t.asset_id
            if col == 1:
                return STAGE_LABELS.get(t.stage, t.stage)
            if col == 2:
                return t.detail
            return time.strftime("%H:%M:%S", city_time.localtime(t.updated)) if t.updated else ""
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return QColor(STAGE_COLORS.get(t.stage, "#c9d1d9"))
        if role == Qt.ItemDataRole.UserRole:
            return t.stage
        return None
