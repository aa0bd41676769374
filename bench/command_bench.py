"""Command and security benchmark on a real backend process (demo users, quiet city):

- Execute round trip (the answer: every target ACCEPTED), a replay with the same key, and the
  time until every target is CONFIRMED (the simulated devices' own delays dominate it);
- the cost of the authorisation interceptor on a unary read (GetAsset) and Login (scrypt).

Prints figures, not pass/fail."""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import open_channel
from vigie.app.backend_process import BackendProcess
from vigie.v1 import (
    assets_pb2,
    assets_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    commands_pb2,
    commands_pb2_grpc,
)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> int:
    backend = BackendProcess(
        ["--demo-users", "--quiet-city", "--command-failure-rate", "0", "--log-level", "WARNING"]
    )
    backend.start()
    try:
        ch = open_channel(backend.address, "supervisor")
        assets = assets_pb2_grpc.AssetServiceStub(ch)
        commands = commands_pb2_grpc.CommandServiceStub(ch)
        lights = [
            a.id
            for a in assets.ListAssets(
                assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.STREET_LIGHT], page_size=400), timeout=30
            ).assets
        ]
        execute, replay, confirmed = [], [], []
        endings: dict[str, int] = {}
        for i in range(40):
            targets = lights[i * 10 : i * 10 + 10]
            action = commands_pb2.LIGHT_OFF if i % 2 else commands_pb2.LIGHT_ON
            req = commands_pb2.ExecuteRequest(
                idempotency_key=uuid.uuid4().hex, asset_ids=targets, action=action
            )
            t0 = time.perf_counter()
            status = commands.Execute(req, timeout=10).status
            t1 = time.perf_counter()
            commands.Execute(req, timeout=10)
            t2 = time.perf_counter()
            for st in commands.WatchCommand(
                commands_pb2.WatchCommandRequest(command_id=status.command_id), timeout=30
            ):
                if st.done:
                    for t in st.targets:
                        name = commands_pb2.CommandStage.Name(t.stage)
                        endings[name] = endings.get(name, 0) + 1
                    break
            t3 = time.perf_counter()
            execute.append(t1 - t0)
            replay.append(t2 - t1)
            confirmed.append(t3 - t0)
        print("commands (10 street lights each, 40 commands, supervisor, loopback):")
        for name, v in (
            ("Execute answer", execute),
            ("replay, same key", replay),
            ("command done", confirmed),
        ):
            print(f"  {name:18s} p50 {pct(v, 0.5):7.1f} ms   p99 {pct(v, 0.99):7.1f} ms")

        print(f"  targets ended: {endings} (offline devices time out after 5 s, faulty ones refuse)")
        reads = []
        aid = lights[0]
        for _ in range(500):
            t0 = time.perf_counter()
            assets.GetAsset(assets_pb2.GetAssetRequest(id=aid), timeout=5)
            reads.append(time.perf_counter() - t0)
        print(
            f"  GetAsset (token checked by the interceptor): p50 {pct(reads, 0.5):.2f} ms, p99 {pct(reads, 0.99):.2f} ms"
        )
        auth = auth_pb2_grpc.AuthServiceStub(ch)
        logins = []
        for _ in range(10):
            t0 = time.perf_counter()
            auth.Login(auth_pb2.LoginRequest(user="viewer", password="viewer"), timeout=10)
            logins.append(time.perf_counter() - t0)
        print(f"  Login (scrypt N=2^15): median {statistics.median(logins) * 1000:.0f} ms")
    finally:
        backend.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
