"""The asset store (app/models/assets.py): the one stage that coalesces the client's changes, and
the subscribers it serves before the table's re-sort."""

from __future__ import annotations

from vigie.app.models.asset_table import AssetTableModel
from vigie.app.models.assets import AssetStore
from vigie.app.models.records import AssetRecord


def rec(aid: str, status: str = "ok", revision: int = 1, name: str = "") -> AssetRecord:
    return AssetRecord(aid, "street_light", name or aid, "D1", 47.3, 5.0, status, "", 0.0, 0.0, revision)


def test_changes_are_coalesced_once_per_tick_and_counted(qtbot):
    store = AssetStore(apply_interval_ms=20)
    store.reset([rec("a"), rec("b")], revision=1)
    ticks: list[list] = []
    store.sig_changed.connect(ticks.append)
    store.queue_changes([rec("a", "fault", 2)], revision=2, count=1)
    store.queue_changes([rec("a", "ok", 3), rec("b", "warning", 3)], revision=3, count=2)
    qtbot.waitUntil(lambda: bool(ticks), timeout=5000)
    store.flush()  # nothing was left for another tick
    assert len(ticks) == 1
    pairs = {new.id: (old.revision, new.revision) for old, new in ticks[0]}
    assert pairs == {"a": (1, 3), "b": (1, 3)}, "the latest state per asset, against the one before"
    assert store.counts[("street_light", "D1")] == {"ok": 1, "warning": 1}
    assert store.revision == 3 and store.changes_applied == 3 and store.pending() == 0


def test_a_long_burst_is_applied_in_bounded_ticks(qtbot):
    store = AssetStore(apply_interval_ms=20)
    store.max_pass = 2
    store.reset([], revision=0)
    sizes: list[int] = []
    store.sig_changed.connect(lambda changes: sizes.append(len(changes)))
    store.queue_changes([rec(f"x{i}") for i in range(5)], revision=5, count=5)
    qtbot.waitUntil(lambda: sum(sizes) == 5, timeout=5000)
    assert sizes == [2, 2, 1] and store.total() == 5


def test_subscribers_are_served_before_the_table_re_sorts(qtbot):
    store = AssetStore(apply_interval_ms=20)
    table = AssetTableModel(store=store)  # sorted by status: faults first
    store.reset([rec("a"), rec("b"), rec("c")], revision=1)
    assert [table.id_at(r) for r in range(3)] == ["a", "b", "c"]
    seen: list[tuple[set[str], str]] = []  # what a map-like subscriber got, and the table's first row then
    store.sig_changed.connect(lambda changes: seen.append(({n.id for _o, n in changes}, table.id_at(0))))
    store.queue_changes([rec("c", "fault", 2)], revision=2, count=1)
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen[0] == ({"c"}, "a"), "the subscriber had the change before the table moved any row"
    qtbot.waitUntil(lambda: table.id_at(0) == "c", timeout=5000)
