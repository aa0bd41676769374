"""The GUI thread's CPU per event-loop turn for the asset models, without a backend: the figure
docs/performance.md compares before and after issue 17 (wall-clock stalls on a loaded machine
swing 2-3x; the GUI thread's CPU per turn does not). A shown QTableView on the table model and the
tree model take a 50,000-asset snapshot (three times: the first and two resyncs), then 50,000
`last_seen` changes (the change benchmark's churn), then 2,000 status changes (rows that move
under the status sort), then a stream like bench/run.py's (`--rate` changes a second, in batches
every 100 ms, one in 500 a status change, the rest `last_seen`), then a generation-2 collection
as the console's collector runs it once every record was replaced. Prints the longest turn
(one processEvents call), the second longest and the total, in ms of the GUI thread's CPU
(time.thread_time), with the console's gc policy; and the longest single event (what one slot
or repaint held the thread for) with what ran in it. `python bench/asset_turns.py [--assets N]`.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication, QTableView  # noqa: E402

from bench.common import require, run_main  # noqa: E402
from vigie.app import gc_policy  # noqa: E402
from vigie.app.models.asset_table import AssetTableModel  # noqa: E402
from vigie.app.models.asset_tree import AssetTreeModel  # noqa: E402
from vigie.app.models.assets import AssetStore  # noqa: E402
from vigie.app.models.records import AssetRecord  # noqa: E402

# The slots an event may run, named in the report: (class, method, label). Missing ones (another
# version of the code) are skipped.
SLOTS = [
    (AssetStore, "_apply", "store tick"),
    (AssetStore, "_load_slice", "store snapshot slice"),
    (AssetTableModel, "_apply_pending", "table pass"),
    (AssetTableModel, "_reset_step", "table snapshot slice"),
    (AssetTableModel, "_refresh_ages", "ages"),
    (AssetTreeModel, "refresh", "tree"),
    (gc_policy.GuiThreadCollector, "check", "collector"),
    (getattr(gc_policy, "SnapshotFreezer", None), "freeze", "snapshot gc"),
    (gc_policy, "_freeze", "snapshot gc"),
]
_ran: dict[str, float] = {}  # label -> CPU seconds, in the current event


def _named(label: str, slot: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        c = time.thread_time()
        try:
            return slot(*args, **kwargs)
        finally:
            _ran[label] = _ran.get(label, 0.0) + time.thread_time() - c

    return run


def name_slots() -> None:
    """Wrap the slots so an event says what ran in it (before any model connects them)."""
    for owner, method, label in SLOTS:
        slot = getattr(owner, method, None) if owner is not None else None
        if slot is not None:
            setattr(owner, method, _named(label, slot))


class TimedApp(QApplication):
    """Measures each event the GUI thread dispatches from its loop (a timer's slot, a queued call,
    a repaint): the CPU it held the thread for, and what ran in it."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self._depth = 0
        self.longest: tuple[float, str] = (0.0, "")  # the longest event since reset, and what ran
        self.log: list[tuple[float, dict[str, float]]] | None = None  # every event, when a list

    def notify(self, receiver: QObject, event: QEvent) -> bool:
        if self._depth:
            self._depth += 1
            try:
                return super().notify(receiver, event)
            finally:
                self._depth -= 1
        self._depth = 1
        _ran.clear()
        c = time.thread_time()
        try:
            return super().notify(receiver, event)
        finally:
            cpu = time.thread_time() - c
            self._depth = 0
            if cpu > self.longest[0]:
                what = ", ".join(f"{k} {1000 * v:.0f}" for k, v in _ran.items())
                self.longest = (cpu, what or f"{event.type().name} {type(receiver).__name__}")
            if self.log is not None:
                self.log.append((cpu, dict(_ran) or {f"{event.type().name} {type(receiver).__name__}": cpu}))


def record(i: int, revision: int, last_seen: float, status: str | None = None) -> AssetRecord:
    status = status or ("ok" if i % 7 else "warning")
    return AssetRecord(
        f"light-{i:06d}",
        "street_light",
        f"Light {i}",
        f"D{i % 20}",
        48.0,
        2.0,
        status,
        "",
        last_seen,
        0.0,
        revision,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--assets", type=int, default=50_000)
    p.add_argument("--rate", type=int, default=10_000, help="changes a second in the stream case")
    p.add_argument("--stream-seconds", type=float, default=4.0)
    args = p.parse_args()
    name_slots()
    app = TimedApp([])
    n = args.assets

    def body() -> None:
        model = AssetTableModel(apply_interval_ms=1)
        tree = AssetTreeModel(model)
        view = QTableView()
        view.setModel(model)
        view.resize(1200, 800)
        view.show()
        app.processEvents()
        collector = gc_policy.install(model.sig_reset)  # the console's collections (app/gc_policy.py)
        freezer = getattr(collector, "freezer", None)  # the snapshot's freeze, when it has a turn of its own

        def busy() -> bool:
            return bool(
                model.loading()
                or model.store.loading()
                or model.store.pending()
                or model._incoming
                or (freezer is not None and freezer.pending())
            )

        def turns(label: str, start: Callable[[], None], feed: Callable[[], bool] | None = None) -> None:
            app.longest = (0.0, "")
            c = time.thread_time()
            start()
            cpus = [time.thread_time() - c]
            deadline = time.monotonic() + 120
            while (feed is not None and feed()) or busy():
                require(time.monotonic() < deadline, f"{label}: not applied within 120 s")
                c = time.thread_time()
                app.processEvents()
                cpus.append(time.thread_time() - c)
            s = sorted(cpus, reverse=True) + [0.0]
            cpu, what = app.longest
            print(
                f"{label:<36} longest turn {1000 * s[0]:6.1f} ms, next {1000 * s[1]:6.1f}, "
                f"total {1000 * sum(cpus):6.0f} ms in {len(cpus)} turns; "
                f"longest event {1000 * cpu:5.1f} ms ({what})",
                flush=True,
            )

        revision = [100]

        def stream(seed: int) -> None:
            """`--rate` changes a second for `--stream-seconds`: a batch every 100 ms, as the
            session hands them over; one in 500 changes a status (its row moves)."""
            rng = random.Random(seed)
            per_batch, batches = max(1, args.rate // 10), int(args.stream_seconds * 10)
            sent = [0]
            start = time.monotonic()

            def feed() -> bool:
                due = min(batches, int((time.monotonic() - start) * 10) + 1)
                while sent[0] < due:
                    revision[0] += 1
                    rev = revision[0]
                    batch = [
                        record(
                            i,
                            rev,
                            4000.0 + rev,
                            rng.choice(("ok", "warning")) if rng.random() < 0.002 else None,
                        )
                        for i in rng.sample(range(n), per_batch)
                    ]
                    model.queue_changes(batch, rev, len(batch))
                    sent[0] += 1
                return sent[0] < batches

            turns(f"stream {args.rate:,}/s, {args.stream_seconds:.0f} s", lambda: None, feed)

        rng = random.Random(1)
        print("GUI thread CPU per event-loop turn (ms)")
        for k in range(3):
            snapshot = [record(i, 1 + k, 1000.0) for i in range(n)]
            turns(f"snapshot of {n:,}", lambda s=snapshot, k=k: model.reset(s, 1 + k))
        require(model.rowCount() == n, f"{model.rowCount()} rows shown, {n} expected")
        for k in range(3):
            batch = [record(i, 10 + k, 2000.0 + k) for i in rng.sample(range(n), n)]
            turns(f"{n:,} last_seen changes", lambda b=batch, k=k: model.queue_changes(b, 10 + k, len(b)))
        for k in range(3):
            statuses = ("ok", "fault", "offline")
            batch = [record(i, 20 + k, 3000.0, rng.choice(statuses)) for i in rng.sample(range(n), 2000)]
            turns(
                "2,000 status changes (rows move)",
                lambda b=batch, k=k: model.queue_changes(b, 20 + k, len(b)),
            )
        for k in range(3):
            stream(10 + k)
        walked = len(gc.get_objects())  # what a collection walks: every tracked object not frozen
        c = time.thread_time()
        gc.collect(2)  # what the collector runs past its thresholds: every record is a new one now
        print(
            f"{'generation-2 collection':<36} {1000 * (time.thread_time() - c):6.1f} ms "
            f"({walked:,} objects not frozen, {gc.get_freeze_count():,} frozen)",
            flush=True,
        )
        del tree

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
