"""One city time everywhere: the console's header clock and a camera's burned-in time agree in the
city's zone (here Asia/Tokyo), whatever the machine's own zone; bad zone names exit 2."""

from __future__ import annotations

import calendar
import subprocess
import sys
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.gui.console_harness import ConsoleHarness
from vigie.app import city_time
from vigie.backend.adapters.simulator.video import SyntheticCamera

TOKYO_OFFSET_S = 9 * 3600  # Asia/Tokyo is UTC+9 all year (no daylight saving time)
HEADER_FORMAT = "%a %d %b %H:%M:%S"
OVERLAY_FORMAT = "%d/%m/%Y %H:%M:%S"


def tokyo(fmt: str, t: float) -> str:
    """The expected text, from UTC plus Tokyo's fixed offset (not from any zone database)."""
    return time.strftime(fmt, time.gmtime(int(t) + TOKYO_OFFSET_S))


@pytest.fixture
def city_in_tokyo() -> Iterator[None]:
    city_time.set_zone("Asia/Tokyo")
    try:
        yield
    finally:
        city_time.set_zone(city_time.DEFAULT)


def test_header_clock_and_camera_overlay_show_the_same_city_time(qtbot, city_in_tokyo) -> None:
    # The clock needs no backend: its session only retries port 9, where nothing listens.
    harness = ConsoleHarness("127.0.0.1:9").start()
    try:
        start = time.time()

        shown_at: list[int] = []

        def shows_tokyo_time() -> bool:
            text = harness.window.clock.text()
            shown_at[:] = [
                s
                for s in range(int(start) - 1, int(time.time()) + 2)
                if f"{tokyo(HEADER_FORMAT, s)} JST" == text
            ]
            return bool(shown_at)

        qtbot.waitUntil(shows_tokyo_time, timeout=5000)
        header = harness.window.clock.text()
    finally:
        harness.close()
    # A picture taken at the second the header shows carries the same date and time.
    camera = SyntheticCamera("cam-tz", "Tokyo", 320, 180, tz=ZoneInfo("Asia/Tokyo"))
    overlay = camera.osd_time(shown_at[0])
    assert overlay == tokyo(OVERLAY_FORMAT, shown_at[0])
    assert overlay.split(" ")[1] == header.split(" ")[3]  # "Sat 05 Dec 21:18:07 JST": the time
    assert header.endswith(" JST"), "the header names the city's zone (issue 19, item 11)"


def test_overlay_burns_the_city_time_into_the_picture() -> None:
    # 15 January 2026, 09:00 UTC: 18:00 in Tokyo, 10:00 in Paris: full daylight in both, so the two
    # pictures differ only where the time is written (bottom right).
    t = float(calendar.timegm((2026, 1, 15, 9, 0, 0)))
    tokyo_cam = SyntheticCamera("cam-tz", "Same", 320, 180, tz=ZoneInfo("Asia/Tokyo"))
    paris_cam = SyntheticCamera("cam-tz", "Same", 320, 180, tz=ZoneInfo("Europe/Paris"))
    assert tokyo_cam.osd_time(t) == "15/01/2026 18:00:00"
    assert paris_cam.osd_time(t) == "15/01/2026 10:00:00"
    differ = np.argwhere(np.any(tokyo_cam.render(t) != paris_cam.render(t), axis=2))
    assert len(differ) > 0
    assert differ[:, 0].min() > 180 // 2 and differ[:, 1].min() > 320 // 3  # only the time stamp


def run_with_bad_zone(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command, "--time-zone", "Mars/Olympus_Mons"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unknown_time_zone_exits_2_with_the_reason() -> None:
    for done in (run_with_bad_zone("-m", "vigie.app"), run_with_bad_zone("-m", "vigie.backend")):
        assert done.returncode == 2
        assert "unknown time zone 'Mars/Olympus_Mons'" in done.stderr


class _Series:
    """A metric's history as the chart takes it (widgets/charts/telemetry_chart.py SeriesLike)."""

    def __init__(self, times: np.ndarray) -> None:
        self.metric, self.label, self.unit = "flow", "Flow", "l/s"
        self.times = times
        self.values = np.linspace(0.0, 1.0, len(times))


def test_the_telemetry_chart_time_axis_shows_the_city_time(qtbot, city_in_tokyo) -> None:
    from vigie.app.cli import apply_time_zone, parse_args
    from vigie.widgets.charts.telemetry_chart import TelemetryChart

    apply_time_zone(parse_args(["--time-zone", "Asia/Tokyo"]))  # what `vigie` does at start
    try:
        chart = TelemetryChart()
        qtbot.addWidget(chart)
        t = float(calendar.timegm((2026, 1, 15, 9, 0, 0)))  # 18:00 in Tokyo
        chart.set_series([_Series(np.linspace(t - 1800, t + 1800, 121))])
        chart.resize(800, 300)
        chart.show()
        axis = chart._curves["flow"][0].getAxis("bottom")
        qtbot.waitUntil(lambda: getattr(axis, "zoomLevel", None) is not None, timeout=5000)
        spec = next(s for s in axis.zoomLevel.tickSpecs if s.format and "%H" in s.format)
        label = axis.tickStrings([t], 1.0, spec.spacing)[0]
        assert label == tokyo(spec.format, t) and label.startswith("18:00"), label
    finally:
        TelemetryChart.utc_offset_west = None
