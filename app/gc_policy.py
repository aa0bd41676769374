"""Garbage-collector policy for the console process.

The city's state is tens of thousands of long-lived records; a full (generation 2) collection
walks all of them and held the GUI thread for up to 264 ms at 50,000 changes/s (bench/run.py).
After a snapshot is loaded we freeze what exists (those objects are never scanned again; replaced
records are still freed by reference counting) and collect the young generation less often.

Frozen objects are never collected: cyclic garbage frozen with them stays for the life of the
process. Each snapshot (the first, and every reconnect's) therefore unfreezes, collects, then
freezes again, so the frozen set is what is alive at the last snapshot, not the sum of every
snapshot's (the soak saw 90k -> 714k frozen objects after one backend restart when later
snapshots only froze on top). The full collection costs a few hundred ms at 50,000 assets, once per
(re)connection.

Collections run on the GUI thread only. Python's collector runs in whichever thread happens to
allocate past a threshold: the client's asyncio thread, a decoder thread, a probe. Cyclic garbage
often holds Qt objects (a closed dialog and its lambdas, a replaced panel), and a collection
deletes them in that thread: "QBasicTimer::start: Timers cannot be started from another thread",
then a segmentation fault (the soak, bench/soak.py, died so at 16 and 4 minutes). So automatic
collection is off, and a timer on the GUI thread collects each generation when its count passes
the threshold, as automatic collection would (pyqtgraph's GarbageCollector does the same, for the
same reason).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer, SignalInstance

THRESHOLD = (50_000, 20, 20)
CHECK_MS = 500


class GuiThreadCollector(QObject):
    """Runs the collections automatic collection would, on the thread it lives in (the GUI's)."""

    def __init__(self, parent: QObject | None = None, threshold: tuple[int, int, int] = THRESHOLD) -> None:
        super().__init__(parent)
        self.threshold = threshold
        self.collections = [0, 0, 0]
        self._timer = QTimer(self, interval=CHECK_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()
        gc.set_threshold(*threshold)  # kept for gc.get_threshold() readers; automatic runs are off
        gc.disable()

    def check(self) -> None:
        """What the interpreter does after an allocation: gen 0 past its threshold, then older
        generations after enough younger collections."""
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if c2 > t2 and c1 > t1:
            gen = 2
        elif c1 > t1:
            gen = 1
        elif c0 > t0:
            gen = 0
        else:
            return
        gc.collect(gen)
        self.collections[gen] += 1

    def stop(self) -> None:
        """Back to automatic collection (tests, and a process that ends its GUI)."""
        self._timer.stop()
        gc.enable()


def collect_on_gui_thread(parent: QObject | None = None) -> GuiThreadCollector:
    """Call on the GUI thread, once the application exists."""
    return GuiThreadCollector(parent if parent is not None else QCoreApplication.instance())


def install(snapshot_loaded: SignalInstance) -> GuiThreadCollector:
    """The console's policy: GUI-thread collections, and a freeze at each snapshot."""
    collector = collect_on_gui_thread()
    snapshot_loaded.connect(_freeze)
    return collector


def _freeze() -> None:
    gc.unfreeze()  # back into the oldest generation: garbage frozen last time can go now
    gc.collect()
    gc.freeze()
