"""MQTT device network benchmark: N simulated devices (vigie-devices) -> mosquitto -> the backend
(--devices mqtt://) -> C clients watching every asset (WatchAssets), on this machine.

Phases: a steady one at one update per device per 10 s (N/10 per second), then bursts at higher
rates. Each phase runs its own vigie-devices (the rate is a start flag), measured after its initial
states are out. Per phase: the end-to-end latency from the device's report time (the state's
`time`, set when the device publishes; only states made during the phase count) to the client's
receipt, p50/p99/max over every change every
client received; the rate each client received; the CPU (% of one core) and RSS of the backend,
the broker and the devices. "Sustained" is the highest rate whose every client kept up (>= 95 % of
the target) with p99 under 1 s. Clients are spread over --watch-procs processes so that reading
does not limit what is measured (their lag still counts in the latency).

    python bench/mqtt_bench.py [--devices 5000] [--clients 20] [--seconds 30] [--bursts 1000,2500,5000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BenchError,
    open_channel,
    process_cpu_seconds,
    require,
    rss_mb,
    run_main,
    token_for,
)
from bench.watch_phases import NOT_YET, STOP, phase_figures, spread, start_devices, watcher  # noqa: E402
from tests.mqtt.broker import Mosquitto, mosquitto_binary  # noqa: E402
from vigie.app.backend_process import BackendProcess  # noqa: E402

KEEP_UP = 0.95  # a client keeps up when it received this share of the target rate
P99_LIMIT_S = 1.0


def lights_for(devices: int, seed: int) -> int:
    from vigie.backend.adapters.simulator.city import generate_city

    fixed = len(generate_city(seed, 0, 0).assets)
    require(devices >= fixed, f"--devices must be at least {fixed} (the city's other devices)")
    return devices - fixed


def body(args: argparse.Namespace) -> None:
    if mosquitto_binary() is None:
        raise BenchError("mosquitto not installed: apt-get install mosquitto")
    lights = lights_for(args.devices, 1)
    city = ["--seed", "1", "--lights", str(lights), "--vehicles", "0"]
    tmp = Path(tempfile.mkdtemp(prefix="vigie-mqtt-bench-"))
    registry = tmp / "devices.json"
    subprocess.run(
        [sys.executable, "-m", "vigie.devices", "--write-registry", str(registry), *city], check=True
    )
    broker = Mosquitto().start()
    backend = BackendProcess(
        [
            "--devices",
            broker.url,
            "--devices-file",
            str(registry),
            "--demo-users",
            "--data-dir",
            str(tmp / "data"),
            "--log-level",
            "WARNING",
            "--history",
            "400000",
        ]
    )
    ctx = mp.get_context("spawn")
    phase = ctx.Value("i", 0)
    since = ctx.Value("d", 0.0)  # wall time the measured phase began
    ready = ctx.Semaphore(0)
    lag = ctx.Array("d", [NOT_YET] * args.clients, lock=False)
    out = ctx.Queue()
    procs = []
    devices = None
    try:
        backend.start()
        open_channel(backend.address).close()  # waits for the backend to serve
        targets = [(backend.address, token_for(backend.address))] * args.clients
        firsts = np.cumsum([0, *spread(args.clients, args.watch_procs)])
        procs = [
            ctx.Process(target=watcher, args=(targets[a:b], int(a), phase, since, lag, ready, out))
            for a, b in zip(firsts[:-1], firsts[1:], strict=True)
        ]
        for p in procs:
            p.start()
        for _ in range(args.clients):
            require(ready.acquire(timeout=120), "a client got no snapshot")
        rates = [args.devices / 10.0, *args.bursts]
        results = []
        pids = {"backend": backend.proc.pid, "broker": broker.proc.pid}  # type: ignore[union-attr]
        for i, rate in enumerate(rates, start=1):
            devices = start_devices(broker.url, city, rate)
            pids["devices"] = devices.proc.pid  # type: ignore[union-attr]
            time.sleep(args.warmup)  # the initial states and the first burst drain: not measured
            cpu0 = {k: process_cpu_seconds(p) for k, p in pids.items()}
            t0 = time.monotonic()
            since.value = time.time()
            phase.value = i
            time.sleep(args.seconds)  # the measured window (wall-clock duration of the phase)
            phase.value = 100 + i  # between phases: not counted
            wall = time.monotonic() - t0
            cpu = {k: 100 * (process_cpu_seconds(p) - cpu0[k]) / wall for k, p in pids.items()}
            mem = {k: rss_mb(p) for k, p in pids.items()}
            devices.stop()
            require(backend.proc.poll() is None, "the backend exited")  # type: ignore[union-attr]
            results.append((i, rate, wall, cpu, mem))
        phase.value = STOP
        gathered = [out.get(timeout=120) for _ in procs]
    finally:
        phase.value = STOP
        if devices is not None:
            devices.stop()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
        backend.stop()
        broker.stop()
    print(f"\nMQTT: {args.devices} devices -> mosquitto -> backend -> {args.clients} WatchAssets clients")
    print(
        f"{'phase':>6} {'target/s':>9} {'client/s min':>12} {'mean':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        f" {'backend %':>9} {'RSS MB':>7} {'broker %':>8} {'devices %':>9}"
    )
    sustained = 0.0
    last_cpu = 0.0
    for i, rate, wall, cpu, mem in results:
        f = phase_figures(gathered, i, wall, args.clients)
        per_client = f.per_client
        if f.p50_ms is None:  # nothing made during the phase arrived within it: far behind
            require(i > 1, "the steady phase: no change reached the clients")
            print(
                f"{i:>6} {rate:>9.0f} {'0':>12} {'0':>8} {'-':>7} {'-':>7} {'-':>7} {cpu['backend']:>9.1f}"
                f" {mem['backend']:>7.0f} {cpu['broker']:>8.1f} {cpu['devices']:>9.1f}  (nothing arrived in the phase)"
            )
            continue
        p50, p99, mx = f.p50_ms, f.p99_ms, f.max_ms
        assert p99 is not None and mx is not None
        ok = min(per_client) >= KEEP_UP * rate and p99 < P99_LIMIT_S * 1000
        if ok:
            sustained = max(sustained, rate)
        print(
            f"{i:>6} {rate:>9.0f} {min(per_client):>12.0f} {np.mean(per_client):>8.0f} {p50:>7.1f} {p99:>7.1f}"
            f" {mx:>7.0f} {cpu['backend']:>9.1f} {mem['backend']:>7.0f} {cpu['broker']:>8.1f} {cpu['devices']:>9.1f}"
            f"{'' if ok else '  (did not keep up)'}"
        )
        last_cpu = cpu["backend"] / max(1.0, np.mean(per_client))
    print(f"sustained: {sustained:.0f} updates/s to all {args.clients} clients (p99 < {P99_LIMIT_S:g} s)")
    print(
        f"backend CPU per update/s to {args.clients} clients (last measured phase): {last_cpu:.3f} % of a core; 50,000"
        f" devices at one update per 10 s (5,000/s) would need ~{last_cpu * 5000:.0f} % of a core for the backend"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=5000)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--watch-procs", type=int, default=4)
    p.add_argument("--seconds", type=float, default=30.0, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=8.0, help="seconds after the devices are up, not measured")
    p.add_argument(
        "--bursts", type=lambda s: [float(x) for x in s.split(",") if x], default=[1000.0, 2500.0, 5000.0]
    )
    args = p.parse_args()
    return run_main(lambda: body(args))


if __name__ == "__main__":
    sys.exit(main())
