"""Throughput benchmark: asset changes per second from the backend, through WatchAssets and the
session, into the console's table model (shown in a table view), the GUI thread's stalls and
freezes, and the CPU of the console and of the backend (separate processes, read from /proc).

"console/s" counts server changes whose effect is in the model (applied, not just queued): a
batch from the session counts once every asset it carries holds that revision or a later one in
the model. "rows/s" counts the rows the model actually updated (changes to one asset between two
passes make one row update). 'load gap' is the GUI's longest gap while the first snapshot
arrives and is ordered (issue 17: snapshots and resyncs must not freeze either).

Each case prints, under it, the figures measured before issue 17's changes (BEFORE), and checks
the issue's goal: no GUI gap of GOAL_MAX_GAP_MS or more. Exits non-zero when a measurement is
missing or a goal is missed, naming them (docs/performance.md says which goals this machine misses).
`make bench` or `python bench/run.py [--seconds N] [--rates ...]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import deque
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication, QTableView  # noqa: E402

from bench.common import (  # noqa: E402
    STALL_HEADER,
    STALL_NOTE,
    CpuMeter,
    StallProbe,
    check_alive,
    demo_session,
    end_session,
    open_channel,
    require,
    run_main,
    spin,
    stall_cells,
    wait_for,
)
from vigie.app import gc_policy  # noqa: E402
from vigie.app.backend_process import BackendProcess  # noqa: E402
from vigie.app.models.asset_table import AssetTableModel  # noqa: E402
from vigie.app.models.asset_tree import AssetTreeModel  # noqa: E402
from vigie.v1 import assets_pb2, assets_pb2_grpc  # noqa: E402

GOAL_MAX_GAP_MS = 50.0  # issue 17: worst GUI stall under asset changes

# Before issue 17's changes (main at b6d4847, same machine, loaded by other sessions; the issue's
# own table in brackets): (lights, rate) -> text.
BEFORE = {
    (5000, 1000): "issue: max stall 106 ms",
    (5000, 10000): "p99 51.9, max gap 165 ms, 15.2% frozen, pass max 32.7 ms [issue: 93 ms]",
    (5000, 50000): "issue 11's run: 36.5% frozen",
    (5000, 100000): "p99 134.6, max gap 430 ms, 43.9% frozen, 3 resyncs, pass max 340 ms [issue: 177 ms]",
    (50000, 100000): "the model never caught up in 8 s: no change reached it [issue: p99 606 / max 776 ms]",
}


def server_revision(stub: assets_pb2_grpc.AssetServiceStub) -> int:
    return stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=10).revision


class AppliedCounter:
    """Counts, from the model's public signal, the server changes whose effect is in the model.

    The session hands over batches (latest record per asset, raw change count); a batch counts
    as applied once every record in it is in the model at its revision or later."""

    def __init__(self, model: AssetTableModel) -> None:
        self.model = model
        self.batches: deque[list] = deque()  # [records, raw count, records already checked]
        self.received = 0
        self.applied = 0
        self.rows = 0
        self.snapshots = 0  # snapshot reloads: changes a resync skipped are never received or counted

    def on_snapshot(self) -> None:
        self.snapshots += 1

    def on_changes(self, records: list, _revision: int, count: int) -> None:
        self.batches.append([records, count, 0])
        self.received += count

    def on_pass(self, ids: set[str]) -> None:
        self.rows += len(ids)
        record = self.model.record
        while self.batches:
            batch = self.batches[0]
            recs, i = batch[0], batch[2]
            while i < len(recs):
                cur = record(recs[i].id)
                if cur is None or cur.revision < recs[i].revision:
                    break
                i += 1
            batch[2] = i
            if i < len(recs):
                return
            self.applied += batch[1]
            self.batches.popleft()


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
    counter = AppliedCounter(model)
    session.sig_snapshot.connect(model.reset)
    gc_policy.install(model.sig_reset)
    session.sig_changes.connect(model.queue_changes)
    session.sig_changes.connect(counter.on_changes)
    model.sig_assets_changed.connect(counter.on_pass)
    model.sig_reset.connect(counter.on_snapshot)
    load_probe = StallProbe()
    load_probe.start()
    session.start()
    try:
        wait_for(90, lambda: model.total() > 0 and not model.loading(), "the first snapshot in the table")
        load_probe.stop()
        spin(2.0)  # settle: first batches, caches
        channel = open_channel(backend.address)  # logged in before the window (a login costs ~0.2 s)
        stub = assets_pb2_grpc.AssetServiceStub(channel)
        probe = StallProbe()
        cpu = CpuMeter(backend)
        model.pass_ms.clear()
        relayouts0 = model.relayouts
        a0, r0, rows0, snaps0 = counter.applied, counter.received, counter.rows, counter.snapshots
        behind0 = r0 - a0
        srv0, t0 = server_revision(stub), time.monotonic()
        probe.start()
        cpu.start()
        spin(seconds)
        used = cpu.stop()
        probe.stop()
        a1, r1, rows1 = counter.applied, counter.received, counter.rows
        srv1, t1 = server_revision(stub), time.monotonic()
        channel.close()
        check_alive(backend)
        wall = t1 - t0
        require(srv1 > srv0 or rate == 0, f"the backend produced no change at {rate:.0f}/s")
        resyncs = counter.snapshots - snaps0
        # Nothing applied is a figure when the console was reloading snapshots (it fell behind the
        # backend's history); with neither changes nor reloads the measurement itself failed.
        require(
            a1 > a0 or resyncs > 0 or rate == 0,
            f"no change and no snapshot reached the model at {rate:.0f}/s",
        )
        return {
            "server_rate": (srv1 - srv0) / wall,
            "received_rate": (r1 - r0) / wall,
            "client_rate": (a1 - a0) / wall,
            "rows_rate": (rows1 - rows0) / wall,
            "resyncs": resyncs,
            "behind0": behind0,
            "behind1": r1 - a1,
            "stalls": probe.summary(),
            "load_gap": load_probe.summary()["max"],
            "cpu": used,
            "assets": model.total(),
            "pass_max": max(model.pass_ms, default=0.0),
            "pass_mean": statistics.mean(model.pass_ms) if model.pass_ms else 0.0,
            "relayouts": (model.relayouts - relayouts0) / wall,
        }
    finally:
        end_session(
            session, session.sig_snapshot, session.sig_changes, model.sig_assets_changed, model.sig_reset
        )
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

    def body() -> None:
        print("rates in asset changes/s; times in ms; CPU in % of one core; 2 cores shared by the")
        print("backend and the console (separate processes), and by whatever else runs on the machine")
        print(STALL_NOTE)
        print("'behind': changes received but not yet in the model, at the start > end of the window;")
        print("'resyncs': snapshot reloads in the window (the console fell behind the backend's history)")
        print(
            f"{'lights':>7} {'asked/s':>8} {'server/s':>9} {'console/s':>9} {'ratio':>5} {'rows/s':>7} "
            f"{'behind':>13} {'resyncs':>7} {STALL_HEADER} {'pass avg':>8} {'pass max':>8} {'resort/s':>8} "
            f"{'console%':>8} {'gui%':>5} {'backend%':>8} {'load gap':>8}"
        )
        missed: list[str] = []
        for lights in args.lights:
            for rate in args.rates:
                r = run_case(app, lights, rate, args.seconds)
                ratio = r["client_rate"] / r["server_rate"] if r["server_rate"] else 0.0
                c = r["cpu"]
                print(
                    f"{lights:>7} {rate:>8.0f} {r['server_rate']:>9.0f} {r['client_rate']:>9.0f} {ratio:>5.2f} "
                    f"{r['rows_rate']:>7.0f} {r['behind0']:>6.0f}>{r['behind1']:<6.0f} {r['resyncs']:>7} {stall_cells(r['stalls'])} "
                    f"{r['pass_mean']:>8.1f} {r['pass_max']:>8.1f} {r['relayouts']:>8.1f} "
                    f"{c['console']:>8.0f} {c['gui']:>5.0f} {c['backend']:>8.0f} {r['load_gap']:>8.0f}",
                    flush=True,
                )
                print(f"{'':>7} before: {BEFORE.get((lights, int(rate)), 'not measured')}", flush=True)
                worst = max(r["stalls"]["max"], r["load_gap"])
                if worst >= GOAL_MAX_GAP_MS:
                    missed.append(f"{lights} lights at {rate:.0f}/s: worst gap {worst:.0f} ms")
        require(not missed, f"goal (GUI gap < {GOAL_MAX_GAP_MS:.0f} ms) missed: " + "; ".join(missed))

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
