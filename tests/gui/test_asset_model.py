"""AssetTableModel on its own: incremental moves agree with a full sort; filters; counts."""

from __future__ import annotations

import dataclasses
import random

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtWidgets import QTableView

from vigie.app.models.asset_table import COL, AssetTableModel
from vigie.app.models.records import AssetRecord

STATUSES = ["ok", "warning", "fault", "offline", "maintenance"]


def record(i: int, status: str = "ok", kind: str = "street_light") -> AssetRecord:
    return AssetRecord(
        f"a-{i:05d}", kind, f"Asset {i % 97:02d} #{i}", f"D{i % 5}", 47.3, 5.0, status, "", 0.0, 0.0, i
    )


def full_sort_ids(model: AssetTableModel) -> list[str]:
    return model._ordered_rows()


@pytest.mark.parametrize("max_moves", [50, 5])  # one row at a time, and the merge of many
def test_status_changes_move_rows_like_a_full_sort(qtbot, max_moves):
    model = AssetTableModel()
    model.max_moves = max_moves
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.reset([record(i) for i in range(3000)], 1)
    rng = random.Random(4)
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        model.sort(COL["status"], order)
        watched = model.id_at(1500)
        view.setCurrentIndex(model.index(1500, 0))
        persistent = QPersistentModelIndex(model.index(1500, 1))
        for _ in range(5):
            changed = [
                dataclasses.replace(model.record(f"a-{rng.randrange(3000):05d}"), status=rng.choice(STATUSES))
                for _ in range(20)
            ]
            model.queue_changes(changed, 2, len(changed))
            model.flush()
            assert model.relayouts == 0, "a few moves, no full re-sort"
            assert [model.id_at(r) for r in range(model.rowCount())] == full_sort_ids(model)
            assert model.id_at(persistent.row()) == watched, "the persistent index follows its asset"
            assert view.currentIndex().row() == model.row_of(watched)


def test_filter_membership_and_counts(qtbot):
    model = AssetTableModel()
    model.reset([record(i, kind="camera" if i % 3 == 0 else "street_light") for i in range(300)], 1)
    model.set_filter(kind="camera", district=None)
    assert model.rowCount() == 100
    moved_in = dataclasses.replace(model.record("a-00001"), kind="camera")
    model.queue_changes([moved_in], 2, 1)
    model.flush()
    assert model.rowCount() == 101 and model.row_of("a-00001") >= 0
    faulty = dataclasses.replace(model.record("a-00003"), status="fault")
    model.queue_changes([faulty], 3, 1)
    model.flush()
    assert model.counts[("camera", "D3")]["fault"] == 1
    assert sum(sum(c.values()) for c in model.counts.values()) == 300
    model.set_filter(text="#3", kind=None)
    assert all("#3" in model.record(model.id_at(r)).name for r in range(model.rowCount()))


def test_rows_found_by_their_sort_key_after_a_merge(qtbot):
    """After a merge the id -> row index is stale; the next pass finds rows by a binary search
    on their sort key and repaints the right ones, and the current index stays on its asset."""
    model = AssetTableModel()
    model.max_moves = 5
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.reset([record(i) for i in range(6000)], 1)
    model.flush()
    watched = model.id_at(4000)
    view.setCurrentIndex(model.index(4000, 0))
    moved = [dataclasses.replace(model.record(f"a-{i:05d}"), status="fault") for i in range(0, 6000, 60)]
    model.queue_changes(moved, 2, len(moved))
    model.flush()
    assert not model._positions_known(), "the merge left the index to be rebuilt when needed"
    assert view.currentIndex().row() == [model.id_at(r) for r in range(6000)].index(watched)
    seen = dataclasses.replace(model.record("a-00007"), last_seen=5.0)
    repainted: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=(): repainted.append((a.row(), b.row())))
    model.queue_changes([seen], 3, 1)
    model.flush()
    row = [model.id_at(r) for r in range(6000)].index("a-00007")
    assert (row, row) in repainted
    assert [model.id_at(r) for r in range(6000)] == full_sort_ids(model)
