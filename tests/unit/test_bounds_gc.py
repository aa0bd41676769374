"""The console's gc policy (app/gc_policy.py) freezes what is alive at each snapshot: a reconnect
must not add the previous snapshot's cyclic garbage to the frozen set for good. And collections
happen on the GUI thread only: Qt objects in cyclic garbage must never be deleted by a collection
that another thread's allocations set off."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer, Signal

from vigie.app import gc_policy


class _Snapshots(QObject):
    loaded = Signal()


def _cyclic_garbage(n: int) -> None:
    """n lists that reference themselves: alive until a collection, never freed by refcounting."""
    for _ in range(n):
        cycle: list = []
        cycle.append(cycle)


def test_reconnect_snapshots_do_not_grow_the_frozen_set():
    threshold = gc.get_threshold()
    snapshots = _Snapshots()
    collector = gc_policy.install(snapshots.loaded)
    try:
        snapshots.loaded.emit()  # the first snapshot
        first = gc.get_freeze_count()
        for _ in range(5):  # five reconnects, each leaving 20,000 cycles behind before its snapshot
            _cyclic_garbage(20_000)
            snapshots.loaded.emit()
        # Before the fix every reconnect froze its 20,000 cycles for good (+100,000 here).
        assert gc.get_freeze_count() - first < 5_000
    finally:
        collector.stop()
        gc.unfreeze()
        gc.set_threshold(*threshold)


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
