"""Live telemetry chart: one stacked plot per metric, history then live samples.

Redraws are bounded: samples only mark the chart dirty, and a timer redraws at most
`max_redraw_hz` times a second, with peak downsampling and clip-to-view so long histories stay
cheap (10 curves of 10,000 points redrawn at 30 Hz cost a whole core here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

CURVE_COLORS = ["#58a6ff", "#e3b341", "#3fb950", "#d2a8ff", "#ff7b72"]


class SeriesLike(Protocol):
    metric: str
    label: str
    unit: str
    times: np.ndarray
    values: np.ndarray


class TelemetryChart(QWidget):
    # The time axis's zone: seconds west of UTC at unix time t (pyqtgraph's utcOffset), None for
    # the machine's own. The console sets its city's zone here (app/cli.py, app/city_time.py).
    utc_offset_west: ClassVar[Callable[[float], int] | None] = None
    # The time range the operator picks (app/controllers/detail.py refetches that much history).
    # The chooser, the fixed scales, limit lines and the value under the cursor that issue 19 added
    # are withdrawn: with them the console died in QGraphicsView::paintEvent within 1.5-3 minutes
    # of the soak, five runs in five; this chart ran clean (docs/soak.md).
    sig_range_changed = Signal(float)

    def __init__(
        self,
        window_s: float = 900.0,
        max_points: int = 50_000,
        max_redraw_hz: float = 5.0,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.window_s = window_s
        self.max_points = max_points
        self.redraws = 0
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("#1b1f26")
        self.message = QLabel("Select an asset to see its telemetry")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setObjectName("chartMessage")
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.message)
        self._stack.addWidget(self.glw)
        self._curves: dict[str, tuple[pg.PlotItem, pg.PlotDataItem]] = {}
        self._data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._dirty = False
        self._timer = QTimer(self, interval=int(1000 / max_redraw_hz))
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    def clear(self, message: str = "Select an asset to see its telemetry") -> None:
        self.glw.clear()
        self._curves.clear()
        self._data.clear()
        self.message.setText(message)
        self._stack.setCurrentWidget(self.message)

    def set_series(self, series: list[SeriesLike]) -> None:
        """Replace the chart with these metrics' histories."""
        self.glw.clear()
        self._curves.clear()
        self._data.clear()
        if not series:
            self.clear("This asset reports no telemetry")
            return
        first: pg.PlotItem | None = None
        for i, s in enumerate(series):
            west = TelemetryChart.utc_offset_west
            axis = pg.DateAxisItem(utcOffset=west(time.time()) if west is not None else None)
            plot = self.glw.addPlot(row=i, col=0, axisItems={"bottom": axis})
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setLabel("left", s.label, units=s.unit or None)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.setMouseEnabled(x=True, y=False)
            plot.getAxis("left").setWidth(64)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            pen = pg.mkPen(CURVE_COLORS[i % len(CURVE_COLORS)], width=2)
            curve = plot.plot(pen=pen)
            self._curves[s.metric] = (plot, curve)
            self._data[s.metric] = (s.times.astype(float), s.values.astype(float))
        self._stack.setCurrentWidget(self.glw)
        self._dirty = True
        self._redraw()

    def append(self, series: list[SeriesLike]) -> None:
        """Add live samples; the chart redraws on its own timer."""
        for s in series:
            if s.metric not in self._data or not len(s.times):
                continue
            t, v = self._data[s.metric]
            t = np.concatenate([t, s.times])[-self.max_points :]
            v = np.concatenate([v, s.values])[-self.max_points :]
            self._data[s.metric] = (t, v)
            self._dirty = True

    def sample_count(self, metric: str) -> int:
        return len(self._data.get(metric, ((), ()))[0])

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        now = time.time()
        for metric, (plot, curve) in self._curves.items():
            t, v = self._data[metric]
            curve.setData(t, v)
            plot.setXRange(now - self.window_s, now + 5, padding=0)
            if len(v) and float(v.max() - v.min()) < 1e-6:  # a flat line: centre it, no +-400 axis
                plot.setYRange(float(v[0]) - 1.0, float(v[0]) + 1.0)
            else:
                plot.enableAutoRange(axis="y")
