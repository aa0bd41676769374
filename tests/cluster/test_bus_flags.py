"""vigie-backend's cluster flags: a malformed --bus or an out-of-range value exits 2 naming the
flag; a bus that cannot be reached exits 1 saying so (never a replica serving on its own)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cluster.nats_server import free_port
from tests.conftest import ROOT


def run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--listen", "127.0.0.1:0", "--log-level", "ERROR", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bus", "http://127.0.0.1:4222"], "--bus takes nats://"),
        (["--bus", "nats://127.0.0.1:4222", "--bus-replicas", "9"], "--bus-replicas must be between 1 and 5"),
        (["--bus", "nats://127.0.0.1:4222", "--lease-ttl", "0.1"], "--lease-ttl must be between 1 and 60"),
    ],
)
def test_bad_values_exit_2_naming_the_flag(args, says, tmp_path):
    r = run("--data-dir", str(tmp_path), *args)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr


def test_an_unreachable_bus_exits_1_saying_so(tmp_path):
    port = free_port()  # nothing listens there
    r = run("--data-dir", str(tmp_path), "--bus", f"nats://127.0.0.1:{port}")
    assert r.returncode == 1, r.stderr[-2000:]
    assert f"cannot reach the bus at ['nats://127.0.0.1:{port}']" in r.stderr


def test_a_replica_whose_bus_went_away_still_stops_cleanly(nats_server, tmp_path):
    from tests.cluster.helpers import replica, wait_for_line

    log = tmp_path / "a.log"
    a = replica(nats_server.url, log).start()
    wait_for_line(log, "is now the leader", 30)
    nats_server.kill()
    wait_for_line(log, "disconnected, reconnecting", 30)
    a.stop()
    assert a.proc is not None and a.proc.returncode == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
