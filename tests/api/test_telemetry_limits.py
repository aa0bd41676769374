"""GetTelemetry is computed off the event loop and bounded in points: a 31-day request does not
stall the other callers, and past the bound the caller is told so."""

from __future__ import annotations

import statistics
import threading
import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc

DAYS_31 = 31 * 86400
CAP = 10_000  # points per series


def _big_request(asset_id: str, max_points: int) -> assets_pb2.GetTelemetryRequest:
    now = time.time()
    return assets_pb2.GetTelemetryRequest(
        asset_id=asset_id,
        start=Timestamp(seconds=int(now - DAYS_31 + 60)),
        end=Timestamp(seconds=int(now)),
        max_points=max_points,
    )


def _water_sensor(stub: assets_pb2_grpc.AssetServiceStub) -> str:
    req = assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.WATER_SENSOR], page_size=1)
    return stub.ListAssets(req, timeout=10).assets[0].id


def _latencies_ms(stub: assets_pb2_grpc.AssetServiceStub, asset_id: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        stub.GetAsset(assets_pb2.GetAssetRequest(id=asset_id), timeout=10)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def test_points_past_the_cap_are_refused_and_31_days_are_downsampled(backend):
    with open_channel(backend.address, user="viewer") as ch:
        stub = assets_pb2_grpc.AssetServiceStub(ch)
        sensor = _water_sensor(stub)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetTelemetry(_big_request(sensor, 100_000), timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details().startswith("max_points is 100000: it must be 0")
        resp = stub.GetTelemetry(_big_request(sensor, CAP), timeout=30)
        assert len(resp.series) == 2  # pressure and flow
        for s in resp.series:
            assert CAP * 0.9 < len(s.samples) <= CAP
            span_s = (s.samples[-1].time_unix_ms - s.samples[0].time_unix_ms) / 1000
            assert span_s > DAYS_31 * 0.99


def test_a_big_telemetry_request_does_not_stall_other_callers(make_backend):
    b = make_backend("--seed", "7").start()
    with open_channel(b.address, user="viewer") as ch, open_channel(b.address, user="viewer") as heavy_ch:
        stub = assets_pb2_grpc.AssetServiceStub(ch)
        heavy = assets_pb2_grpc.AssetServiceStub(heavy_ch)
        sensor = _water_sensor(stub)
        idle = statistics.median(_latencies_ms(stub, sensor, 60))
        running = threading.Event()
        stop = threading.Event()
        big_ms: list[float] = []
        errors: list[BaseException] = []

        def flood() -> None:
            try:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    future = heavy.GetTelemetry.future(_big_request(sensor, CAP), timeout=60)
                    running.set()
                    future.result()
                    big_ms.append((time.perf_counter() - t0) * 1000)
            except BaseException as exc:  # reported by the test below, never swallowed
                errors.append(exc)
                running.set()

        threads = [threading.Thread(target=flood) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            assert running.wait(30)
            loaded = _latencies_ms(stub, sensor, 100)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not errors, errors
        assert len(big_ms) >= 2, "the big requests ran while the small ones were measured"
        p90 = statistics.quantiles(loaded, n=10)[-1]
        print(
            f"GetAsset idle: median {idle:.1f} ms; beside 31-day telemetry: median"
            f" {statistics.median(loaded):.1f} ms, p90 {p90:.1f} ms, max {max(loaded):.1f} ms,"
            f" mean {statistics.fmean(loaded):.1f} ms; telemetry {statistics.median(big_ms):.0f} ms"
            f" each ({len(big_ms)} done)"
        )
        # Measured here: idle 0.6 ms; beside the flood, median 1.4-2.7 ms off the loop, 17.7-17.9 ms
        # (p90 36-62 ms) when computed on it. Generous for a loaded 2-core machine.
        assert statistics.median(loaded) < 8.0, (idle, loaded)
