"""The asset store (app/models/assets.py): the one stage that coalesces the client's changes, and
the subscribers it serves before the table's re-sort."""

from __future__ import annotations

from PySide6.QtCore import QTimer

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


def test_a_big_snapshot_is_indexed_in_slices_and_arrives_whole(qtbot):
    """The store never indexes more than `reset_chunk` records per event-loop turn; the snapshot
    is signalled once, complete, and changes queued meanwhile land on top of it."""
    store = AssetStore(apply_interval_ms=20)
    store.reset_chunk = 100
    turns: list[int] = []  # records indexed so far, sampled by a timer between slices
    probe = QTimer(interval=0)
    probe.timeout.connect(lambda: turns.append(len(store._next_by_id)) if store.loading() else None)
    probe.start()
    resets: list[int] = []
    store.sig_reset.connect(lambda: resets.append(store.total()))
    snapshot = [rec(f"x{i:04d}", "fault" if i % 10 == 0 else "ok") for i in range(1050)]
    store.reset(snapshot, revision=7)
    assert store.loading() and store.total() == 0, "nothing indexed in the caller's turn beyond one slice"
    store.queue_changes([rec("x0001", "warning", revision=8)], revision=8, count=1)
    qtbot.waitUntil(
        lambda: store.record("x0001") is not None and store.record("x0001").status == "warning", timeout=5000
    )
    probe.stop()
    assert resets == [1050], "one reset signal, with the whole snapshot"
    assert store.reset_passes == 11  # ceil(1050 / 100)
    assert turns and all(b - a <= 100 for a, b in zip([0, *turns], turns, strict=False))
    assert store.counts[("street_light", "D1")] == {"fault": 105, "ok": 944, "warning": 1}


def test_a_pass_stops_at_its_time_budget_and_loses_nothing(qtbot):
    store = AssetStore(apply_interval_ms=20)
    store.reset([], revision=0)
    store.pass_budget_s = 0.0  # every 256 records the budget is found spent
    sizes: list[int] = []
    store.sig_changed.connect(lambda changes: sizes.append(len(changes)))
    store.queue_changes([rec(f"y{i}") for i in range(1000)], revision=1, count=1000)
    qtbot.waitUntil(lambda: store.pending() == 0 and sum(sizes) == 1000, timeout=5000)
    assert sizes == [256, 256, 256, 232] and store.total() == 1000


def test_the_table_orders_a_big_snapshot_in_slices_with_the_right_order(qtbot):
    store = AssetStore(apply_interval_ms=20)
    store.reset_chunk = 100
    table = AssetTableModel(store=store)  # sorted by status (faults first), then name, then id
    table.reset_chunk = 100
    statuses = ["ok", "fault", "warning", "offline"]
    snapshot = [rec(f"a{i:04d}", statuses[i * 7 % 4], name=f"n{(i * 37) % 500:03d}") for i in range(1000)]
    store.reset(snapshot, revision=3)
    store.queue_changes([rec("a0002", "fault", revision=4, name="zzz")], revision=4, count=1)
    qtbot.waitUntil(lambda: not store.loading() and not table.loading(), timeout=5000)
    assert table.reset_passes >= 10, "the ordering was split over event-loop turns"
    qtbot.waitUntil(lambda: store.pending() == 0 and not table._incoming, timeout=5000)
    severity = {"fault": 0, "offline": 1, "warning": 2, "ok": 4}  # faults, offline, warnings, then OK
    latest = {r.id: r for r in snapshot} | {"a0002": rec("a0002", "fault", revision=4, name="zzz")}
    expected = sorted(latest, key=lambda a: (severity[latest[a].status], latest[a].name, a))
    assert [table.id_at(r) for r in range(table.rowCount())] == expected


def test_flush_during_a_sliced_snapshot_finishes_it_and_applies_the_changes(qtbot):
    store = AssetStore(apply_interval_ms=20)
    store.reset_chunk = 100
    table = AssetTableModel(store=store)
    table.reset_chunk = 100
    with qtbot.waitSignal(store.sig_reset, timeout=5000):  # control back right after the swap
        store.reset([rec(f"b{i:04d}") for i in range(500)], revision=1)
    assert table.loading(), "the table is still ordering the snapshot in slices"
    store.queue_changes([rec("b0499", "fault", revision=2)], revision=2, count=1)
    table.flush()
    assert not table.loading() and store.pending() == 0
    assert table.rowCount() == 500 and table.id_at(0) == "b0499", "the fault sorts first"
