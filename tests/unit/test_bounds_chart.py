"""The telemetry chart of an asset left selected for a whole shift keeps at most `max_points`
samples per metric (the newest), however many live samples arrive."""

from __future__ import annotations

import numpy as np

from vigie.app.models.records import Series
from vigie.widgets.charts.telemetry_chart import TelemetryChart


def _series(start: float, n: int) -> Series:
    times = start + np.arange(n, dtype=float)
    return Series("flow", "Flow", "l/s", times, times * 2.0)


def test_live_samples_keep_the_newest_max_points(qtbot):
    chart = TelemetryChart(max_points=1_000)
    qtbot.addWidget(chart)
    chart.set_series([_series(0.0, 500)])
    for k in range(100):  # 100 live messages of 50 samples each
        chart.append([_series(500.0 + 50 * k, 50)])
    assert chart.sample_count("flow") == 1_000
    assert chart._data["flow"][0][-1] == 500.0 + 50 * 100 - 1  # the newest sample is kept
