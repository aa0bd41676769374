"""The video walls as a table model: one row per wall (by name), for the walls panel.

Rows keep their selection while walls change; `name_of` turns camera and asset ids into the
names operators know (the asset model's, when the console has one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from vigie.app import city_time
from vigie.app.models.ordered_rows import OrderedRowsModel
from vigie.app.wall.content import WallState, summary
from vigie.widgets.status.palette import status_color, status_icon

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


def when_text(t: float, now: float | None = None) -> str:
    """ "14:02:11" today, "3 Jan 14:02" before; "" when unknown."""
    if not t:
        return ""
    now = time.time() if now is None else now
    fmt = "%H:%M:%S" if city_time.localtime(t)[:3] == city_time.localtime(now)[:3] else "%d %b %H:%M"
    return time.strftime(fmt, city_time.localtime(t))


class WallListModel(OrderedRowsModel):
    columns = [
        ("name", "Wall"),
        ("state", "Display"),
        ("shows", "Shows"),
        ("by", "Pushed by"),
        ("when", "When"),
    ]

    def __init__(self, name_of: Callable[[str], str] = str, parent: Any = None) -> None:
        super().__init__(parent)
        self.name_of = name_of
        self.walls: dict[str, WallState] = {}

    def set_walls(self, walls: list[WallState]) -> None:
        """Every wall as the backend sees it now (sorted by name)."""
        self.walls = {w.name: w for w in walls}
        self._apply_order(sorted(self.walls))
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self.columns) - 1))

    def wall(self, name: str) -> WallState | None:
        return self.walls.get(name)

    def names(self) -> list[str]:
        return list(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        w = self.walls[self._rows[index.row()]]
        key = self.columns[index.column()][0]
        if role == NAME_ROLE:
            return w.name
        if role == Qt.ItemDataRole.DisplayRole:
            c = w.content
            if key == "name":
                return w.name
            if key == "state":
                return "ONLINE" if w.online else "OFFLINE"
            if key == "shows":
                return summary(c, self.name_of)
            if key == "by":
                return f"{c.pushed_by} @ {c.console}" if c.console else c.pushed_by
            return when_text(c.pushed_at)
        if role == Qt.ItemDataRole.DecorationRole and key == "state":
            return status_icon("ok" if w.online else "offline")
        if role == Qt.ItemDataRole.ForegroundRole and key == "state":
            return status_color("ok" if w.online else "offline")
        if role == Qt.ItemDataRole.ToolTipRole:
            seen = when_text(w.last_seen)
            if w.online:
                return f"{w.name}: shown by {w.display or 'a display'} since {seen}"
            return f"{w.name}: no display since {seen}" if seen else f"{w.name}: no display"
        return None
