"""The audit trail as the console shows it: rows, the table model, and the CSV export."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from vigie.app import city_time

RESULT_COLORS = {"ok": "#3fb950", "denied": "#f85149", "failed": "#f85149", "invalid": "#d29922"}


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    time: float  # unix seconds
    user: str
    console: str
    action: str
    target: str
    reason: str
    result: str
    detail: str


CSV_HEADER = [f.name for f in fields(AuditRow)]


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", city_time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def write_csv(path: str, rows: list[AuditRow]) -> None:
    """RFC 4180 CSV, UTF-8 with a BOM so spreadsheet programs read accents right; times in ISO 8601."""
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for r in rows:
            values = list(astuple(r))
            values[1] = iso(r.time)
            w.writerow(values)


def target_ids(target: str) -> list[str]:
    """The ids of a record's target (comma-separated by the backend; a trailing "+N more" dropped)."""
    return [i.strip() for i in target.split(",") if i.strip() and not i.strip().startswith("…")]


def target_text(target: str, name_of: Callable[[str], str], shown: int = 2) -> str:
    """A target as people read it: names first, the id after ("Lampadaire Rue Monge #12 (lgt-04098)"),
    the first `shown` of several, then how many more."""
    ids = target_ids(target)
    if not ids:
        return target
    parts = []
    for i in ids[:shown]:
        name = name_of(i)
        parts.append(f"{name} ({i})" if name and name != i else i)
    more = len(ids) - shown
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


class AuditTableModel(QAbstractTableModel):
    """Pages of the audit trail, newest first; `append` adds the next page. `name_of` turns an id
    (asset, alarm) into the name the console knows for it ("" when it knows none)."""

    HEADERS = ("Time", "User", "Console", "Action", "Target", "Reason", "Result", "Detail")
    TARGET = 4

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[AuditRow] = []
        self.total = 0
        self.name_of: Callable[[str], str] = lambda _i: ""

    def replace(self, rows: list[AuditRow], total: int) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.total = total
        self.endResetModel()

    def append(self, rows: list[AuditRow], total: int) -> None:
        if rows:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(rows) - 1)
            self.rows.extend(rows)
            self.endInsertRows()
        self.total = total

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

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
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if col == 0:
                return time.strftime("%d %b %H:%M:%S", city_time.localtime(r.time))
            if col == self.TARGET:
                return target_text(
                    r.target, self.name_of, shown=2 if role == Qt.ItemDataRole.DisplayRole else 20
                )
            return (r.user, r.console, r.action, r.target, r.reason, r.result, r.detail)[col - 1]
        if role == Qt.ItemDataRole.ForegroundRole and col == 6:
            return QColor(RESULT_COLORS.get(r.result, "#c9d1d9"))
        return None
