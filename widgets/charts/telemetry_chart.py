"""Live telemetry chart: one stacked plot per metric, history then live samples.

Each plot has its metric's fixed scale and reference limits (widgets/charts/scales.py); a bar
above the plots shows the current value of every metric, the values under the cursor, and a
chooser for the time range shown (`sig_range_changed`: the owner fetches that much history).

The bar is plain Qt widgets and a limit is one more curve: the chart adds no other kind of item to
the plots' scene. A first version drew labelled InfiniteLines, a cursor line and plot titles, and
the console died in QGraphicsView::paintEvent within minutes of the soak (docs/soak.md); curves and
widgets are what ran clean.

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
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QStackedLayout, QVBoxLayout, QWidget

from vigie.widgets.charts.scales import limits, y_range

CURVE_COLORS = ["#58a6ff", "#e3b341", "#3fb950", "#d2a8ff", "#ff7b72"]
LIMIT_COLOR = "#f85149"
RANGES = (("15 min", 900.0), ("1 h", 3600.0), ("6 h", 6 * 3600.0), ("24 h", 86400.0))


def _clock(t: float) -> str:
    """hh:mm:ss in the chart's zone (the city's, see TelemetryChart.utc_offset_west)."""
    west = TelemetryChart.utc_offset_west
    return time.strftime("%H:%M:%S", time.gmtime(t - west(t)) if west is not None else time.localtime(t))


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


class SeriesLike(Protocol):
    metric: str
    label: str
    unit: str
    times: np.ndarray
    values: np.ndarray


class TelemetryChart(QWidget):
    sig_range_changed = Signal(float)  # seconds of history the operator wants to see
    # The time axis's zone: seconds west of UTC at unix time t (pyqtgraph's utcOffset), None for
    # the machine's own. The console sets its city's zone here (app/cli.py, app/city_time.py).
    utc_offset_west: ClassVar[Callable[[float], int] | None] = None

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
        self.now_label = QLabel("")  # every metric's latest value, and its limits
        self.now_label.setObjectName("chartNow")
        self.now_label.setTextFormat(Qt.TextFormat.RichText)
        self.now_label.setWordWrap(True)  # a narrow detail pane: every metric still reads whole
        self.cursor_label = QLabel("")  # the values under the mouse, at its time
        self.cursor_label.setObjectName("chartCursor")
        self.range_box = QComboBox()
        self.range_box.setToolTip("Time range shown")
        for label, seconds in RANGES:
            self.range_box.addItem(label, seconds)
        self.range_box.setCurrentIndex(next((i for i, (_l, s) in enumerate(RANGES) if s == window_s), 0))
        self.range_box.currentIndexChanged.connect(self._on_range)
        plots = QWidget()
        pl = QVBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.setSpacing(2)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        labels = QVBoxLayout()
        labels.setSpacing(0)
        labels.addWidget(self.now_label)
        labels.addWidget(self.cursor_label)
        bar.addLayout(labels, 1)
        bar.addWidget(self.range_box, 0, Qt.AlignmentFlag.AlignTop)
        pl.addLayout(bar)
        pl.addWidget(self.glw, 1)
        self._plots_page = plots
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.message)
        self._stack.addWidget(plots)
        self._curves: dict[str, tuple[pg.PlotItem, pg.PlotDataItem]] = {}
        self._limit_curves: dict[str, list[tuple[float, pg.PlotDataItem]]] = {}
        self._data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._meta: dict[str, tuple[str, str]] = {}  # metric -> (label, unit)
        self._dirty = False
        self._timer = QTimer(self, interval=int(1000 / max_redraw_hz))
        self._timer.timeout.connect(self._redraw)
        self._timer.start()
        self.glw.scene().sigMouseMoved.connect(self._on_mouse)

    def _forget(self) -> None:
        self.glw.clear()
        self._curves.clear()
        self._limit_curves.clear()
        self._data.clear()
        self._meta.clear()
        self.now_label.clear()
        self.cursor_label.clear()

    def clear(self, message: str = "Select an asset to see its telemetry") -> None:
        self._forget()
        self.message.setText(message)
        self._stack.setCurrentWidget(self.message)

    def set_series(self, series: list[SeriesLike]) -> None:
        """Replace the chart with these metrics' histories."""
        self._forget()
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
            plot.hideButtons()  # no autoscale "A": the scale is the metric's own, on purpose
            plot.getAxis("left").enableAutoSIPrefix(False)  # "kbit/s" stays kbit/s, never "kkbit/s"
            plot.getAxis("left").setWidth(64)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            dashed = pg.mkPen(LIMIT_COLOR, width=1, style=Qt.PenStyle.DashLine)
            self._limit_curves[s.metric] = [(lim.value, plot.plot(pen=dashed)) for lim in limits(s.metric)]
            pen = pg.mkPen(CURVE_COLORS[i % len(CURVE_COLORS)], width=2)
            curve = plot.plot(pen=pen)
            self._curves[s.metric] = (plot, curve)
            self._data[s.metric] = (s.times.astype(float), s.values.astype(float))
            self._meta[s.metric] = (s.label, s.unit)
        self._stack.setCurrentWidget(self._plots_page)
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

    def y_range(self, metric: str) -> tuple[float, float]:
        """The plot's vertical range as shown."""
        plot, _curve = self._curves[metric]
        low, high = plot.vb.viewRange()[1]
        return float(low), float(high)

    def limit_values(self, metric: str) -> list[float]:
        """The levels drawn as dashed lines on the metric's plot."""
        return [value for value, _curve in self._limit_curves.get(metric, [])]

    def _on_range(self, index: int) -> None:
        seconds = float(self.range_box.itemData(index))
        if seconds != self.window_s:
            self.window_s = seconds
            self._dirty = True
            self.sig_range_changed.emit(seconds)

    def value_at(self, metric: str, t: float) -> tuple[float, float] | None:
        """The sample nearest to time `t`: (its time, its value)."""
        times, values = self._data.get(metric, (np.empty(0), np.empty(0)))
        if not len(times):
            return None
        i = int(np.clip(np.searchsorted(times, t), 1, len(times) - 1)) if len(times) > 1 else 0
        if i and abs(times[i - 1] - t) <= abs(times[i] - t):
            i -= 1
        return float(times[i]), float(values[i])

    def _on_mouse(self, pos: QPointF) -> None:
        """The values under the cursor, at the time under it, in the bar above the plots."""
        at: float | None = None
        for plot, _curve in self._curves.values():
            if plot.sceneBoundingRect().contains(pos):
                at = float(plot.vb.mapSceneToView(pos).x())
                break
        if at is None:
            self.cursor_label.clear()
            return
        parts = []
        for metric in self._curves:
            hit = self.value_at(metric, at)
            if hit is not None:
                label, unit = self._meta[metric]
                parts.append(f"{label} {_fmt(hit[1])} {unit}".strip())
        self.cursor_label.setText(f"At {_clock(at)}: " + " · ".join(parts) if parts else "")

    def _now_text(self) -> str:
        parts = []
        for metric in self._curves:
            label, unit = self._meta[metric]
            _t, v = self._data[metric]
            text = f"{label} now {_fmt(float(v[-1]))} {unit}".strip() if len(v) else f"{label}: no samples"
            for lim in limits(metric):
                text += (
                    f" (<span style='color:{LIMIT_COLOR}'>- - {lim.label} {_fmt(lim.value)} {unit}</span>)"
                )
            parts.append(
                text.replace(" ", "&nbsp;").replace("<span&nbsp;", "<span ")
            )  # wraps between metrics only
        return " · ".join(parts)

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        now = time.time()
        start, end = now - self.window_s, now + 5
        for metric, (plot, curve) in self._curves.items():
            t, v = self._data[metric]
            curve.setData(t, v)
            plot.setXRange(start, end, padding=0)
            lo, hi = y_range(metric, float(v.min()) if len(v) else 0.0, float(v.max()) if len(v) else 0.0)
            plot.setYRange(lo, hi, padding=0.02)  # a fixed scale: never the data's own range
            for value, line in self._limit_curves[metric]:
                line.setData([start, end], [value, value])
        self.now_label.setText(self._now_text())
