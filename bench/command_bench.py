"""Command and security benchmark on a real backend process (demo users, quiet city):

- Execute round trip (the answer: every target ACCEPTED), a replay with the same key, and the
  time until every target is CONFIRMED (the simulated devices' own delays dominate it);
- the cost of the authorisation interceptor on a unary read (GetAsset): the same calls against the
  same server code with the interceptor left out (bench/no_auth_backend.py), interleaved in blocks
  so that the machine's load falls on both alike; the difference is the interceptor's cost;
- Login (scrypt), Login during a login flood from another peer, and how long a revoked user's open stream lives on (tests assert < 5 s).

Exits non-zero when a measurement is missing."""

from __future__ import annotations

import socket
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import open_channel, require, run_main
from vigie.app.backend_process import BackendProcess
from vigie.v1 import (
    assets_pb2,
    assets_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    commands_pb2,
    commands_pb2_grpc,
)

NO_AUTH = str(Path(__file__).resolve().parent / "no_auth_backend.py")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def interceptor_cost(with_auth: assets_pb2_grpc.AssetServiceStub, aid: str) -> None:
    """GetAsset through the interceptor and without it, 10 alternating blocks of 100 calls each."""
    plain_backend = BackendProcess(["--demo-users", "--quiet-city", "--log-level", "WARNING"])
    plain_backend.args[1:3] = [NO_AUTH]  # same arguments, the interceptor left out
    plain_backend.start()
    try:
        with open_channel(plain_backend.address, "supervisor") as ch:
            plain = assets_pb2_grpc.AssetServiceStub(ch)
            # Proof that the interceptor is off: a call without any token is answered.
            with grpc.insecure_channel(plain_backend.address) as bare:
                assets_pb2_grpc.AssetServiceStub(bare).GetAsset(
                    assets_pb2.GetAssetRequest(id=aid), timeout=10
                )
            on: list[float] = []
            off: list[float] = []
            for stub in (with_auth, plain):  # warm both
                for _ in range(50):
                    stub.GetAsset(assets_pb2.GetAssetRequest(id=aid), timeout=5)
            for _block in range(10):
                for stub, out in ((with_auth, on), (plain, off)):
                    for _ in range(100):
                        t0 = time.perf_counter()
                        stub.GetAsset(assets_pb2.GetAssetRequest(id=aid), timeout=5)
                        out.append(time.perf_counter() - t0)
    finally:
        plain_backend.stop()
    print("  GetAsset, same server code, 10 alternating blocks of 100 calls:")
    for name, v in (("with the interceptor", on), ("interceptor off", off)):
        print(
            f"    {name:22s} p50 {pct(v, 0.5):.2f} ms   p99 {pct(v, 0.99):.2f} ms   mean {statistics.mean(v) * 1000:.2f} ms"
        )
    print(
        f"    interceptor cost: p50 {pct(on, 0.5) - pct(off, 0.5):+.2f} ms, "
        f"mean {(statistics.mean(on) - statistics.mean(off)) * 1000:+.2f} ms per call"
    )


def revocation_delay(address: str, admin: auth_pb2_grpc.AuthServiceStub) -> None:
    """Time from RevokeUser's answer to the end of the revoked user's open WatchAssets stream."""
    delays = []
    for _ in range(5):
        with open_channel(address, "viewer") as ch:
            stream = assets_pb2_grpc.AssetServiceStub(ch).WatchAssets(
                assets_pb2.WatchAssetsRequest(), timeout=60
            )
            next(stream)
            admin.RevokeUser(auth_pb2.RevokeUserRequest(name="viewer"), timeout=10)
            t0 = time.perf_counter()
            try:
                for _msg in stream:
                    pass
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                code = e.code()
            require(
                code == grpc.StatusCode.UNAUTHENTICATED,
                f"a revoked stream ended with {code}, not UNAUTHENTICATED",
            )
            delays.append(time.perf_counter() - t0)
    print(
        f"  revoked user's open stream ends after: median {pct(delays, 0.5):.0f} ms, max {max(delays) * 1000:.0f} ms"
    )


def login_during_flood() -> None:
    """A supervisor's Login while another peer (::1) floods 60 wrong admin logins
    (tests/api/test_login_limits.py asserts < 5 s)."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        print("  Login during a 60-login flood from another peer: not measured (no ::1 loopback here)")
        return
    backend = BackendProcess()
    backend.args += [
        *("--listen", f"[::]:{backend.port}", "--insecure", "--demo-users", "--lights", "0"),
        *("--vehicles", "0", "--log-level", "WARNING"),
    ]
    backend.start()
    try:
        open_channel(backend.address, "viewer").close()  # up and answering
        with grpc.insecure_channel(f"[::1]:{backend.port}") as attacker:
            stub = auth_pb2_grpc.AuthServiceStub(attacker)
            wrong = auth_pb2.LoginRequest(user="admin", password="guess-0000", console="bench")
            answered = threading.Event()  # the server is busy with the flood once it answers one
            flood = [stub.Login.future(wrong, timeout=60) for _ in range(60)]
            for f in flood:
                f.add_done_callback(lambda _f: answered.set())
            require(answered.wait(30), "the login flood got no answer in 30 s")
            t0 = time.perf_counter()
            ok = auth_pb2_grpc.AuthServiceStub(grpc.insecure_channel(backend.address)).Login(
                auth_pb2.LoginRequest(user="supervisor", password="supervisor", console="bench"), timeout=60
            )
            took = time.perf_counter() - t0
            require(ok.token, "the supervisor's login during the flood returned no token")
            for f in flood:
                f.exception()  # wait for every flood call to end
        print(f"  Login of a supervisor during a 60-login flood from another peer: {took * 1000:.0f} ms")
    finally:
        backend.stop()


def main() -> int:
    return run_main(body)


def body() -> None:
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
        require(len(lights) == 400, f"{len(lights)} street lights listed, 400 needed")
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
        require(sum(endings.values()) == 400, f"{sum(endings.values())} of 400 targets ended")
        interceptor_cost(assets, lights[0])
        auth = auth_pb2_grpc.AuthServiceStub(ch)
        logins = []
        for _ in range(10):
            t0 = time.perf_counter()
            auth.Login(auth_pb2.LoginRequest(user="viewer", password="viewer"), timeout=10)
            logins.append(time.perf_counter() - t0)
        print(
            f"  Login (scrypt N=2^15): median {statistics.median(logins) * 1000:.0f} ms, "
            f"max {max(logins) * 1000:.0f} ms (tests used to assert < 5 s)"
        )
        with open_channel(backend.address, "admin") as admin_ch:
            revocation_delay(backend.address, auth_pb2_grpc.AuthServiceStub(admin_ch))
    finally:
        backend.stop()
    login_during_flood()


if __name__ == "__main__":
    sys.exit(main())
