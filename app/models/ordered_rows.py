"""A table model whose rows are ids in an order the model computes itself (see asset_table.py for
why not QSortFilterProxyModel). Moving to a new order keeps selections and the current index on
their items, using only the changes Qt allows."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt


class OrderedRowsModel(QAbstractTableModel):
    columns: list[tuple[str, str]] = []  # (key, header title), set by each model

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[str] = []
        self._pos: dict[str, int] = {}

    def _set_rows(self, rows: list[str]) -> None:
        self._rows = rows
        self._pos = dict(zip(rows, range(len(rows)), strict=True))  # C-level: 2x the dict comprehension

    def _apply_order(self, new_rows: list[str]) -> None:
        """Go to `new_rows`. Qt forbids changing the row count inside layoutChanged, so this takes
        up to three legal steps: move the rows that leave to the end and remove them, append the
        rows that arrive, then reorder."""
        old_rows = self._rows
        new_set = set(new_rows)
        kept = [key for key in old_rows if key in new_set]
        if len(kept) < len(old_rows):
            leaving = [key for key in old_rows if key not in new_set]
            self._layout_to(kept + leaving)
            self.beginRemoveRows(QModelIndex(), len(kept), len(old_rows) - 1)
            self._set_rows(kept)
            self.endRemoveRows()
        if len(kept) < len(new_rows):
            kept_set = set(kept)
            arriving = [key for key in new_rows if key not in kept_set]
            self.beginInsertRows(QModelIndex(), len(kept), len(kept) + len(arriving) - 1)
            self._set_rows(kept + arriving)
            self.endInsertRows()
        if self._rows != new_rows:
            self._layout_to(new_rows)

    def _layout_to(self, rows: list[str]) -> None:
        """Reorder (same ids, same count), moving persistent indexes with their items."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        old_ids = [(self._rows[i.row()] if 0 <= i.row() < len(self._rows) else None, i.column()) for i in old]
        self._set_rows(rows)
        pos = self._pos
        new = [
            self.index(pos[key], col) if key is not None and key in pos else QModelIndex()
            for key, col in old_ids
        ]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][1]
        return None

    def row_of(self, key: str) -> int:
        return self._pos.get(key, -1)

    def id_at(self, row: int) -> str:
        return self._rows[row]
