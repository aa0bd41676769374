"""The console's gc policy (app/gc_policy.py) freezes what is alive at each snapshot: a reconnect
must not add the previous snapshot's cyclic garbage to the frozen set for good."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, Signal

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
    gc_policy.install(snapshots.loaded)
    try:
        snapshots.loaded.emit()  # the first snapshot
        first = gc.get_freeze_count()
        for _ in range(5):  # five reconnects, each leaving 20,000 cycles behind before its snapshot
            _cyclic_garbage(20_000)
            snapshots.loaded.emit()
        # Before the fix every reconnect froze its 20,000 cycles for good (+100,000 here).
        assert gc.get_freeze_count() - first < 5_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
