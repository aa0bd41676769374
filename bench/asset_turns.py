"""The GUI thread's CPU per event-loop turn for the asset models, without a backend: the figure
docs/performance.md compares before and after issue 17 (wall-clock stalls on a loaded machine
swing 2-3x; the GUI thread's CPU per turn does not). A shown QTableView on the table model and the
tree model take a 50,000-asset snapshot (three times: the first and two resyncs), then 50,000
`last_seen` changes (the change benchmark's churn), then 2,000 status changes (rows that move
under the status sort). Prints the longest turn, the second longest and the total, in ms of the
GUI thread's CPU (time.thread_time), with the console's gc policy. `python bench/asset_turns.py [--assets N]`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication, QTableView  # noqa: E402

from bench.common import require, run_main  # noqa: E402
from vigie.app import gc_policy  # noqa: E402
from vigie.app.models.asset_table import AssetTableModel  # noqa: E402
from vigie.app.models.asset_tree import AssetTreeModel  # noqa: E402
from vigie.app.models.records import AssetRecord  # noqa: E402


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
    args = p.parse_args()
    app = QApplication([])
    n = args.assets

    def body() -> None:
        model = AssetTableModel(apply_interval_ms=1)
        tree = AssetTreeModel(model)
        gc_policy.install(model.sig_reset)  # the console's collections (app/gc_policy.py)
        view = QTableView()
        view.setModel(model)
        view.resize(1200, 800)
        view.show()
        app.processEvents()

        def busy() -> bool:
            return bool(model.loading() or model.store.loading() or model.store.pending() or model._incoming)

        def turns(label: str, start: Callable[[], None]) -> None:
            c = time.thread_time()
            start()
            cpus = [time.thread_time() - c]
            deadline = time.monotonic() + 120
            while busy():
                require(time.monotonic() < deadline, f"{label}: not applied within 120 s")
                c = time.thread_time()
                app.processEvents()
                cpus.append(time.thread_time() - c)
            s = sorted(cpus, reverse=True) + [0.0]
            print(
                f"{label:<36} longest turn {1000 * s[0]:6.1f} ms, next {1000 * s[1]:6.1f}, "
                f"total {1000 * sum(cpus):6.0f} ms in {len(cpus)} turns",
                flush=True,
            )

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
        del tree

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
