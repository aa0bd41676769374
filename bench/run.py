"""Throughput benchmark: asset changes per second from the backend, through WatchAssets and the
session, into the console's table model (shown in a table view), and the GUI thread's stalls.

Prints figures, not pass/fail. `make bench` or `python bench/run.py [--seconds N] [--rates ...]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QTableView  # noqa: E402

from bench.common import demo_session, open_channel, spin  # noqa: E402
from vigie.app import gc_policy  # noqa: E402
from vigie.app.backend_process import BackendProcess  # noqa: E402
from vigie.app.models.asset_table import AssetTableModel  # noqa: E402
from vigie.app.models.asset_tree import AssetTreeModel  # noqa: E402
from vigie.v1 import assets_pb2, assets_pb2_grpc  # noqa: E402


def server_revision(address: str) -> int:
    with open_channel(address) as ch:
        stub = assets_pb2_grpc.AssetServiceStub(ch)
        return stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=10).revision


def run_case(app: QApplication, lights: int, rate: float, seconds: float) -> dict[str, float]:
    backend = BackendProcess(
        ["--demo-users", "--lights", str(lights), "--change-rate", str(rate), "--log-level", "WARNING"]
    )
    backend.start()
    session = demo_session(backend.address)
    model = AssetTableModel()
    tree = AssetTreeModel(model)
    view = QTableView()
    view.setModel(model)
    view.resize(1200, 800)
    view.show()
    session.sig_snapshot.connect(model.reset)
    gc_policy.install(model.sig_reset)
    session.sig_changes.connect(model.queue_changes)
    session.start()
    try:
        spin(90, until=lambda: model.total() > 0)
        spin(2.0)  # settle: first batches, caches
        # GUI stall probe: a 5 ms timer; any lateness is time the GUI thread could not react.
        gaps: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        def probe() -> None:
            now = clock.nsecsElapsed()
            gaps.append((now - last[0]) / 1e6)
            last[0] = now

        t = QTimer(interval=5)
        t.timeout.connect(probe)
        model.pass_ms.clear()
        relayouts0 = model.relayouts
        c0, srv0, t0 = model.changes_applied, server_revision(backend.address), time.monotonic()
        t.start()
        spin(seconds)
        t.stop()
        c1, srv1, t1 = model.changes_applied, server_revision(backend.address), time.monotonic()
        stalls = sorted(max(0.0, g - 5.0) for g in gaps)
        p99 = stalls[int(len(stalls) * 0.99) - 1] if stalls else 0.0
        return {
            "server_rate": (srv1 - srv0) / (t1 - t0),
            "client_rate": (c1 - c0) / (t1 - t0),
            "stall_p99": p99,
            "stall_max": stalls[-1] if stalls else 0.0,
            "stall_median": statistics.median(stalls) if stalls else 0.0,
            "assets": model.total(),
            "pass_max": max(model.pass_ms, default=0.0),
            "pass_mean": statistics.mean(model.pass_ms) if model.pass_ms else 0.0,
            "relayouts": (model.relayouts - relayouts0) / (t1 - t0),
        }
    finally:
        session.stop()
        backend.stop()
        view.close()
        del tree


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rates", type=float, nargs="+", default=[1000, 10000, 50000, 100000])
    p.add_argument("--lights", type=int, nargs="+", default=[5000, 50000])
    args = p.parse_args()
    app = QApplication([])
    print("rates in asset changes/s; times in ms; 2 cores shared by the backend and the console")
    print(
        f"{'lights':>7} {'asked/s':>9} {'server/s':>10} {'console/s':>10} {'ratio':>6} "
        f"{'stall p50':>9} {'stall p99':>9} {'stall max':>9} {'pass avg':>8} {'pass max':>8} {'resort/s':>8}"
    )
    for lights in args.lights:
        for rate in args.rates:
            r = run_case(app, lights, rate, args.seconds)
            ratio = r["client_rate"] / r["server_rate"] if r["server_rate"] else 0.0
            print(
                f"{lights:>7} {rate:>9.0f} {r['server_rate']:>10.0f} {r['client_rate']:>10.0f} {ratio:>6.2f} "
                f"{r['stall_median']:>9.1f} {r['stall_p99']:>9.1f} {r['stall_max']:>9.1f} "
                f"{r['pass_mean']:>8.1f} {r['pass_max']:>8.1f} {r['relayouts']:>8.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
