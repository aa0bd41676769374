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


# The table's order, stated here: by severity (faults first), then name, then id.
SEVERITY_ORDER = {"fault": 0, "offline": 1, "warning": 2, "maintenance": 3, "ok": 4}


def expected_order(records: list[AssetRecord]) -> list[str]:
    return [r.id for r in sorted(records, key=lambda r: (SEVERITY_ORDER[r.status], r.name, r.id))]


def test_a_merge_over_its_chunk_is_split_across_turns_and_ends_as_a_full_sort(qtbot):
    """1,000 rows move at once: each pass re-places at most `merge_chunk` of them, the event
    loop turns between passes, and the rows, the selection and the current index end as if the
    whole batch had been placed in one pass."""
    model = AssetTableModel()
    model.merge_chunk = 200
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    model.reset([record(i) for i in range(6000)], 1)
    model.flush()
    rng = random.Random(7)
    current = model.id_at(3000)
    view.setCurrentIndex(model.index(3000, 0))
    selected = {model.id_at(r) for r in (10, 2000, 5999)}
    for aid in selected:
        view.selectionModel().select(
            model.index(model.row_of(aid), 0),
            view.selectionModel().SelectionFlag.Select | view.selectionModel().SelectionFlag.Rows,
        )
    selected = {model.id_at(i.row()) for i in view.selectionModel().selectedRows()}
    assert len(selected) == 4  # the three, and the current row
    movers = rng.sample(range(6000), 1000)
    changed = [
        dataclasses.replace(model.record(f"a-{i:05d}"), status=rng.choice(STATUSES[1:]), revision=2)
        for i in movers
    ]
    passes: list[int] = []
    model.sig_assets_changed.connect(lambda ids: passes.append(len(ids)))
    model.queue_changes(changed, 2, len(changed))
    qtbot.waitUntil(lambda: sum(passes) == 1000, timeout=10_000)
    assert passes == [200] * 5, "five passes of 200 re-placed rows"
    assert model.split_passes == 4 and model.relayouts == 0
    records = [model.record(f"a-{i:05d}") for i in range(6000)]
    assert [model.id_at(r) for r in range(model.rowCount())] == expected_order(records)  # type: ignore[arg-type]
    assert model.id_at(view.currentIndex().row()) == current
    rows = {i.row() for i in view.selectionModel().selectedRows()}
    assert {model.id_at(r) for r in rows} == selected


def test_many_changes_in_place_repaint_every_changed_row_without_moving_any(qtbot):
    model = AssetTableModel()
    model.reset([record(i) for i in range(3000)], 1)
    model.flush()
    before = [model.id_at(r) for r in range(3000)]
    repainted: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=(): repainted.append((a.row(), b.row())))
    seen = [dataclasses.replace(model.record(f"a-{i:05d}"), last_seen=9.0) for i in range(0, 3000, 20)]
    model.queue_changes(seen, 2, len(seen))
    model.flush()
    assert [model.id_at(r) for r in range(3000)] == before
    for r in seen:
        row = before.index(r.id)
        assert any(a <= row <= b for a, b in repainted), f"row {row} not repainted"
