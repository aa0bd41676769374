"""The soak run as a PNG: memory of each process, the map page's JS heap, and handles, against
time (pyqtgraph, exported offscreen; bench/soak.py)."""

from __future__ import annotations

import os
from pathlib import Path

COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#9a6324"]


def plot(rows: list[dict], path: Path, warmup_s: float) -> None:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the harness's own process, after its children started
    import pyqtgraph as pg
    import pyqtgraph.exporters

    pg.mkQApp()
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    win = pg.GraphicsLayoutWidget()
    win.resize(1400, 1000)
    cols = sorted({k for r in rows for k in r})
    panels = [
        ("Resident memory (MB)", [c for c in cols if c.endswith(".rss_mb")]),
        ("Map page JS heap (MB)", [c for c in cols if c.startswith("map.") and "heap" in c]),
        ("Open fds", [c for c in cols if c.endswith(".fds")]),
        ("Threads", [c for c in cols if c.endswith(".threads")]),
        ("Objects / 1000", [c for c in cols if c.endswith((".gc_objects", ".qobjects", ".py_wrappers"))]),
    ]
    for i, (title, names) in enumerate(panels):
        p = win.addPlot(row=i, col=0, title=title)
        legend = pg.LegendItem(labelTextSize="7pt")
        win.addItem(legend, row=i, col=1)
        p.setLabel("bottom", "minutes")
        p.addItem(pg.InfiniteLine(warmup_s / 60, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine)))
        scale = 1 / 1000 if title.startswith("Objects") else 1.0
        for j, name in enumerate(names):
            pts = [(r["t"] / 60, r[name] * scale) for r in rows if name in r]
            if pts:
                xs, ys = zip(*pts, strict=True)
                curve = p.plot(list(xs), list(ys), pen=pg.mkPen(COLOURS[j % len(COLOURS)], width=2))
                legend.addItem(curve, name)
    win.ci.layout.setColumnStretchFactor(0, 4)
    win.show()  # offscreen: lays the plots out at the window's size before the export
    pg.QtWidgets.QApplication.processEvents()
    exporter = pyqtgraph.exporters.ImageExporter(win.scene())
    exporter.parameters()["width"] = 1400
    exporter.export(str(path))
