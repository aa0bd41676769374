"""Unit costs: the CPU-speed figures that tests used to assert (tests must hold on a loaded
machine, so speed is measured here and printed instead). Each line names the test it replaces.

- a synthetic camera frame, 640x360 (tests/unit/test_synthetic_video.py asserted < 20 ms);
- alarm engine raise+clear pairs per second (tests/unit/test_alarm_engine.py asserted > 5,000/s);
- generating a city of 50,000 lights (tests/unit/test_simulator_city.py asserted < 3 s);
- backend start and restart on the same data dir until it answers (tests asserted restart < 30 s);
- ListAssets of 100 assets (tests/api/test_cameras_catalogue.py asserted < 1 s);
- GetTelemetry over 31 days at 100,000 points (or the backend's cap), and what it does to other
  callers' GetAsset latency (tests/api/test_telemetry_limits.py prints it).

Login and revocation delay are in bench/command_bench.py, alarm delivery in bench/alarm_bench.py.
Exits non-zero when a measurement is missing."""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from bench.common import open_channel, require, run_main
from vigie.app.backend_process import BackendProcess
from vigie.backend.adapters.simulator.city import generate_city
from vigie.backend.adapters.simulator.video import SyntheticCamera
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Asset, Kind
from vigie.v1 import assets_pb2, assets_pb2_grpc


def ms(values: list[float], q: float) -> float:
    values = sorted(values)
    return 1000 * values[min(len(values) - 1, int(q * len(values)))]


def frame_cost() -> None:
    cam = SyntheticCamera("cam-0006", "Bench", 640, 360)
    t = time.time()
    cam.render(t)  # warm
    costs = []
    for i in range(60):
        t0 = time.perf_counter()
        cam.render(t + i / 15)
        costs.append(time.perf_counter() - t0)
    print(f"  synthetic frame 640x360: median {ms(costs, 0.5):.1f} ms, p95 {ms(costs, 0.95):.1f} ms")


def engine_rate() -> None:
    e = AlarmEngine(history=1000)
    asset = Asset("d", Kind.ACCESS_POINT, "D", "Centre-Ville", 47.32, 5.04)
    t0 = time.perf_counter()
    for i in range(20_000):
        e.raise_alarm(f"d:{i}", asset, "x", 3, "m", float(i))
        e.clear(f"d:{i}", float(i))
    rate = 20_000 / (time.perf_counter() - t0)
    print(f"  alarm engine: {rate:,.0f} raise+clear pairs/s")


def city_time() -> None:
    t0 = time.perf_counter()
    city = generate_city(seed=3, lights=50_000)
    took = time.perf_counter() - t0
    require(sum(a.kind is Kind.STREET_LIGHT for a in city.assets) == 50_000, "the city has not 50,000 lights")
    print(f"  city of 50,000 lights generated in {took:.2f} s")


def answers(address: str) -> float:
    """Seconds until the backend at `address` answers a logged-in ListAssets."""
    t0 = time.perf_counter()
    with open_channel(address) as ch:
        assets_pb2_grpc.AssetServiceStub(ch).ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=60)
    return time.perf_counter() - t0


def backend_costs() -> None:
    data = tempfile.mkdtemp(prefix="vigie-bench-")
    backend = BackendProcess(["--demo-users", "--data-dir", data, "--log-level", "WARNING"])
    t0 = time.perf_counter()
    backend.start()
    first = answers(backend.address)
    start_s = time.perf_counter() - t0
    try:
        backend.stop()
        t0 = time.perf_counter()
        backend.start()
        answers(backend.address)
        restart_s = time.perf_counter() - t0
        print(
            f"  backend start until it answers: {start_s:.2f} s (first login + ListAssets {first:.2f} s); "
            f"restart on the same data dir: {restart_s:.2f} s"
        )
        with open_channel(backend.address) as ch:
            stub = assets_pb2_grpc.AssetServiceStub(ch)
            lists = []
            for _ in range(50):
                t0 = time.perf_counter()
                resp = stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=100), timeout=10)
                lists.append(time.perf_counter() - t0)
            require(len(resp.assets) == 100, "ListAssets did not return 100 assets")
            print(f"  ListAssets, 100 assets: p50 {ms(lists, 0.5):.1f} ms, max {max(lists) * 1000:.1f} ms")
            telemetry(stub)
    finally:
        backend.stop()


def telemetry(stub: assets_pb2_grpc.AssetServiceStub) -> None:
    sensor = stub.ListAssets(
        assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.WATER_SENSOR], page_size=1), timeout=10
    ).assets[0]
    aid = sensor.id

    def other_callers(seconds: float) -> list[float]:
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            stub.GetAsset(assets_pb2.GetAssetRequest(id=aid), timeout=10)
            out.append(time.perf_counter() - t0)
        return out

    idle = other_callers(2.0)
    start = Timestamp()
    start.FromSeconds(int(time.time()) - 31 * 86400 + 60)  # the longest range allowed
    big: list[float] = []
    points = [0]
    busy: list[float] = []
    errors: list[BaseException] = []
    asked = 100_000
    try:
        stub.GetTelemetry(
            assets_pb2.GetTelemetryRequest(asset_id=aid, start=start, max_points=asked), timeout=60
        )
    except grpc.RpcError as e:  # a backend that caps the points says so: ask for its cap
        require(e.code() == grpc.StatusCode.INVALID_ARGUMENT, f"GetTelemetry failed: {e}")
        asked = 10_000
        print(f"  (GetTelemetry refuses 100,000 points: {e.details()!r}; asking for {asked:,})")

    def heavy() -> None:
        try:
            _heavy()
        except BaseException as e:
            errors.append(e)

    def _heavy() -> None:
        while len(big) < 10:
            t0 = time.perf_counter()
            resp = stub.GetTelemetry(
                assets_pb2.GetTelemetryRequest(asset_id=aid, start=start, max_points=asked), timeout=60
            )
            big.append(time.perf_counter() - t0)
            points[0] = sum(len(s.samples) for s in resp.series)

    worker = threading.Thread(target=heavy)
    worker.start()
    while worker.is_alive():
        busy.extend(other_callers(0.2))
    worker.join()
    require(not errors, f"GetTelemetry failed: {errors[:1]}")
    require(big and points[0] > 0, "GetTelemetry returned nothing")
    print(
        f"  GetTelemetry, 31 days, max {asked:,} points ({points[0]:,} samples returned): "
        f"median {ms(big, 0.5):.0f} ms, max {max(big) * 1000:.0f} ms"
    )
    print(
        f"  another caller's GetAsset: idle p50 {ms(idle, 0.5):.1f} ms p99 {ms(idle, 0.99):.1f} ms; "
        f"during those GetTelemetry calls p50 {ms(busy, 0.5):.1f} ms p99 {ms(busy, 0.99):.1f} ms "
        f"max {max(busy) * 1000:.0f} ms (mean {statistics.mean(busy) * 1000:.1f} ms)"
    )


def body() -> None:
    print("unit costs (CPU speed: figures, the tests no longer assert them; 2 cores, shared):")
    frame_cost()
    engine_rate()
    city_time()
    backend_costs()


if __name__ == "__main__":
    sys.exit(run_main(body))
