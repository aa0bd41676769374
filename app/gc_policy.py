"""Garbage-collector policy for the console process.

The city's state is tens of thousands of long-lived records; a full (generation 2) collection
walks all of them and held the GUI thread for up to 264 ms at 50,000 changes/s (bench/run.py).
After a snapshot is loaded we freeze what exists (those objects are never scanned again; replaced
records are still freed by reference counting) and collect the young generation less often.

Frozen objects are never collected: cyclic garbage frozen with them would stay for the life of
the process (the soak saw 90k -> 714k frozen objects after one backend restart when later
snapshots froze without collecting first). So every freeze comes right after a collection of
everything not frozen yet: what a freeze adds is what is alive then.

That collection leaves the frozen objects alone. Unfreezing them first walked the whole heap,
~140,000 objects at 50,000 assets (the program's own ~90,000 and the records): 38-77 ms of the
GUI thread's CPU in one turn at every snapshot (docs/performance.md, third round). Instead the
program's objects are frozen once, at install (start-up, before any snapshot), and each snapshot
collects and freezes only what came since: its records and their sort keys (~100,000 objects,
21-29 ms under load against 39-53 ms for the whole heap), in a turn of its own after the swap.
What this gives up: a frozen object that later dies in a reference cycle stays (a snapshot's
records die by reference counting and do go). When a snapshot's freeze finds the frozen set
grown past FULL_GROWTH times its size after the first snapshot (or the last full collection), it
unfreezes and collects everything once, the old way.

Collections run on the GUI thread only. Python's collector runs in whichever thread happens to
allocate past a threshold: the client's asyncio thread, a decoder thread, a probe. Cyclic garbage
often holds Qt objects (a closed dialog and its lambdas, a replaced panel), and a collection
deletes them in that thread: "QBasicTimer::start: Timers cannot be started from another thread",
then a segmentation fault (the soak, bench/soak.py, died so at 16 and 4 minutes). So automatic
collection is off, and a timer on the GUI thread collects each generation when its count passes
the threshold, as automatic collection would (pyqtgraph's GarbageCollector does the same, for the
same reason).

Counts alone are not enough here. The counts are net: an object freed by reference counting takes
its allocation back, so in a steady console generation 0 fills only as fast as cyclic garbage
comes. A soak without backend restarts (docs/soak.md) found ~20 garbage objects a second (finished
tasks, their frames and tracebacks, a workspace switch's closures), 16,000 in 13 minutes and not one
collection: at that pace the first generation-0 run comes after ~40 minutes and generation 2 after
days, while what the garbage holds (a finished call's buffers) stays in the C heap. The soak's own
restarts had hidden it: each snapshot collects. So a full collection also runs every FULL_EVERY_S,
whatever the counts; it walks only what is not frozen (frozen objects sit outside the generations).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QTimer, SignalInstance

THRESHOLD = (50_000, 20, 20)
CHECK_MS = 500
FULL_EVERY_S = 120.0  # a full collection at least this often (see above)


class GuiThreadCollector(QObject):
    """Runs the collections automatic collection would, on the thread it lives in (the GUI's)."""

    def __init__(
        self,
        parent: QObject | None = None,
        threshold: tuple[int, int, int] = THRESHOLD,
        full_every_s: float = FULL_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.threshold = threshold
        self.full_every_s, self.clock = full_every_s, clock
        self.collections = [0, 0, 0]
        self.last_full = clock()
        self.freezer: SnapshotFreezer | None = None  # install()'s, when the policy is installed
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
        now = self.clock()
        if (c2 > t2 and c1 > t1) or now - self.last_full >= self.full_every_s:
            gen = 2
        elif c1 > t1:
            gen = 1
        elif c0 > t0:
            gen = 0
        else:
            return
        gc.collect(gen)
        self.collections[gen] += 1
        if gen == 2:
            self.last_full = self.clock()

    def stop(self) -> None:
        """Back to automatic collection (tests, and a process that ends its GUI)."""
        self._timer.stop()
        gc.enable()


def collect_on_gui_thread(parent: QObject | None = None) -> GuiThreadCollector:
    """Call on the GUI thread, once the application exists."""
    return GuiThreadCollector(parent if parent is not None else QCoreApplication.instance())


FULL_GROWTH = 1.5  # frozen set / its size after the first snapshot: past this, one full collection


class SnapshotFreezer(QObject):
    """After each snapshot (in the next event-loop turn, not the one that swapped it in): collect
    what is not frozen, then freeze what is alive."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.freezes = 0
        self.full_collections = 0  # unfreeze-and-collect-everything runs (the frozen set grew)
        self.reference: int | None = None  # frozen objects after the first snapshot's freeze
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.freeze)

    def snapshot_loaded(self) -> None:
        self._timer.start()  # several snapshots before the next turn: one freeze

    def pending(self) -> bool:
        return self._timer.isActive()

    def freeze(self) -> None:
        self._timer.stop()
        gc.collect()  # everything not frozen: a freeze never keeps garbage
        gc.freeze()
        self.freezes += 1
        frozen = gc.get_freeze_count()
        if self.reference is None:
            self.reference = frozen
        elif frozen > FULL_GROWTH * self.reference:
            gc.unfreeze()  # the frozen set grew: what died in cycles while frozen goes now
            gc.collect()
            gc.freeze()
            self.full_collections += 1
            self.reference = gc.get_freeze_count()


def freeze_program() -> None:
    """Collect, then freeze what is alive: the program's own objects, once, at start-up."""
    gc.collect()
    gc.freeze()


def install(snapshot_loaded: SignalInstance) -> GuiThreadCollector:
    """The console's policy: GUI-thread collections, the program's objects frozen now, and what
    each snapshot brings frozen after it (collected first)."""
    collector = collect_on_gui_thread()
    freeze_program()
    collector.freezer = SnapshotFreezer(collector)
    snapshot_loaded.connect(collector.freezer.snapshot_loaded)
    return collector
