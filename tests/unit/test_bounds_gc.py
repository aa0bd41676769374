"""The console's gc policy (app/gc_policy.py) freezes what is alive at each snapshot: a reconnect
must not add the previous snapshot's cyclic garbage to the frozen set for good. A snapshot's
collection leaves what is frozen alone (it ran in a turn of its own, and walked only what came
since), unless the frozen set grew: then it collects everything once. And collections happen on
the GUI thread only: Qt objects in cyclic garbage must never be deleted by a collection that
another thread's allocations set off."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject, QTimer, Signal

from vigie.app import gc_policy


class _Snapshots(QObject):
    loaded = Signal()


def _cyclic_garbage(n: int) -> None:
    """n lists that reference themselves: alive until a collection, never freed by refcounting."""
    for _ in range(n):
        cycle: list = []
        cycle.append(cycle)


def _snapshot(snapshots: _Snapshots, collector: gc_policy.GuiThreadCollector, qtbot) -> None:
    """A snapshot is loaded; its collection and freeze run in the next event-loop turn."""
    freezer = collector.freezer
    assert freezer is not None
    done = freezer.freezes
    snapshots.loaded.emit()
    assert freezer.freezes == done, "not in the turn that loaded the snapshot"
    qtbot.waitUntil(lambda: freezer.freezes == done + 1, timeout=10_000)


def _frozen(obj: object) -> bool:
    """gc.get_objects() lists every tracked object but the frozen ones."""
    return gc.is_tracked(obj) and not any(o is obj for o in gc.get_objects())


class _Node:
    """An object in a reference cycle of its own: only a collection frees it."""

    def __init__(self) -> None:
        self.cycle = self


def test_reconnect_snapshots_do_not_grow_the_frozen_set(qtbot):
    threshold = gc.get_threshold()
    snapshots = _Snapshots()
    collector = gc_policy.install(snapshots.loaded)
    try:
        _snapshot(snapshots, collector, qtbot)  # the first snapshot
        first = gc.get_freeze_count()
        for _ in range(5):  # five reconnects, each leaving 20,000 cycles behind before its snapshot
            _cyclic_garbage(20_000)
            _snapshot(snapshots, collector, qtbot)
        # Before the fix every reconnect froze its 20,000 cycles for good (+100,000 here).
        assert gc.get_freeze_count() - first < 5_000
        assert collector.freezer is not None and collector.freezer.full_collections == 0
    finally:
        collector.stop()
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_snapshot_freezes_what_came_since_and_leaves_the_frozen_alone(qtbot):
    threshold = gc.get_threshold()
    snapshots = _Snapshots()
    program = _Node()  # alive at install: frozen with the program's objects
    collector = gc_policy.install(snapshots.loaded)
    try:
        assert _frozen(program)
        dead_later = weakref.ref(program)
        del program  # now cyclic garbage, but frozen
        records = [_Node() for _ in range(100)]  # a snapshot's objects, alive
        garbage = weakref.ref(_Node())  # cyclic garbage made before the snapshot
        assert garbage() is not None and not _frozen(records[0])
        _snapshot(snapshots, collector, qtbot)
        assert garbage() is None, "collected before the freeze: never frozen"
        assert all(_frozen(r) for r in records)
        assert dead_later() is not None, "frozen objects are not walked by a snapshot's collection"
    finally:
        collector.stop()
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.collect()


def test_the_frozen_set_is_collected_whole_once_it_grew(qtbot):
    """Objects alive at a freeze that die in cycles afterwards (a closed connection's, say) stay
    frozen; once the frozen set is FULL_GROWTH times its size after the first snapshot, the next
    snapshot unfreezes and collects everything, and they go."""
    threshold = gc.get_threshold()
    snapshots = _Snapshots()
    collector = gc_policy.install(snapshots.loaded)
    freezer = collector.freezer
    assert freezer is not None
    try:
        _snapshot(snapshots, collector, qtbot)
        reference = freezer.reference
        assert reference is not None and reference > 0
        leaked: list[weakref.ref[_Node]] = []
        for _ in range(4):  # each reconnect: objects alive at its snapshot, garbage after it
            alive = [_Node() for _ in range(reference // 4 + 1)]
            refs = [weakref.ref(n) for n in alive[::1000]]
            _snapshot(snapshots, collector, qtbot)
            if freezer.full_collections:
                break
            leaked += refs
            del alive  # cyclic garbage now, but frozen: a collection does not free it
            gc.collect()
            assert all(ref() is not None for ref in leaked), "frozen garbage stays until the full one"
        assert freezer.full_collections == 1
        assert leaked and all(ref() is None for ref in leaked), "the full collection freed them"
        assert gc.get_freeze_count() < gc_policy.FULL_GROWTH * reference
    finally:
        collector.stop()
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.collect()


class _Holder(QObject):
    """A Qt object in a reference cycle (a widget and the lambda it is connected to, say), with a
    running timer, and a record of the thread its Python side is freed in."""

    freed_in: list[str] = []

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self, interval=60_000)
        self.timer.start()
        self.cycle = self  # only a collection frees it

    def __del__(self) -> None:
        _Holder.freed_in.append(threading.current_thread().name)


def _allocate_in_a_thread() -> None:
    """What the client's asyncio thread does all day: allocate container objects (converted
    records, messages), more than the collector's first threshold of them alive at once."""

    def work() -> None:
        alive = [[] for _ in range(3 * gc_policy.THRESHOLD[0])]
        _allocate_in_a_thread.kept = alive  # type: ignore[attr-defined]

    t = threading.Thread(target=work, name="client-loop")
    t.start()
    t.join()


def test_qt_objects_in_cyclic_garbage_are_freed_on_the_gui_thread_not_by_another_threads_allocations(qtbot):
    threshold = gc.get_threshold()
    _Holder.freed_in.clear()
    collector = gc_policy.collect_on_gui_thread()
    try:
        for _ in range(20):
            _Holder()
        _allocate_in_a_thread()  # with automatic collection, this thread frees the holders
        assert _Holder.freed_in == [], f"freed in {set(_Holder.freed_in)}"
        qtbot.waitUntil(lambda: len(_Holder.freed_in) == 20, timeout=10_000)
        assert set(_Holder.freed_in) == {threading.main_thread().name}
        assert collector.collections[0] >= 1
    finally:
        _allocate_in_a_thread.kept = None  # type: ignore[attr-defined]
        collector.stop()
        gc.set_threshold(*threshold)
        gc.collect()


def test_garbage_of_an_older_generation_is_collected_within_full_every_s_whatever_the_counts(qtbot):
    """The counts are net (refcounting takes allocations back), so in a steady console they may
    not pass a threshold for hours: a cycle that was alive at a collection, then died, must still
    go within FULL_EVERY_S."""
    threshold = gc.get_threshold()
    now = [1000.0]
    never = (10**9, 10**9, 10**9)  # no count ever passes these
    collector = gc_policy.GuiThreadCollector(threshold=never, full_every_s=120.0, clock=lambda: now[0])
    try:
        node = _Node()
        gc.collect(0)  # alive at a collection: now in an older generation
        dead = weakref.ref(node)
        del node  # cyclic garbage from now on
        now[0] += 119.0
        collector.check()
        assert dead() is not None and collector.collections == [0, 0, 0], "before the period: nothing"
        now[0] += 1.0
        collector.check()
        assert dead() is None, "collected once the period is over"
        assert collector.collections == [0, 0, 1]
        assert collector.last_full == now[0]
        again = weakref.ref(_Node())
        collector.check()
        assert again() is not None, "the period starts again from that collection"
    finally:
        collector.stop()
        gc.set_threshold(*threshold)
        gc.collect()
