"""Telemetry charts an operator can read: a water sensor's pressure on a fixed 0-6 bar scale (not
the data's own wobble), its low-pressure limit line, the current value, the value under the
cursor, and a time-range chooser that fetches that much history. A whole console against a real
backend; expected values are read from the backend."""

from __future__ import annotations

import os
import re
import time

import pyqtgraph as pg
from google.protobuf.timestamp_pb2 import Timestamp
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtTest import QTest

from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import assets_pb2, assets_pb2_grpc

PRESSURE_SCALE = (0.0, 6.0)  # bar
LOW_PRESSURE = 2.5  # bar


def backend_pressure(address: str, asset_id: str, start: float, end: float) -> list[tuple[float, float]]:
    channel = open_channel(address, "viewer")
    try:
        stub = assets_pb2_grpc.AssetServiceStub(channel)
        a, b = Timestamp(), Timestamp()
        a.FromNanoseconds(int(start * 1e9))
        b.FromNanoseconds(int(end * 1e9))
        req = assets_pb2.GetTelemetryRequest(asset_id=asset_id, metric="pressure_bar", start=a, end=b)
        (series,) = stub.GetTelemetry(req, timeout=30).series
        return [(s.time_unix_ms / 1000.0, s.value) for s in series.samples]
    finally:
        channel.close()


def read(label) -> str:
    """A label's text as a person reads it (rich text rendered, no-break spaces as spaces)."""
    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText().replace("\xa0", " ")


def test_pressure_chart_has_a_fixed_scale_a_limit_the_value_under_the_cursor_and_a_range(qtbot, backend):
    window = ConsoleHarness(backend.address, size=(1700, 1000)).start()
    try:
        qtbot.waitUntil(lambda: window.assets.total() > 5900, timeout=30000)
        sensor = sorted(
            r.id for r in window.assets.records() if r.kind == "water_sensor" and r.status == "ok"
        )[0]
        window.detail_ctl.select(sensor)
        chart = window.detail.chart
        qtbot.waitUntil(lambda: chart.sample_count("pressure_bar") > 50, timeout=30000)
        plot, _curve = chart._curves["pressure_bar"]
        qtbot.waitUntil(lambda: "now" in chart.now_label.text(), timeout=10000)

        low, high = chart.y_range("pressure_bar")
        span = PRESSURE_SCALE[1] - PRESSURE_SCALE[0]
        assert abs(low - PRESSURE_SCALE[0]) <= 0.05 * span and abs(high - PRESSURE_SCALE[1]) <= 0.05 * span
        assert chart.limit_values("pressure_bar") == [LOW_PRESSURE]
        # The dashed line is drawn across the plot at that level, in the limit colour.
        dashed = [
            i
            for i in plot.items
            if isinstance(i, pg.PlotDataItem) and i.opts["pen"].style() == Qt.PenStyle.DashLine
        ]
        assert len(dashed) == 1 and set(dashed[0].getData()[1]) == {LOW_PRESSURE}
        assert "low pressure 2.50 bar" in read(chart.now_label)
        now = float(re.search(r"Pressure now (\d+\.\d+) bar", read(chart.now_label)).group(1))
        recent = [v for _t, v in backend_pressure(backend.address, sensor, time.time() - 120, time.time())]
        assert min(recent) - 0.05 <= now <= max(recent) + 0.05

        # The mouse over the middle of the plot: the sample there, as the backend has it.
        view = chart.glw
        centre = plot.vb.sceneBoundingRect().center()
        at = view.mapFromScene(centre)
        QTest.mouseMove(view.viewport(), at)
        qtbot.waitUntil(lambda: "Pressure" in chart.cursor_label.text(), timeout=5000)
        t = plot.vb.mapSceneToView(view.mapToScene(at)).x()
        samples = backend_pressure(backend.address, sensor, t - 60, t + 60)
        expected = min(samples, key=lambda s: abs(s[0] - t))[1]
        shown = float(re.search(r"Pressure (\d+\.\d+) bar", chart.cursor_label.text()).group(1))
        assert abs(shown - expected) <= 0.006, (chart.cursor_label.text(), expected)
        if os.environ.get("VIGIE_SHOTS"):  # for the report: not part of the check
            chart.grab().save(os.path.join(os.environ["VIGIE_SHOTS"], "telemetry-chart.png"))

        # 6 hours: two steps down in the range chooser, and the history goes back that far.
        chart.range_box.setFocus()
        QTest.keyClick(chart.range_box, Qt.Key.Key_Down)
        QTest.keyClick(chart.range_box, Qt.Key.Key_Down)
        assert chart.range_box.currentText() == "6 h"
        qtbot.waitUntil(
            lambda: (
                chart.sample_count("pressure_bar")
                and chart._data["pressure_bar"][0][0] < time.time() - 5 * 3600
            ),
            timeout=30000,
        )
        shown_from = chart._curves["pressure_bar"][0].vb.viewRange()[0][
            0
        ]  # the plot made for the new history
        assert shown_from < time.time() - 5.5 * 3600  # linked plots align by pixels: about 6 h
        QTest.mouseMove(view.viewport(), QPoint(2, 2))  # leave the plots
    finally:
        window.close()
