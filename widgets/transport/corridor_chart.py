"""Corridor statistics over the day: per hour, the red time priority saved transit (bars) and the
red time it added to cross streets (a line), with pyqtgraph."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget


class CorridorChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="#0d1117")
        self.plot.setLabel("left", "seconds per hour")
        self.plot.setLabel("bottom", "hour of the day")
        self.plot.showGrid(y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.saved_bars = pg.BarGraphItem(
            x=[], height=[], width=0.35, brush="#3fb950", name="time saved (transit)"
        )
        self.signal_bars = pg.BarGraphItem(
            x=[], height=[], width=0.35, brush="#e3b341", name="red time still lost"
        )
        self.cross = self.plot.plot(
            [], [], pen=pg.mkPen("#f85149", width=2), symbol="o", name="added to cross streets"
        )
        self.plot.addItem(self.saved_bars)
        self.plot.addItem(self.signal_bars)
        self.plot.setXRange(-0.5, 23.5)  # the whole day, whatever hours have figures yet
        self.plot.getAxis("bottom").setTicks([[(h, f"{h:02d}h") for h in range(0, 24, 2)]])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.hours: list[float] = []

    def set_hours(
        self, hours: list[float], saved: list[float], lost: list[float], cross: list[float]
    ) -> None:
        """One value per hour (hours as the hour of the day, 0..23, in order)."""
        self.hours = hours
        self.saved_bars.setOpts(x=[h - 0.2 for h in hours], height=saved)
        self.signal_bars.setOpts(x=[h + 0.2 for h in hours], height=lost)
        self.cross.setData(hours, cross)
