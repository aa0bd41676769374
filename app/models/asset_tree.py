"""The asset tree: kinds then districts, or districts then kinds (set_grouping: "FAULT devices of one
district, all kinds" needs the district first), with a count per status. Fed by the asset store's counts
(app/models/assets.py), or a table model's (the same numbers).

Items are created once per (kind, district) and only their numbers change afterwards, so the
view keeps its expansion and selection while counts move.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel

from vigie.app.models.asset_table import AssetTableModel
from vigie.app.models.assets import AssetStore
from vigie.widgets.status.palette import KIND_LABELS, STATUS_LABELS, STATUSES, status_color, status_icon

FILTER_ROLE = Qt.ItemDataRole.UserRole + 1  # (kind | None, district | None)
HEADERS = ["Assets", "Total", *["" for _ in STATUSES]]  # status columns: icon headers, tooltips name them


def _kind_order(kind: str) -> int:
    return list(KIND_LABELS).index(kind) if kind in KIND_LABELS else 99


class AssetTreeModel(QStandardItemModel):
    def __init__(self, table: AssetStore | AssetTableModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.table = table
        self.setHorizontalHeaderLabels(HEADERS)
        for i, s in enumerate(STATUSES):
            self.setHeaderData(
                2 + i, Qt.Orientation.Horizontal, status_icon(s), Qt.ItemDataRole.DecorationRole
            )
            self.setHeaderData(
                2 + i, Qt.Orientation.Horizontal, STATUS_LABELS[s], Qt.ItemDataRole.ToolTipRole
            )
        self._rows: dict[tuple[str | None, str | None], list[QStandardItem]] = {}
        self.grouping = "kind"
        self._add_row(None, None, "All assets", self.invisibleRootItem())
        table.sig_counts_changed.connect(self.refresh)

    def set_grouping(self, grouping: str) -> None:
        """ "kind" (kind → district) or "district" (district → kind); the rows are rebuilt."""
        if grouping == self.grouping:
            return
        self.grouping = grouping
        self.removeRows(0, self.rowCount())
        self._rows = {}
        self._add_row(None, None, "All assets", self.invisibleRootItem())
        self.refresh()

    def _add_row(
        self, kind: str | None, district: str | None, label: str, parent: QStandardItem
    ) -> list[QStandardItem]:
        items = [QStandardItem(label)] + [QStandardItem("") for _ in range(1 + len(STATUSES))]
        for it in items:
            it.setEditable(False)
            it.setData((kind, district), FILTER_ROLE)
        for i in range(1, len(items)):
            it = items[i]
            it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if i >= 2:
                it.setForeground(status_color(STATUSES[i - 2]))
        parent.appendRow(items)
        self._rows[(kind, district)] = items
        return items

    def refresh(self) -> None:
        by_district = self.grouping == "district"
        totals: dict[tuple[str | None, str | None], dict[str, int]] = {}
        for (kind, district), per_status in self.table.counts.items():
            middle = (None, district) if by_district else (kind, None)
            for key in ((None, None), middle, (kind, district)):
                acc = totals.setdefault(key, {})
                for s, n in per_status.items():
                    acc[s] = acc.get(s, 0) + n
        root = self._rows[(None, None)][0]
        if by_district:
            for district in sorted({d for k, d in totals if k is None and d is not None}):
                if (None, district) not in self._rows:
                    self._add_row(None, district, district, root)
            for kind, district in sorted(
                (k for k in totals if k[0] is not None and k[1] is not None),
                key=lambda k: (k[1], _kind_order(k[0])),
            ):
                if (kind, district) not in self._rows:
                    self._add_row(
                        kind, district, KIND_LABELS.get(kind, kind), self._rows[(None, district)][0]
                    )
        else:
            for kind in sorted({k for k, _ in totals if k is not None}, key=_kind_order):
                if (kind, None) not in self._rows:
                    self._add_row(kind, None, KIND_LABELS.get(kind, kind), root)
            for kind, district in sorted(k for k in totals if k[0] is not None and k[1] is not None):
                if (kind, district) not in self._rows:
                    self._add_row(kind, district, district, self._rows[(kind, None)][0])
        for key, items in self._rows.items():
            acc = totals.get(key, {})
            total = sum(acc.values())
            self._set(items[1], str(total))
            for i, s in enumerate(STATUSES):
                n = acc.get(s, 0)
                self._set(items[2 + i], str(n) if n else "")

    @staticmethod
    def _set(item: QStandardItem, text: str) -> None:
        if item.text() != text:
            item.setText(text)
