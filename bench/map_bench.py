"""Map benchmark: time until the city's assets are on screen, and what a live city costs.

Figures, not pass/fail. Run by `make bench` (or `python bench/map_bench.py`).
- time from handing N assets to the map widget until the page has drawn them (5,000 and 50,000 lights)
- CPU of the console (its own process plus QtWebEngine's processes, in % of one core) while the map
  follows a live city: 60 vehicles and 1,000 changes/s, then 200 vehicles and 1,000 changes/s
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QEvent, Qt  # noqa: E402

from vigie.widgets.map.mbtiles import register_url_schemes  # noqa: E402

register_url_schemes()
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.common import demo_session, spin  # noqa: E402
from vigie.app import gc_policy  # noqa: E402
from vigie.app.backend_process import BackendProcess  # noqa: E402
from vigie.app.controllers.map_view import MapController  # noqa: E402
from vigie.app.models.asset_table import AssetTableModel  # noqa: E402
from vigie.app.theme import RESOURCES, map_style  # noqa: E402
from vigie.widgets.map.map_view import MapView  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def js(view: MapView, script: str):
    out: list = []
    view.run_js(script, out.append)
    spin(10, until=lambda: bool(out))
    return out[0] if out else None


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants (QtWebEngine renders in child processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
        todo.extend(children.get(p, []))
    return total


def time_to_screen(lights: int) -> float:
    """Start a city, load it in the map, and time reset_assets() -> drawn on the page."""
    backend = BackendProcess(["--demo-users", "--lights", str(lights), "--log-level", "WARNING"])
    backend.start()
    session = demo_session(backend.address)
    model = AssetTableModel()
    view = MapView(RESOURCES / "map" / "index.html", map_style())
    view.resize(1400, 900)
    view.show()
    session.sig_snapshot.connect(model.reset)
    session.start()
    try:
        spin(60, until=lambda: view.ready and model.total() > 0)
        from vigie.app.controllers.map_view import map_row

        rows = [map_row(r) for r in model.records()]
        started = time.perf_counter()
        view.reset_assets(rows)
        spin(
            60,
            until=lambda: (
                js(view, "window.vigieMap.isReady() && window.vigieMap.stats().counts.street_light") == lights
            ),
        )
        return time.perf_counter() - started
    finally:
        session.stop()
        backend.stop()
        view.close()
        view.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # page gone before exit


def live_cost(vehicles: int, rate: float, seconds: float) -> dict[str, float]:
    backend = BackendProcess(
        [
            "--demo-users",
            "--vehicles",
            str(vehicles),
            "--change-rate",
            str(rate),
            "--change-kind",
            "status",
            "--log-level",
            "WARNING",
        ]
    )
    backend.start()
    session = demo_session(backend.address)
    model = AssetTableModel()
    gc_policy.install(model.sig_reset)
    view = MapView(RESOURCES / "map" / "index.html", map_style())
    view.resize(1400, 900)
    view.show()
    MapController(session, model, view)
    session.sig_snapshot.connect(model.reset)
    session.sig_changes.connect(model.queue_changes)
    session.start()
    try:
        spin(60, until=lambda: view.ready and model.total() > 0)
        spin(60, until=lambda: bool(js(view, "window.vigieMap.isReady()")))
        js(view, "window.vigieMap._map.setView([47.322, 5.041], 14); 1")
        spin(3.0)
        pid = os.getpid()
        c0, o0, t0 = tree_cpu_seconds(pid), time.process_time(), time.monotonic()
        spin(seconds)
        c1, o1, t1 = tree_cpu_seconds(pid), time.process_time(), time.monotonic()
        drawn = json.loads(js(view, "JSON.stringify(window.vigieMap.stats())"))["counts"].get("vehicle", 0)
        return {
            "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
            "own_pct": 100 * (o1 - o0) / (t1 - t0),
            "vehicles": drawn,
        }
    finally:
        session.stop()
        backend.stop()
        view.close()
        view.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # page gone before exit


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--live-only", action="store_true")
    args = p.parse_args()
    app = QApplication([])  # noqa: F841
    print("map: time until the assets are drawn (offscreen, software rendering)")
    for lights in () if args.live_only else (5000, 50000):
        print(
            f"  {lights + 997:>6} assets ({lights} lights): {time_to_screen(lights) * 1000:7.0f} ms",
            flush=True,
        )
    print(
        "map: console CPU while following a live city (GUI + session + QtWebEngine processes, % of one core)"
    )
    for vehicles, rate in ((60, 1000), (200, 1000), (60, 0), (0, 1000)):
        r = live_cost(vehicles, rate, args.seconds)
        print(
            f"  {int(r['vehicles']):>4} vehicles + {rate:>4.0f} status changes/s: {r['cpu_pct']:5.1f} % "
            f"(console process {r['own_pct']:.1f} %, QtWebEngine {r['cpu_pct'] - r['own_pct']:.1f} %)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
