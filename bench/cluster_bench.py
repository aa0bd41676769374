"""The cluster on NATS JetStream (docs/cluster.md): device changes -> the leader replica -> the
JetStream KV bucket -> 2 replicas -> 20 watching clients (10 on each, in 4 processes).

For each asked change rate, on a fresh nats-server (JetStream, `sync_interval: always` unless
`--sync default`) and two
fresh replicas: per-replica CPU (% of one core) and RSS, the rate the clients received, the
fan-out latency p50/p99 from a device's change (its `last_seen`, stamped by the simulator when it
changes it) to a client receiving it, and whether a replica fell behind the bucket. The highest
rate every client received at >= 95 % with p99 under 2 s and no replica behind is the maximum
sustained rate. Then, at that rate, the failover: kill -9 the leader a client watches; the time
until the client, resumed on the other replica from its last revision, has its first message
(the console's resume), and until it sees a change the new leader made.

`--rates 2000,5000,10000`, `--seconds 20` (per rate). Prints a table and one `RESULT` line.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import queue
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BenchError,
    open_channel,
    process_cpu_seconds,
    require,
    rss_mb,
    run_main,
    token_channel,
    token_for,
)
from bench.nats_cluster import Cluster  # noqa: E402

CLIENTS = 20
CLIENT_PROCESSES = 4


def simulator_cluster(rate: int, sync_always: bool) -> Cluster:
    """A fresh server and two replicas whose leader's simulator changes `rate` devices a second."""
    return Cluster(sync_always).start(lambda _name: ["--quiet-city", "--change-rate", str(rate)])


def client_process(addresses: list[tuple[str, str]], seconds: float, out: mp.Queue) -> None:
    """Watch each (address, token) (threads), count changes and their latency over `seconds`."""
    import threading

    from vigie.v1 import assets_pb2, assets_pb2_grpc

    results: list[tuple[int, list[float]]] = []
    lock = threading.Lock()

    def watch(address: str, token: str) -> None:
        stub = assets_pb2_grpc.AssetServiceStub(token_channel(address, token))
        stream = stub.WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=seconds + 120)
        count, lat = 0, []
        end = None
        for msg in stream:
            if msg.WhichOneof("event") == "snapshot":
                continue
            now = time.time()
            if end is None:
                end = time.monotonic() + seconds
            for c in msg.changes.changes:
                count += 1
                if count % 10 == 0:  # a sample is enough, and cheaper to keep
                    seen = c.asset.last_seen.seconds + c.asset.last_seen.nanos / 1e9
                    lat.append((now - seen) * 1000)
            if time.monotonic() >= end:
                break
        stream.cancel()
        with lock:
            results.append((count, lat))

    threads = [threading.Thread(target=watch, args=a) for a in addresses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(results)


def measure(rate: int, seconds: float, sync_always: bool) -> dict[str, float]:
    cluster = simulator_cluster(rate, sync_always)
    try:
        tokens = {r.address: token_for(r.address) for r in cluster.replicas}
        addresses = [
            (addr, tokens[addr]) for addr in (cluster.replicas[i % 2].address for i in range(CLIENTS))
        ]
        per = CLIENTS // CLIENT_PROCESSES
        ctx = mp.get_context("spawn")
        q: mp.Queue = ctx.Queue()
        procs = [
            ctx.Process(target=client_process, args=(addresses[i * per : (i + 1) * per], seconds, q))
            for i in range(CLIENT_PROCESSES)
        ]
        cpu0 = [process_cpu_seconds(r.proc.pid) for r in cluster.replicas]
        t0 = time.monotonic()
        for p in procs:
            p.start()
        rss = [0.0, 0.0]
        results: list[tuple[int, list[float]]] = []
        deadline = time.monotonic() + seconds + 90
        while len(results) < CLIENTS:
            require(time.monotonic() < deadline, "clients did not finish")
            with contextlib.suppress(queue.Empty):  # sampling memory meanwhile
                results += q.get(timeout=1)
            rss = [max(m, rss_mb(r.proc.pid)) for m, r in zip(rss, cluster.replicas, strict=True)]
        wall = time.monotonic() - t0
        cpu = [
            100 * (process_cpu_seconds(r.proc.pid) - c) / wall
            for c, r in zip(cpu0, cluster.replicas, strict=True)
        ]
        for p in procs:
            p.join(30)
        counts = [c for c, _ in results]
        lat = sorted(x for _, ls in results for x in ls)
        if not lat:  # nothing arrived in the window: not sustained, said in the table
            lat = [float("inf")]
        return {
            "rate": rate,
            "received_min": min(counts) / seconds,
            "received_mean": statistics.mean(counts) / seconds,
            "p50": lat[len(lat) // 2],
            "p99": lat[int(len(lat) * 0.99)],
            "cpu_a": cpu[0],
            "cpu_b": cpu[1],
            "rss_a": rss[0],
            "rss_b": rss[1],
            "behind": cluster.behind(),
        }
    finally:
        cluster.stop()


def failover(rate: int, sync_always: bool) -> tuple[float, float]:
    """(resume s, new leader's first change s) after kill -9 of the leader a client watches."""
    from vigie.v1 import assets_pb2, assets_pb2_grpc

    cluster = simulator_cluster(rate, sync_always)
    try:
        a, b_addr = cluster.replicas[0].proc, cluster.replicas[1].address
        a_addr = cluster.replicas[0].address
        stub = assets_pb2_grpc.AssetServiceStub(open_channel(a_addr, "viewer"))
        stream = stub.WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=300)
        revision, epoch, changes = 0, "", 0
        for msg in stream:
            revision, epoch = msg.revision, msg.epoch
            changes += len(msg.changes.changes)
            if changes > 5 * rate:  # a few seconds of flow first
                break
        a.kill()
        t_kill, wall_kill = time.monotonic(), time.time()
        try:
            for msg in stream:
                if msg.changes.changes:
                    revision = msg.revision
        except Exception:  # grpc.RpcError: the dead replica's stream ends
            pass
        stub_b = assets_pb2_grpc.AssetServiceStub(open_channel(b_addr, "viewer"))
        resumed = stub_b.WatchAssets(
            assets_pb2.WatchAssetsRequest(after_revision=revision, epoch=epoch), timeout=120
        )
        resume = None
        for msg in resumed:
            kind = msg.WhichOneof("event")
            require(kind in ("changes", "heartbeat"), f"resumed with {kind}")
            if resume is None:
                resume = time.monotonic() - t_kill
            for c in msg.changes.changes:
                if c.asset.last_seen.seconds + c.asset.last_seen.nanos / 1e9 > wall_kill:
                    resumed.cancel()
                    return resume, time.monotonic() - t_kill
        raise BenchError("the resumed stream ended")
    finally:
        cluster.stop()


def body() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="2000,5000,10000")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument(
        "--sync",
        choices=("always", "default"),
        default="always",
        help="the server's sync_interval: always (production, docs/cluster.md) or its default (2 min)",
    )
    args = p.parse_args()
    print(
        f"cluster bench: {CLIENTS} clients, 2 replicas, 1 nats-server (sync_interval: {args.sync});"
        f" {os.cpu_count()} cores"
    )
    print("asked/s  received/s (min, mean)  p50 ms  p99 ms  CPU A %  CPU B %  RSS A MB  RSS B MB  behind")
    sustained = 0
    for rate in (int(r) for r in args.rates.split(",")):
        m = measure(rate, args.seconds, args.sync == "always")
        print(
            f"{rate:7d}  {m['received_min']:9.0f} {m['received_mean']:9.0f}  {m['p50']:7.0f} {m['p99']:7.0f}"
            f"  {m['cpu_a']:7.0f}  {m['cpu_b']:7.0f}  {m['rss_a']:8.0f}  {m['rss_b']:8.0f}  {m['behind']:6.0f}",
            flush=True,
        )
        if m["received_min"] >= 0.95 * rate and m["p99"] < 2000 and m["behind"] == 0:
            sustained = rate
    rates = [int(r) for r in args.rates.split(",")]
    at = sustained or min(rates)
    resume, leader = failover(at, args.sync == "always")
    print(
        f"RESULT max sustained {f'{sustained}/s' if sustained else 'none of the rates asked'} to {CLIENTS} clients"
        f" (>= 95 % received, p99 < 2 s, no replica behind); failover at {at}/s: console resumed on the other"
        f" replica {resume:.2f} s after kill -9, the new leader's changes after {leader:.2f} s"
    )


if __name__ == "__main__":
    sys.exit(run_main(body))
