"""The GUI thread's CPU per event under bench/run.py's load: a backend (`--lights`, `--change-rate`),
the session, the table model in a shown QTableView and the tree, the console's gc policy. Prints,
for the first snapshot's load and then `--seconds` of steady state, each slot's (or repaint's)
CPU per event: count, median and longest (bench/asset_turns.py's TimedApp names them). CPU time
(time.thread_time), not wall time: on a loaded machine the wall-clock gaps swing 2-3x, this does
not (docs/performance.md, third round). `python bench/live_turns.py [--lights N] [--rate R]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QTableView  # noqa: E402

from bench.asset_turns import TimedApp, name_slots  # noqa: E402
from bench.common import demo_session, end_session, run_main, spin, wait_for  # noqa: E402
from vigie.app import gc_policy  # noqa: E402
from vigie.app.backend_process import BackendProcess  # noqa: E402
from vigie.app.models.asset_table import AssetTableModel  # noqa: E402
from vigie.app.models.asset_tree import AssetTreeModel  # noqa: E402


def report(label: str, log: list[tuple[float, dict[str, float]]]) -> None:
    by: dict[str, list[float]] = {}
    for _cpu, ran in log:
        for what, cpu in ran.items():
            by.setdefault(what, []).append(1000 * cpu)
    total = 1000 * sum(cpu for cpu, _ in log)
    print(f"{label}: {len(log)} events, {total:.0f} ms of GUI-thread CPU; per event (ms), over 5 ms:")
    for what, cpus in sorted(by.items(), key=lambda kv: -max(kv[1])):
        if max(cpus) > 5:
            print(
                f"  {what:<28} n={len(cpus):4d}  median {statistics.median(cpus):5.1f}  longest {max(cpus):5.1f}"
            )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lights", type=int, default=50_000)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--seconds", type=float, default=8.0)
    args = p.parse_args()
    name_slots()
    app = TimedApp([])

    def body() -> None:
        backend = BackendProcess(
            [
                "--demo-users",
                "--lights",
                str(args.lights),
                "--change-rate",
                str(args.rate),
                "--log-level",
                "WARNING",
            ]
        )
        backend.start()
        session = demo_session(backend.address)
        model = AssetTableModel()
        tree = AssetTreeModel(model)
        view = QTableView()  # as bench/run.py's
        view.setModel(model)
        view.resize(1200, 800)
        view.show()
        session.sig_snapshot.connect(model.reset)
        gc_policy.install(model.sig_reset)
        session.sig_changes.connect(model.queue_changes)
        try:
            app.log = []
            session.start()
            wait_for(90, lambda: model.total() > 0 and not model.loading(), "the first snapshot in the table")
            spin(0.5)  # the snapshot's own collection, after the swap
            report(f"first snapshot of {model.total():,}", app.log)
            spin(2.0)
            app.log = []
            spin(args.seconds)
            report(f"steady state, {args.rate:.0f} changes/s, {args.seconds:.0f} s", app.log)
            app.log = None
        finally:
            end_session(session, session.sig_snapshot, session.sig_changes, model.sig_reset)
            backend.stop()
            view.close()
            del tree

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
