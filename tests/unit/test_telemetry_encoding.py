"""GetTelemetry's samples are written in wire format by numpy: they must decode to exactly the
Sample messages protobuf itself would build from the same times and values."""

from __future__ import annotations

import numpy as np

from vigie.backend.adapters.base import Series
from vigie.backend.domain.assets import MetricInfo
from vigie.backend.services.assets import _series_to_pb
from vigie.v1 import assets_pb2

TIMES_MS = [0, 1, 127, 128, 16_383, 16_384, 1_764_806_400_123, 2**40, -5_000, 2**62]
VALUES = [0.0, -1.5, 1e300, 3.25, float("inf"), -0.0, 5e-324, 42.0, 7.0, 1.0]


def test_numpy_encoded_samples_equal_protobuf_samples():
    info = MetricInfo("pressure_bar", "bar", "Pressure", 5.0)
    times = np.array(TIMES_MS, dtype=np.float64) / 1000.0
    (series,) = _series_to_pb([Series(info, times, np.array(VALUES))])
    expected = assets_pb2.MetricSeries(
        metric="pressure_bar",
        unit="bar",
        label="Pressure",
        samples=[
            assets_pb2.Sample(time_unix_ms=int(t), value=v)
            for t, v in zip(np.array(TIMES_MS, dtype=np.float64).astype(np.int64), VALUES, strict=True)
        ],
    )
    assert series == expected
    assert series.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)


def test_an_empty_series_has_no_samples():
    info = MetricInfo("power_w", "W", "Power", 5.0)
    (series,) = _series_to_pb([Series(info, np.empty(0), np.empty(0))])
    assert series == assets_pb2.MetricSeries(metric="power_w", unit="W", label="Power")
