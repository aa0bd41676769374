"""The map page alone under status changes: what a batch of N status flips costs the page and Qt.

No backend stream: the city's assets come from one snapshot of a demo backend (the real layout and
density), then every 1/FLUSH_HZ s N random fixed assets flip status through `MapView.update_statuses`
(what `MapController` sends for a status change alone). Prints CPU per thread over the window (the
console's GUI and viz compositor threads, QtWebEngine's renderer threads, from /proc) and the page's
own counters. `bench/map_bench.py` measures the whole console; this isolates the page's share
(docs/performance.md, "Fourth round").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer  # noqa: E402

from vigie.widgets.map.mbtiles import register_url_schemes  # noqa: E402

register_url_schemes()
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.common import demo_session, end_session, run_main, spin, wait_for  # noqa: E402
from bench.map_bench import js, page_rates, print_thread_profile, thread_times  # noqa: E402
from vigie.app.backend_process import BackendProcess  # noqa: E402
from vigie.app.controllers.map_view import map_row  # noqa: E402
from vigie.app.models.assets import AssetStore  # noqa: E402
from vigie.app.theme import RESOURCES, map_style  # noqa: E402
from vigie.widgets.map.map_view import MapView  # noqa: E402

STATUSES = ["ok", "warning", "fault", "offline"]


def city_rows() -> list[list]:
    """Every asset of a demo city (no transit), as the map's rows."""
    backend = BackendProcess(["--demo-users", "--no-transit", "--log-level", "WARNING"])
    backend.start()
    session = demo_session(backend.address)
    store = AssetStore()
    session.sig_snapshot.connect(store.reset)
    session.start()
    try:
        wait_for(60, lambda: store.total() > 0, "the city's snapshot")
        return [map_row(r) for r in store.records()]
    finally:
        end_session(session, session.sig_snapshot)
        backend.stop()


def run(rows: list[list], flips: int, seconds: float, zoom: float, seed: int) -> None:
    view = MapView(RESOURCES / "map" / "index.html", map_style())
    view.resize(1400, 900)
    view.show()
    view.reset_assets(rows)
    try:
        wait_for(60, lambda: view.ready and bool(js(view, "window.vigieMap.isReady()")), "the map page")
        js(view, f"window.vigieMap._map.setView([47.322, 5.041], {zoom}); 1")
        spin(2.0)
        rng = random.Random(seed)
        fixed = [r[0] for r in rows if r[1] != "vehicle"]
        status = {r[0]: r[5] for r in rows}

        def flip() -> None:
            changes = []
            for aid in rng.sample(fixed, min(flips, len(fixed))):
                status[aid] = rng.choice([s for s in STATUSES if s != status[aid]])
                changes.append((aid, status[aid]))
            view.update_statuses(changes)

        timer = QTimer(interval=500)  # the widget flushes at 2 Hz: one batch per flush
        timer.timeout.connect(flip)
        timer.start()
        spin(2.0)
        before = thread_times(os.getpid(), set())
        page0 = json.loads(js(view, "JSON.stringify(window.vigieMap.perf())"))
        t0 = time.monotonic()
        spin(seconds)
        wall = time.monotonic() - t0
        print(f"{flips} flips per flush at zoom {zoom}, {len(fixed)} fixed assets:")
        print_thread_profile(before, thread_times(os.getpid(), set()), wall, top=8)
        page1 = json.loads(js(view, "JSON.stringify(window.vigieMap.perf())"))
        print("  page, per second:", page_rates(page0, page1, wall), flush=True)
        timer.stop()
    finally:
        view.close()
        view.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--flips", default="500", help="status flips per flush, comma-separated cases")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--zoom", type=float, default=14)
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args()
    app = QApplication([])  # noqa: F841

    def body() -> None:
        rows = city_rows()
        for n in (int(x) for x in args.flips.split(",")):
            run(rows, n, args.seconds, args.zoom, args.seed)

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
