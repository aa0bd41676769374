"""Procedural telemetry: history equals live, bounded length, anomalies visible."""

from __future__ import annotations

import numpy as np

from vigie.backend.adapters.simulator import CitySimulator, telemetry
from vigie.backend.adapters.simulator.telemetry import Anomaly, grid_indices, series
from vigie.backend.domain.assets import Kind, Status

T0 = 1_750_000_000.0  # a fixed instant keeps the tests independent of today's daylight


def test_every_kind_has_metrics_and_values() -> None:
    for kind, infos in telemetry.METRICS.items():
        assert infos
        for info in infos:
            (s,) = series(kind, 42, info.name, T0 - 3600, T0, 500, {"fleet": "police"})
            assert len(s.times) == len(s.values) > 0
            assert np.isfinite(s.values).all()
            assert s.times.dtype == np.float64


def test_history_equals_live_on_the_same_grid() -> None:
    (hist,) = series(Kind.WATER_SENSOR, 7, "pressure_bar", T0 - 600, T0, 10_000)
    for k in (-60, -13, 0):
        t = T0 + k * 5.0
        (live,) = series(Kind.WATER_SENSOR, 7, "pressure_bar", t, t, 1)
        assert live.times.tolist() == [t]
        assert live.values[0] == hist.values[hist.times == t][0]
    # A later window overlapping the earlier one agrees on every shared point.
    (later,) = series(Kind.WATER_SENSOR, 7, "pressure_bar", T0 - 300, T0 + 300, 10_000)
    shared = np.intersect1d(hist.times, later.times)
    assert len(shared) == 61
    assert np.array_equal(
        hist.values[np.isin(hist.times, shared)], later.values[np.isin(later.times, shared)]
    )
    assert (hist.times % 5.0 == 0).all()


def test_simulator_history_matches_live() -> None:
    sim = CitySimulator(seed=1, lights=100)
    (hist,) = sim.telemetry("sig-0001", "vehicles_per_min", T0 - 3600, T0, 100_000)
    (live,) = sim.telemetry("sig-0001", "vehicles_per_min", T0, T0, 10)
    assert hist.values[-1] == live.values[0]
    assert len(sim.telemetry("wat-001", "", T0 - 60, T0, 100)) == 2
    assert sim.telemetry("unknown", "", T0 - 60, T0, 100) == []
    assert [m.name for m in sim.metrics("veh-pol-01")] == ["speed_kmh"]


def test_max_points_respected() -> None:
    for max_points in (1, 7, 100, 999):
        (s,) = series(Kind.STREET_LIGHT, 3, "power_w", T0 - 7 * 86400, T0, max_points)
        assert 0 < len(s.times) <= max_points
    k = grid_indices(5.0, 0.0, 1000.0, 50)
    assert len(k) <= 50 and (np.diff(k) == np.diff(k)[0]).all()


def test_water_pressure_low_anomaly_visible() -> None:
    start = T0 - 1800
    anomaly = Anomaly(start, None, Status.WARNING, "pressure low")
    (normal,) = series(Kind.WATER_SENSOR, 9, "pressure_bar", T0 - 3600, T0, 10_000)
    (low,) = series(Kind.WATER_SENSOR, 9, "pressure_bar", T0 - 3600, T0, 10_000, anomalies=[anomaly])
    before = normal.times < start
    assert np.array_equal(normal.values[before], low.values[before])
    assert (low.values[normal.times > start + 900] < normal.values[normal.times > start + 900] - 1.0).all()
    assert 3.0 < normal.values.mean() < 5.0


def test_offline_gap_omits_samples() -> None:
    outage = Anomaly(T0 - 1200, T0 - 600, Status.OFFLINE, "stream lost")
    (s,) = series(Kind.CAMERA, 11, "bitrate_kbps", T0 - 1800, T0, 10_000, anomalies=[outage])
    assert not ((s.times >= T0 - 1200) & (s.times < T0 - 600)).any()
    assert (s.times < T0 - 1200).any() and (s.times >= T0 - 600).any()
    assert np.isfinite(s.values).all()


def test_street_light_on_at_night_only() -> None:
    day = T0 - (T0 % 86400) + 11 * 3600  # 13:00 in Paris in June
    night = day + 12 * 3600
    attrs = {"rated_w": "70", "level_pct": "50"}
    (d,) = series(Kind.STREET_LIGHT, 1, "power_w", day, day, 1, attrs)
    (n,) = series(Kind.STREET_LIGHT, 1, "power_w", night, night, 1, attrs)
    assert d.values[0] < 2 and 30 < n.values[0] < 40


def test_simulator_anomalies_reach_telemetry() -> None:
    sim = CitySimulator(seed=1, lights=100)
    bad = next(a for a in sim.city.assets if a.status is Status.OFFLINE)
    from vigie.backend.domain.revlog import AssetStore

    sim.begin(AssetStore(), T0)
    (anomaly,) = sim.anomalies(bad.id)
    assert anomaly.status is Status.OFFLINE
    metric = sim.metrics(bad.id)[0].name
    (s,) = sim.telemetry(bad.id, metric, anomaly.start, T0, 10_000)
    assert len(s.times) == 0
