"""AssetTableModel on its own: incremental moves agree with a full sort; filters; counts."""

from __future__ import annotations

import dataclasses
import random

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QTableView

from vigie.app.models.asset_table import COL, AssetTableModel, _sort_key
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


# Names that trip a naive concatenated key: prefixes of each other, NULs and \x01 inside, non-ASCII.
AWKWARD_NAMES = ["a", "a\0", "a\0\0", "a\1", "a\0\1", "a\0b", "ab", "a b", "", "\0", "Zürich", "z", "é"]


def test_status_sort_keys_are_flat_strings_that_sort_like_the_stated_order():
    """The status sort compares one string per key (one C compare in each binary search), not a
    (severity, name, id) tuple, and sorting by it gives the order stated by the test, awkward
    names included: a NUL inside a name, names that are prefixes of others, ids likewise."""
    rng = random.Random(11)
    records = [
        AssetRecord(
            rng.choice(["x", "x\0", "xy", "x\0y", "é"]) + str(i),
            "street_light",
            rng.choice(AWKWARD_NAMES),
            "D",
            0.0,
            0.0,
            rng.choice(STATUSES),
            "",
            0.0,
            0.0,
            i,
        )
        for i in range(400)
    ]
    key = _sort_key("status")
    assert all(isinstance(key(r), str) for r in records)
    assert [r.id for r in sorted(records, key=key)] == expected_order(records)
    for column, field in (("kind", "kind"), ("district", "district"), ("reason", "reason")):
        varied = [dataclasses.replace(r, **{field: rng.choice(AWKWARD_NAMES)}) for r in records]
        key = _sort_key(column)
        assert all(isinstance(key(r), str) for r in varied)
        stated = sorted(varied, key=lambda r, f=field: (getattr(r, f), r.name, r.id))
        assert [r.id for r in sorted(varied, key=key)] == [r.id for r in stated]


def test_status_changes_with_awkward_names_move_rows_to_the_stated_order(qtbot):
    """Rows whose names hold NULs or are prefixes of others are re-placed, one by one and merged,
    where the test's own (severity, name, id) order puts them."""
    rng = random.Random(12)
    for max_moves in (50, 3):
        model = AssetTableModel()
        model.max_moves = max_moves
        view = QTableView()
        qtbot.addWidget(view)
        view.setModel(model)
        model.reset([dataclasses.replace(record(i), name=rng.choice(AWKWARD_NAMES)) for i in range(2000)], 1)
        model.flush()
        for rev in range(2, 8):
            changed = [
                dataclasses.replace(model.record(f"a-{rng.randrange(2000):05d}"), status=rng.choice(STATUSES))
                for _ in range(30)
            ]
            model.queue_changes(changed, rev, len(changed))
            model.flush()
            assert model.relayouts == 0
            shown = [model.id_at(r) for r in range(model.rowCount())]
            assert shown == expected_order(list(model.records()))


class CountingModel(AssetTableModel):
    """Counts how often Qt asks the model's size (index() does, per cell it makes)."""

    asked = 0

    def rowCount(self, parent=QModelIndex()):  # noqa: B008
        self.asked += 1
        return super().rowCount(parent)


def test_a_pass_repaints_changed_rows_without_asking_the_size_per_cell(qtbot):
    """Rows changed in place are repainted, each over its whole width, and making their cells
    does not ask rowCount() (the cells are known to exist): the cost that index() added to
    every changed row of every pass. (Counted with no receiver: a Python receiver of
    dataChanged makes Qt ask the size itself.)"""
    model = CountingModel()
    model.reset([record(i) for i in range(3000)], 1)
    model.flush()
    changed_ids = [f"a-{i:05d}" for i in range(5, 3000, 100)]
    model.asked = 0
    changed = [dataclasses.replace(model.record(aid), last_seen=9.0) for aid in changed_ids]
    model.queue_changes(changed, 2, len(changed))
    model.flush()
    assert model.asked == 0
    repainted: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(
        lambda a, b, _roles=(): repainted.append((a.row(), b.row(), a.column(), b.column()))
    )
    changed = [dataclasses.replace(model.record(aid), last_seen=10.0) for aid in changed_ids]
    model.queue_changes(changed, 3, len(changed))
    model.flush()
    rows = sorted([model.id_at(r) for r in range(model.rowCount())].index(aid) for aid in changed_ids)
    covered = sorted(r for first, last, _c0, _c1 in repainted for r in range(first, last + 1))
    assert covered == rows
    assert all((c0, c1) == (0, len(COL) - 1) for _f, _l, c0, c1 in repainted)


def test_a_hidden_table_places_no_rows_until_read_or_shown_again(qtbot):
    """While no view shows the table, status changes run no pass; asking where a row is places
    the rows first (the test's own order), and showing it again places them on the next turn,
    with the current index still on its asset."""
    model = AssetTableModel()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.reset([record(i) for i in range(3000)], 1)
    model.flush()
    watched = model.id_at(1200)
    view.setCurrentIndex(model.index(1200, 0))
    passes: list[int] = []
    model.sig_assets_changed.connect(lambda ids: passes.append(len(ids)))
    model.set_shown(False)
    rng = random.Random(13)
    for rev in range(2, 6):
        changed = [
            dataclasses.replace(model.record(f"a-{rng.randrange(3000):05d}"), status=rng.choice(STATUSES))
            for _ in range(40)
        ]
        model.queue_changes(changed, rev, len(changed))
        model.flush()
    qtbot.wait(20)  # event-loop turns: a pass would run now if one were due
    assert passes == [], "no pass while hidden"
    expected = expected_order(list(model.records()))
    assert model.row_of("a-00007") == expected.index("a-00007"), "a read places the rows first"
    assert [model.id_at(r) for r in range(model.rowCount())] == expected
    assert view.currentIndex().row() == expected.index(watched)
    placed = sum(passes)
    assert placed > 0
    changed = [dataclasses.replace(model.record(f"a-{i:05d}"), status="fault") for i in range(0, 3000, 50)]
    model.queue_changes(changed, 9, len(changed))
    model.store.flush()
    qtbot.wait(20)
    assert sum(passes) == placed, "only the read placed rows"
    model.set_shown(True)
    qtbot.waitUntil(lambda: sum(passes) == placed + len(changed), timeout=5000)
    expected = expected_order(list(model.records()))
    assert [model._rows[r] for r in range(model.rowCount())] == expected
    assert view.currentIndex().row() == expected.index(watched)


def test_the_asset_panel_says_when_its_table_goes_off_and_on_screen(qtbot):
    """Hiding the panel (its dock, tab or window) hides the table: the console's table model then
    stops placing rows, and places them when it is shown again."""
    from vigie.app.models.asset_table import ID_ROLE
    from vigie.app.models.asset_tree import FILTER_ROLE, AssetTreeModel
    from vigie.widgets.assets.asset_panel import AssetPanel
    from vigie.widgets.status.palette import STATUS_LABELS

    model = AssetTableModel()
    tree = AssetTreeModel(model.store)
    panel = AssetPanel(model, tree, ID_ROLE, FILTER_ROLE, statuses=STATUSES, status_labels=STATUS_LABELS)
    qtbot.addWidget(panel)
    said: list[bool] = []
    panel.sig_table_shown.connect(said.append)
    panel.sig_table_shown.connect(model.set_shown)
    model.reset([record(i) for i in range(500)], 1)
    model.flush()
    panel.show()
    qtbot.waitUntil(lambda: said[-1:] == [True], timeout=5000)
    panel.hide()
    assert said[-1] is False and not model._shown
    passes: list[int] = []
    model.sig_assets_changed.connect(lambda ids: passes.append(len(ids)))
    changed = [dataclasses.replace(model.record(f"a-{i:05d}"), status="fault") for i in range(0, 500, 7)]
    model.queue_changes(changed, 2, len(changed))
    model.store.flush()
    qtbot.wait(20)
    assert passes == []
    panel.show()
    qtbot.waitUntil(lambda: sum(passes) == len(changed), timeout=5000)
    assert model._rows == expected_order(list(model.records()))
