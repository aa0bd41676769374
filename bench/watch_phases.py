"""Watching clients for the device benchmarks that run in phases (mqtt_bench.py,
mqtt_cluster_bench.py): processes holding WatchAssets streams, which count every change a device
made during the current phase and its latency from the device's report time, and the simulated
city as MQTT devices (vigie-devices) started at a given change rate.

The benchmark drives the clients through shared values: `phase` (the phase being measured; 100+i
between phases, -1 to stop) and `since` (the wall time the phase began: changes whose `last_seen`
is older were made before it and are not counted). Each stream also keeps `lag[k]`, the age of the
last change it received, so that a benchmark can wait until a start-up backlog has drained."""

from __future__ import annotations

import threading
import time
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.common import BenchError, require

if TYPE_CHECKING:
    from tests.mqtt.helpers import DevicesProcess

STOP = -1
NOT_YET = 1e9  # a stream's lag before it received any change


def spread(n: int, parts: int) -> list[int]:
    """`n` streams over `parts` processes, as evenly as possible (no empty part)."""
    return [x for x in (n // parts + (1 if i < n % parts else 0) for i in range(parts)) if x]


def watcher(targets: list[tuple[str, str]], first: int, phase, since, lag, ready, out) -> None:
    """A process holding one WatchAssets stream per (address, token) in `targets`; stream k is
    number `first + k` in `lag`. Latencies and counts by phase go to `out` at the end."""
    from bench.common import token_channel
    from vigie.v1 import assets_pb2, assets_pb2_grpc

    n = len(targets)
    samples: list[dict[int, array]] = [{} for _ in range(n)]
    counts: list[dict[int, int]] = [{} for _ in range(n)]
    calls = []
    errors: list[str] = []

    def read(k: int, address: str, token: str) -> None:
        stub = assets_pb2_grpc.AssetServiceStub(token_channel(address, token))
        call = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=0))
        calls.append(call)
        try:
            for msg in call:
                if msg.HasField("snapshot") and msg.snapshot.last:
                    ready.release()
                changes = msg.changes.changes
                if not changes:
                    continue
                now = time.time()
                p, t0 = phase.value, since.value
                lat = samples[k].setdefault(p, array("f"))
                got = 0
                reported = 0.0
                for c in changes:
                    t = c.asset.last_seen
                    reported = t.seconds + t.nanos * 1e-9
                    if reported >= t0:  # made in this phase (not a device's first, older state)
                        lat.append(now - reported)
                        got += 1
                lag[first + k] = now - reported
                counts[k][p] = counts[k].get(p, 0) + got
        except Exception as exc:  # cancelled at the end; anything else is reported
            if phase.value != STOP:
                errors.append(f"{address}: {exc!r}")

    threads = [threading.Thread(target=read, args=(k, *t), daemon=True) for k, t in enumerate(targets)]
    for t in threads:
        t.start()
    while phase.value != STOP:
        time.sleep(0.2)  # polling the shared stop flag, not a synchronisation of measured work
    for c in calls:
        c.cancel()
    for t in threads:
        t.join(10)
    out.put(
        ([{p: np.frombuffer(v, dtype=np.float32) for p, v in s.items()} for s in samples], counts, errors)
    )


@dataclass
class PhaseFigures:
    """What every client received during one phase (`None` latencies: nothing arrived)."""

    per_client: list[float]  # changes/s each client received that were made in the phase
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def phase_figures(gathered: list, i: int, wall: float, clients: int) -> PhaseFigures:
    """Phase `i`'s figures over every stream of every watcher process (`gathered` from `out`)."""
    errors = [e for _, _, errs in gathered for e in errs]
    require(not errors, f"client streams failed: {errors[:3]}")
    per_client = [c.get(i, 0) / wall for _, counts, _ in gathered for c in counts]
    require(len(per_client) == clients, f"phase {i}: {len(per_client)} of {clients} clients reported")
    parts = [s[i] for samples, _, _ in gathered for s in samples if i in s]
    lat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    if len(lat) == 0:
        return PhaseFigures(per_client, None, None, None)
    p50, p99, mx = (float(np.percentile(lat, q)) * 1000 for q in (50, 99, 100))
    return PhaseFigures(per_client, p50, p99, mx)


def start_devices(
    url: str, flags: list[str], rate: float, connections: int = 8, timeout: float = 600.0
) -> DevicesProcess:
    """vigie-devices at `rate` state changes a second (one `last_seen` refresh each, no other
    change, no telemetry or badges), once its initial states are acknowledged by the broker."""
    from tests.mqtt.helpers import DevicesProcess  # not in the client processes: it loads the test setup

    devices = DevicesProcess(
        url,
        *flags,
        "--quiet-city",
        "--change-rate",
        f"{rate:g}",
        "--telemetry-interval",
        "0",
        "--badge-rate",
        "0",
        "--connections",
        str(connections),
    )
    try:
        return devices.start(timeout=timeout)
    except (RuntimeError, TimeoutError) as exc:
        raise BenchError(
            f"vigie-devices at {rate:g}/s did not get its initial states acknowledged within {timeout:g} s: {exc}"
        ) from exc
