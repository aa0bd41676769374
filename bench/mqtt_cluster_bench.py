"""The whole path of issue 16: simulated devices over MQTT -> NATS's MQTT listener -> JetStream ->
2 backend replicas -> 20 watching clients, on this machine.

One nats-server (JetStream with `sync_interval: always` unless `--sync default`, its MQTT
listener, its monitoring port), the city as MQTT devices on that listener (`vigie-devices
--lights N`, 8 connections: each is a JetStream-backed MQTT session that subscribes one wildcard
for its devices' commands, docs/devices.md), two replicas `vigie-backend --bus ... --devices
mqtt://...` (each with its own MQTT client id and data dir; the leader's MQTT adapter takes the
devices' states into the bucket, both replicas follow it), and 20 clients on `WatchAssets`, 10 on
each replica, in 4 processes.

Phases: steady (every device one update per 10 s: devices/10 per second), then bursts on top of it
(`--bursts`: `1x` is as much again as the steady rate, a number is updates/s), each measured for
`--seconds`. Each phase runs its own vigie-devices (the rate is its start flag; its initial states
and their backlog drain first, not measured). Per phase: the updates/s JetStream stored (the
devices' retained states, the bucket), the rate each client received (only updates made during
the phase), the fan-out latency p50/p99/max from a state's `time` (stamped by the device model as
it makes the change, just before the MQTT publish is queued) to a client receiving it, each
replica's, nats-server's and the devices' CPU (% of one core) and peak RSS, the clients' CPU, and
whether a replica fell behind the bucket. The highest phase whose every client received >= 95 %
of the asked rate, with p99 under 2 s and no replica behind, is the maximum sustained rate.

    python bench/mqtt_cluster_bench.py                      # 50,000 lights (~51,000 devices)
    python bench/mqtt_cluster_bench.py --lights 5000 --seconds 10     # a quick check
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BenchError, process_cpu_seconds, require, rss_mb, run_main, token_for  # noqa: E402
from bench.nats_cluster import Cluster  # noqa: E402
from bench.watch_phases import (  # noqa: E402
    NOT_YET,
    STOP,
    PhaseFigures,
    phase_figures,
    spread,
    start_devices,
    watcher,
)

KEEP_UP = 0.95  # a client keeps up when it received this share of the asked rate
P99_LIMIT_S = 2.0
DRAINED_S = 2.0  # a start-up backlog has drained once every client's last change is younger than this
SAMPLE_S = 0.5  # memory is sampled this often during a phase (its peak is reported)


def parse_bursts(text: str, steady: float) -> list[float]:
    """`1x,2x,5000`: updates/s on top of the steady rate (`Nx`: N times the steady rate)."""
    out = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        out.append(float(item[:-1]) * steady if item.endswith("x") else float(item))
    require(all(x > 0 for x in out), f"--bursts: every burst must be above 0 ({text!r})")
    return out


@dataclass
class Phase:
    """What one phase measured, beside the clients' figures."""

    index: int
    asked: float
    wall: float = 0.0
    devices_start_s: float = 0.0  # vigie-devices: spawned -> every initial state acknowledged
    drained: bool = False
    drain_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core over the window
    rss: dict[str, float] = field(default_factory=dict)  # peak MB over the window
    stored: dict[str, float] = field(default_factory=dict)  # JetStream messages stored/s per stream
    behind: dict[str, int] = field(default_factory=dict)  # "fell behind" during the window, per replica
    load: float = 0.0  # the machine's 1-minute load average at the end of the window
    leases: dict[str, int] = field(default_factory=dict)  # times each replica took the lease, by its end
    figures: PhaseFigures | None = None


class Meter:
    """CPU (% of one core) and peak RSS (MB) of named processes over one window; `groups` sum
    several processes under one name (the client processes), CPU only."""

    def __init__(self, pids: dict[str, int], groups: dict[str, list[int]]) -> None:
        self.pids, self.groups = pids, groups
        self.peak = dict.fromkeys(pids, 0.0)
        self.cpu0 = self._cpu()
        self.t0 = time.monotonic()

    def _cpu(self) -> dict[str, float]:
        cpu = {k: process_cpu_seconds(p) for k, p in self.pids.items()}
        cpu.update({k: sum(process_cpu_seconds(p) for p in ps) for k, ps in self.groups.items()})
        return cpu

    def sample(self) -> None:
        for k, p in self.pids.items():
            self.peak[k] = max(self.peak[k], rss_mb(p))

    def stop(self) -> tuple[float, dict[str, float], dict[str, float]]:
        self.sample()
        wall = time.monotonic() - self.t0
        cpu1 = self._cpu()
        return wall, {k: 100 * (cpu1[k] - self.cpu0[k]) / wall for k in cpu1}, dict(self.peak)


def write_registry(path: Path, city: list[str]) -> int:
    """The city's devices file for the replicas; returns how many devices it registers."""
    subprocess.run(
        [sys.executable, "-m", "vigie.devices", "--write-registry", str(path), *city], cwd=ROOT, check=True
    )
    return len(json.loads(path.read_text())["devices"])


def wait_drained(lag, clients: int, minimum: float, limit: float, alive) -> tuple[bool, float]:
    """Wait at least `minimum` s, then until every client's last change is younger than DRAINED_S
    (at most `limit` s in all). Returns (drained, seconds waited)."""
    t0 = time.monotonic()
    while True:
        alive()
        waited = time.monotonic() - t0
        if waited >= minimum and all(lag[k] < DRAINED_S for k in range(clients)):
            return True, waited
        if waited >= limit:
            return False, waited
        time.sleep(0.2)  # polling the clients' shared lag under a deadline


def body(args: argparse.Namespace) -> None:
    city = ["--seed", "1", "--lights", str(args.lights), "--vehicles", "0"]
    cluster = Cluster(args.sync == "always", mqtt=True)
    ctx = mp.get_context("spawn")
    phase = ctx.Value("i", 0)
    since = ctx.Value("d", 0.0)  # wall time the measured phase began
    ready = ctx.Semaphore(0)
    lag = ctx.Array("d", [NOT_YET] * args.clients, lock=False)
    out = ctx.Queue()
    procs: list = []
    devices = None
    phases: list[Phase] = []
    try:
        registry = cluster.dir / "devices.json"
        count = write_registry(registry, city)
        steady = count / 10.0
        rates = [steady, *(steady + extra for extra in parse_bursts(args.bursts, steady))]
        cluster.start_server()
        print(
            f"mqtt cluster bench: {count} devices (--lights {args.lights}) over {args.connections} MQTT"
            f" connections -> nats-server (JetStream, sync_interval: {args.sync}; MQTT listener) -> 2 replicas"
            f" -> {args.clients} clients in {args.client_procs} processes; {os.cpu_count()} cores;"
            f" files in {cluster.dir}",
            flush=True,
        )

        def alive() -> None:
            cluster.check_alive()
            if devices is not None and devices.proc is not None:
                require(devices.proc.poll() is None, f"vigie-devices exited ({devices.proc.returncode})")

        failure: BenchError | None = None
        try:
            for i, rate in enumerate(rates, start=1):
                p = Phase(i, rate)
                t = time.monotonic()
                devices = start_devices(cluster.mqtt_url, city, rate, args.connections, args.start_timeout)
                p.devices_start_s = time.monotonic() - t
                assert devices.proc is not None
                if i == 1:
                    mqtt = ["--devices", cluster.mqtt_url, "--devices-file", str(registry)]
                    cluster.start_replicas(
                        lambda name, mqtt=mqtt: [*mqtt, "--mqtt-client-id", f"vigie-bench-{name}"]
                    )
                    tokens = {r.address: token_for(r.address) for r in cluster.replicas}
                    targets = [
                        (a, tokens[a]) for a in (cluster.replicas[k % 2].address for k in range(args.clients))
                    ]
                    firsts = np.cumsum([0, *spread(args.clients, args.client_procs)])
                    procs = [
                        ctx.Process(
                            target=watcher, args=(targets[a:b], int(a), phase, since, lag, ready, out)
                        )
                        for a, b in zip(firsts[:-1], firsts[1:], strict=True)
                    ]
                    for proc in procs:
                        proc.start()
                    for _ in range(args.clients):
                        require(ready.acquire(timeout=300), "a client got no snapshot within 300 s")
                p.drained, p.drain_s = wait_drained(lag, args.clients, args.warmup, args.drain, alive)
                a, b = cluster.replicas
                behind0 = {r.name: r.behind() for r in cluster.replicas}
                seq0 = cluster.stream_last_seqs()
                meter = Meter(
                    {"a": a.proc.pid, "b": b.proc.pid, "nats": cluster.nats.pid, "devices": devices.proc.pid},
                    {"clients": [proc.pid for proc in procs]},
                )
                since.value = time.time()
                phase.value = i
                end = time.monotonic() + args.seconds
                while time.monotonic() < end:
                    alive()
                    meter.sample()
                    time.sleep(SAMPLE_S)  # the measured window runs in the other processes
                phase.value = 100 + i  # between phases: not counted
                p.wall, p.cpu, p.rss = meter.stop()
                p.load = os.getloadavg()[0]
                seq1 = cluster.stream_last_seqs()
                p.stored = {k: (v - seq0.get(k, 0)) / p.wall for k, v in seq1.items() if v > seq0.get(k, 0)}
                p.behind = {r.name: r.behind() - behind0[r.name] for r in cluster.replicas}
                p.leases = {r.name: r.leaderships() for r in cluster.replicas}
                devices.stop()
                devices = None
                phases.append(p)
                print(f"phase {i} ({rate:,.0f}/s asked) measured", flush=True)
        except BenchError as exc:
            if not phases:
                raise
            failure = exc  # the phases measured before it are still reported, then the run fails
        phase.value = STOP
        gathered = [out.get(timeout=300) for _ in procs]
    finally:
        phase.value = STOP
        if devices is not None:
            devices.stop()
        for proc in procs:
            proc.join(10)  # with its results unread (a failed run) it cannot exit by itself
            if proc.is_alive():
                proc.kill()
        cluster.stop()
    for p in phases:
        p.figures = phase_figures(gathered, p.index, p.wall, args.clients)
    report(phases, count, args)  # what was measured, even when the steady phase failed (then said below)
    if failure is not None:
        raise failure
    f = phases[0].figures
    require(f is not None and f.p50_ms is not None, "the steady phase: no update made in it reached a client")


def sustained(p: Phase) -> bool:
    f = p.figures
    assert f is not None
    return (
        min(f.per_client) >= KEEP_UP * p.asked
        and f.p99_ms is not None
        and f.p99_ms < P99_LIMIT_S * 1000
        and not any(p.behind.values())
    )


def report(phases: list[Phase], count: int, args: argparse.Namespace) -> None:
    print(
        f"\n{count} MQTT devices -> NATS MQTT listener -> JetStream -> 2 replicas -> {args.clients} WatchAssets"
        f" clients ({args.seconds:g} s per phase)"
    )
    print(
        f"{'phase':>5} {'asked/s':>8} {'client/s min':>12} {'mean':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'behind A/B':>10}  {'stored/s: retained states':>25} {'bucket':>7} {'MQTT QoS1':>9}"
    )
    for p in phases:
        f = p.figures
        assert f is not None
        lat = (
            f"{f.p50_ms:>8.0f} {f.p99_ms:>8.0f} {f.max_ms:>8.0f}"
            if f.p50_ms is not None and f.p99_ms is not None and f.max_ms is not None
            else f"{'-':>8} {'-':>8} {'-':>8}"
        )
        note = "" if sustained(p) else "  (not sustained)"
        if f.p50_ms is None:
            note += " (nothing made in the phase arrived within it)"
        if not p.drained:
            note += f" (start-up backlog not drained after {p.drain_s:.0f} s)"
        print(
            f"{p.index:>5} {p.asked:>8.0f} {min(f.per_client):>12.0f} {np.mean(f.per_client):>7.0f} {lat}"
            f" {p.behind['a']:>5}/{p.behind['b']:<4}  {p.stored.get('$MQTT_rmsgs', 0):>25.0f}"
            f" {p.stored.get('KV_vigie_assets', 0):>7.0f} {p.stored.get('$MQTT_msgs', 0):>9.0f}{note}"
        )
    print(
        f"\n{'phase':>5} {'CPU A %':>7} {'CPU B %':>7} {'RSS A MB':>8} {'RSS B MB':>8} {'nats %':>6} {'nats MB':>7}"
        f" {'devices %':>9} {'devices MB':>10} {'devices start s':>15} {'clients %':>9} {'load':>5} {'leases A/B':>10}"
    )
    for p in phases:
        print(
            f"{p.index:>5} {p.cpu['a']:>7.0f} {p.cpu['b']:>7.0f} {p.rss['a']:>8.0f} {p.rss['b']:>8.0f}"
            f" {p.cpu['nats']:>6.0f} {p.rss['nats']:>7.0f} {p.cpu['devices']:>9.0f} {p.rss['devices']:>10.0f}"
            f" {p.devices_start_s:>15.1f} {p.cpu['clients']:>9.0f} {p.load:>5.1f} {p.leases['a']:>5}/{p.leases['b']:<4}"
        )
    print(
        "client/s: updates made during the phase that each client received during it; latency: from the"
        " state's `time` (stamped by the device model as it makes the change, before the MQTT publish is"
        " queued) to the client's receipt, over every such update of every client; stored/s: messages"
        " JetStream stored per second in the MQTT listener's retained-message stream ($MQTT_rmsgs), the"
        " asset bucket (KV_vigie_assets, the leader's writes) and the MQTT QoS 1 message stream ($MQTT_msgs);"
        " CPU: % of one core over the window; MB: peak RSS in the window (devices: its process, sampled"
        " after start-up); clients: the client processes together; load: the machine's 1-minute load"
        " average at the end of the phase; leases A/B: how many times each replica had taken the lease by"
        " then (A takes it first: a count above 1/0 means the lease moved and the other replica's MQTT"
        " adapter took the devices in)"
    )
    ok = [p for p in phases if sustained(p)]
    best = max((p.asked for p in ok), default=0.0)
    print(
        f"RESULT max sustained {f'{best:,.0f} updates/s' if ok else 'none of the phases'} from {count} MQTT devices"
        f" to {args.clients} clients on 2 replicas (every client >= {KEEP_UP:.0%} of the asked rate,"
        f" p99 < {P99_LIMIT_S:g} s, no replica behind)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--lights", type=int, default=50_000, help="street lights (vigie-devices --lights, 0-50000)"
    )
    p.add_argument("--bursts", default="1x,2x,3x", help="rates on top of the steady one: Nx or updates/s")
    p.add_argument("--seconds", type=float, default=30.0, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds at least before measuring a phase")
    p.add_argument("--drain", type=float, default=180.0, help="longest wait for a start-up backlog to drain")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--client-procs", type=int, default=4)
    p.add_argument("--connections", type=int, default=8, help="vigie-devices' MQTT connections")
    p.add_argument(
        "--start-timeout", type=float, default=600.0, help="longest wait for vigie-devices' initial states"
    )
    p.add_argument("--sync", choices=("always", "default"), default="always")
    args = p.parse_args()
    return run_main(lambda: body(args))


if __name__ == "__main__":
    sys.exit(main())
