"""Mosaic benchmark: a 4x4 mosaic of SUB streams at 15 fps and a 5x5 at 10 fps from the simulated
backend on loopback. Prints, per layout: frames delivered to the tiles as a share of the frames the
server produced, capture-to-paint latency (p50, p95), frames missed, the console's CPU, and the CPU
of the bare pipeline (decode + resize + convert + paint of the same number of frames, measured in
the same run) with the ratio between the two. Figures, not pass/fail.
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

from PySide6.QtCore import QSize  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.common import demo_session, spin  # noqa: E402
from vigie.app.backend_process import BackendProcess  # noqa: E402
from vigie.app.controllers.mosaic import MosaicController  # noqa: E402
from vigie.app.models.asset_table import AssetTableModel  # noqa: E402
from vigie.app.theme import apply_theme  # noqa: E402
from vigie.app.video.decoder import FrameDecoder  # noqa: E402
from vigie.widgets.mosaic.layouts import LAYOUTS  # noqa: E402
from vigie.widgets.mosaic.panel import MosaicPanel  # noqa: E402


def bare_cpu_per_frame(jpegs: list[bytes], size: QSize, rounds: int = 3) -> float:
    """CPU seconds to decode, scale, convert and paint one frame, on this thread, no Qt events."""
    dec = FrameDecoder()
    dec.stop()  # use its conversion only
    dec.set_target_size(size)
    canvas = QImage(size, QImage.Format.Format_RGB32)
    for j in jpegs[:3]:  # learn the stream size
        dec._convert(j)
    start = time.thread_time()  # this thread only: the live pipeline's threads may still run
    n = 0
    for _ in range(rounds):
        for j in jpegs:
            img = dec._convert(j)
            p = QPainter(canvas)
            p.drawImage(0, 0, img)
            p.end()
            n += 1
    return (time.thread_time() - start) / n


def run(app: QApplication, layout: str, fps: float, seconds: float) -> dict[str, float]:
    backend = BackendProcess(["--demo-users", "--log-level", "WARNING"])
    backend.start()
    session = demo_session(backend.address)
    model = AssetTableModel()
    panel = MosaicPanel()
    panel.resize(1600, 940)
    panel.show()
    ctl = MosaicController(session, model, panel, max_fps=fps, persist=False)
    session.sig_snapshot.connect(model.reset)
    session.sig_changes.connect(model.queue_changes)
    session.start()
    try:
        spin(60, until=lambda: bool(ctl.cameras))
        mosaic = panel.mosaic
        mosaic.set_layout(layout)
        n = LAYOUTS[layout].size
        cams = sorted(r.id for r in model.records() if r.kind == "camera" and r.status == "ok")[:n]
        for slot, cam in enumerate(cams):
            ctl.place(slot, cam)
        tiles = [mosaic.tiles[s] for s in range(n)]
        spin(30, until=lambda: all(t.frames > 5 for t in tiles))
        spin(2.0)
        f0 = [t.frames for t in tiles]
        s0 = [t.sequence for t in tiles]
        m0 = [t.missed for t in tiles]
        dropped0 = sum(ctl.decoders[s].dropped for s in range(n))
        for t in tiles:
            t.latencies.clear()
        c0, w0 = time.process_time(), time.monotonic()
        spin(seconds)
        c1, w1 = time.process_time(), time.monotonic()
        delivered = sum(t.frames - f for t, f in zip(tiles, f0, strict=True))
        produced = sum(t.sequence - s for t, s in zip(tiles, s0, strict=True))
        lat = sorted(x for t in tiles for x in t.latencies)
        jpegs = [
            ctl.decoders[s].last_input for s in range(n) if isinstance(ctl.decoders[s].last_input, bytes)
        ]
        per_frame = bare_cpu_per_frame(jpegs, tiles[0].size())
        wall = w1 - w0
        client = 100 * (c1 - c0) / wall
        bare = 100 * per_frame * delivered / wall
        return {
            "tiles": n,
            "tile": f"{tiles[0].width()}x{tiles[0].height()}",
            "delivered_pct": 100 * delivered / max(1, produced),
            "fps_per_tile": delivered / wall / n,
            "p50": 1000 * statistics.median(lat) if lat else 0.0,
            "p95": 1000 * lat[int(0.95 * (len(lat) - 1))] if lat else 0.0,
            "missed": sum(t.missed - m for t, m in zip(tiles, m0, strict=True)),
            "dropped": sum(ctl.decoders[s].dropped for s in range(n)) - dropped0,
            "client": client,
            "bare": bare,
            "ratio": client / bare if bare else 0.0,
        }
    finally:
        ctl.stop()
        session.stop()
        backend.stop()
        panel.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    app = QApplication([])
    apply_theme(app)
    print(
        "mosaic: SUB streams from the simulated backend on loopback (CPU in % of one core; backend not counted)"
    )
    print(
        f"{'layout':>7} {'fps':>4} {'tile':>8} {'delivered':>9} {'fps/tile':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'missed':>6} {'dropped':>7} {'console':>7} {'bare':>6} {'ratio':>5}"
    )
    for layout, fps in (("4x4", 15.0), ("5x5", 10.0)):
        r = run(app, layout, fps, args.seconds)
        print(
            f"{layout:>7} {fps:>4.0f} {r['tile']:>8} {r['delivered_pct']:>8.1f}% {r['fps_per_tile']:>8.1f} "
            f"{r['p50']:>7.0f} {r['p95']:>7.0f} {r['missed']:>6.0f} {r['dropped']:>7.0f} "
            f"{r['client']:>6.0f}% {r['bare']:>5.0f}% {r['ratio']:>5.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
