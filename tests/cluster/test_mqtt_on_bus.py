"""Devices over MQTT on NATS's own MQTT listener (vigie-devices, docs/devices.md), two replicas on
the bus: every registered device reaches the replica that does not lead, a command through it is
confirmed by the device, and after the leader's kill -9 the other replica's MQTT adapter takes
over: a command is confirmed again within 10 s."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import nats

from tests.cluster.helpers import leader_pid, replica, wait_for_line
from tests.cluster.nats_server import NatsServer
from tests.cluster.test_leader_work import LEADER, a_street_light, commands_stub, run_command
from tests.conftest import ROOT
from vigie.v1 import assets_pb2, commands_pb2

C = commands_pb2
CITY = ["--lights", "200", "--vehicles", "5", "--quiet-city"]
# The new leader's steps, as its log says them (INFO): where a failover's time goes.
STEPS = (
    "is now the leader",
    "device network starting",
    "MQTT vigie-b: connected",
    "MQTT retained states",
    "device network takes commands",
    "device network started",
    "first command since",
    "alarm engine runs here",
)
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$")


def lease_written_at(url: str) -> float:
    """When the leader lease was last written (the holder's last renewal), as JetStream stamped it."""

    async def ask() -> float:
        nc = await nats.connect(url, connect_timeout=5)
        try:
            msg = await nc.jetstream().get_last_msg("KV_vigie_lease", "$KV.vigie_lease.leader")
            assert msg.time is not None
            return msg.time.timestamp()
        finally:
            await nc.close()

    return asyncio.run(ask())


def steps_after(path: Path, after: int, t0: float) -> list[str]:
    """The lines of STEPS past byte `after`, each with its time after `t0` (wall clock: the log's
    own stamps, local time, millisecond resolution)."""
    out = []
    for line in path.read_bytes()[after:].decode(errors="replace").splitlines():
        m = STAMP.match(line)
        if m and any(s in m[2] for s in STEPS):
            at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append(f"  +{at - t0:6.2f} s  {m[2][:160]}")
    return out


def test_mqtt_devices_through_the_bus_and_a_failover(tmp_path, capsys):
    server = NatsServer(mqtt=True).start()
    devices = None
    a = b = None
    try:
        registry = tmp_path / "devices.json"
        subprocess.run(
            [sys.executable, "-m", "vigie.devices", "--write-registry", str(registry), *CITY],
            cwd=ROOT,
            check=True,
            timeout=120,
        )
        registered = {d["id"] for d in json.loads(registry.read_text())["devices"]}
        devices = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vigie.devices",
                "--broker",
                f"mqtt://127.0.0.1:{server.mqtt_port}",
                *CITY,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=open(tmp_path / "devices.log", "w"),  # noqa: SIM115 - the child keeps it
            text=True,
        )
        assert devices.stdout is not None
        assert devices.stdout.readline().startswith("VIGIE_DEVICES_READY")
        # The devices answer within the default 5 s on a quiet machine; this one is shared.
        mqtt = [
            "--devices",
            f"mqtt://127.0.0.1:{server.mqtt_port}",
            "--devices-file",
            str(registry),
            "--command-ack-timeout",
            "20",
        ]
        a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
        a = replica(server.url, a_log, *mqtt, "--mqtt-client-id", "vigie-a").start()
        wait_for_line(a_log, LEADER, 30)
        b = replica(server.url, b_log, *mqtt, "--mqtt-client-id", "vigie-b", "--log-level", "INFO").start()
        assert a.proc is not None and leader_pid(server.url) == a.proc.pid

        # Every registered device reaches B, which does not lead, through the bus.
        from tests.cluster.helpers import assets_stub

        deadline = time.monotonic() + 60
        while True:
            listed = assets_stub(b.address).ListAssets(
                assets_pb2.ListAssetsRequest(page_size=10_000), timeout=30
            )
            if {x.id for x in listed.assets} >= registered:
                break
            assert time.monotonic() < deadline, (
                f"{len(registered - {x.id for x in listed.assets})} devices missing"
            )
            time.sleep(0.2)  # states still arriving: asked again under the deadline

        light = a_street_light(b.address)
        # A command through B, which does not lead, is confirmed. The leader's MQTT link may still
        # be settling right after start (docs/cluster.md): sent again, as a console's user would,
        # under a deadline.
        started = time.monotonic()
        while (result := run_command(b.address, light, C.LIGHT_OFF))[0] != C.CONFIRMED:
            assert time.monotonic() - started < 30, f"no command confirmed through B: {result[1]}"

        # Every simulated device hears its commands, not only the first few of each MQTT
        # connection (NATS's listener refused a session's QoS 1 subscriptions past 63: most
        # devices never got theirs). The last lights registered sit past that on every connection.
        lights = sorted(i for i in registered if i.startswith("lgt-"))[-8:]
        for other in lights:
            state, detail = run_command(b.address, other, C.LIGHT_OFF)
            assert state == C.CONFIRMED, f"{other}: {detail}"

        operator = commands_stub(b.address)  # logged in before, as a console at its desk is
        b_size = b_log.stat().st_size
        a.kill()
        t_kill, wall_kill = time.monotonic(), time.time()
        renewed = lease_written_at(server.url)  # A's last, now that it is dead
        refused = []
        while True:
            began = time.monotonic() - t_kill
            stage, detail = run_command(b.address, light, C.LIGHT_ON, operator)
            if stage == C.CONFIRMED:
                break
            refused.append(time.monotonic() - t_kill)
            assert "leader" in detail, detail  # no leader yet: said so, and nothing done
            assert time.monotonic() - t_kill < 30, "no command confirmed 30 s after the kill"
            time.sleep(0.1)  # asked again, as an operator would, under the deadline
        took = time.monotonic() - t_kill
        wait_for_line(b_log, LEADER, 1, after=b_size)
        # The rest of the takeover (the retained states settling), for the timeline below.
        wait_for_line(b_log, "device network started", 20, after=b_size)
        with capsys.disabled():
            print(
                "\n[mqtt on bus] after the kill -9 of A (times from the kill):",
                f"  {renewed - wall_kill:+6.2f} s  A's last lease renewal (its key lives 6 s)",
                *steps_after(b_log, b_size, wall_kill),
                f"  {len(refused)} commands refused (no leader), the last one answered at +{max(refused, default=0):.2f} s;"
                f" the next, sent at +{began:.2f} s, confirmed at +{took:.2f} s",
                f"[mqtt on bus] {len(registered)} devices on B; a command confirmed again {took:.1f} s after kill -9",
                sep="\n",
            )
        # The goal (docs/cluster.md, "Failover of device commands within 10 s"): the lease
        # (its 6 s TTL counts from A's last renewal), then the command, which no longer waits for
        # B's MQTT adapter to take every device's retained state in.
        assert took < 10, f"commands to MQTT devices came back {took:.1f} s after the kill"
    finally:
        for r in (a, b):
            if r is not None:
                r.kill()
        if devices is not None:
            devices.kill()
            devices.wait(10)
        server.kill()
