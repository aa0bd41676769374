"""What the MQTT tests share: a plain device (paho, synchronous), hand-written devices files, and
a backend process on a broker."""

from __future__ import annotations

import json
import queue
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

from tests.conftest import BackendProcess

# The devices file of most tests, written by hand: expected values come from here.
DEVICES = [
    {
        "id": "light-t1",
        "kind": "street_light",
        "name": "Rue de la Liberté 1",
        "district": "Centre-Ville",
        "lat": 47.3221,
        "lon": 5.0412,
        "attributes": {"mode": "on", "level_pct": "100"},
    },
    {
        "id": "door-t2",
        "kind": "access_point",
        "name": "Mairie, entrée nord",
        "district": "Toison d'Or",
        "lat": 47.3301,
        "lon": 5.0502,
        "attributes": {"lock": "locked"},
    },
]
LIGHT_TOPIC = "vigie/centre-ville/street_light/light-t1"
DOOR_TOPIC = "vigie/toison-d-or/access_point/door-t2"


def devices_file(devices: list[dict] | None = None) -> Path:
    path = Path(tempfile.mkdtemp(prefix="vigie-test-devices-")) / "devices.json"
    path.write_text(json.dumps({"devices": DEVICES if devices is None else devices}))
    return path


class PlainDevice:
    """A device written with paho directly (not with Vigie's code): publishes QoS 1 and records
    every message on the topics it subscribes to, in order."""

    def __init__(self, port: int, client_id: str, subscribe: tuple[str, ...] = ()) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.log: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.topics = subscribe
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if subscribe:
            assert self.subscribed.wait(20), "the broker did not confirm the subscription"

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if self.topics:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.log.append((msg.topic, msg.payload))
        self.messages.put((msg.topic, msg.payload))

    def publish(self, topic: str, payload: dict | bytes, retain: bool = False) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(topic, data, qos=1, retain=retain)
        info.wait_for_publish(20)
        assert info.is_published(), f"the broker did not acknowledge {topic}"

    def received(self, topic: str) -> list[dict]:
        with self.lock:
            return [json.loads(p) for t, p in self.log if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def mqtt_backend(broker_url: str, *flags: str) -> BackendProcess:
    """A backend whose devices are on the broker (no simulated city)."""
    return BackendProcess("--devices", broker_url, *flags)


class DevicesProcess:
    """`python -m vigie.devices` (the simulated city as MQTT devices), a real separate process."""

    def __init__(self, broker_url: str, *flags: str) -> None:
        self.args = ["--broker", broker_url, *flags]
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> DevicesProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vigie.devices", *self.args], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"vigie-devices exited with {self.proc.wait()}")
            if line.startswith("VIGIE_DEVICES_READY"):
                return self
        self.stop()
        raise TimeoutError("vigie-devices did not get its devices out")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def city_devices_file(*flags: str) -> Path:
    """The simulated city's devices file, as `vigie-devices --write-registry` writes it."""
    path = Path(tempfile.mkdtemp(prefix="vigie-test-devices-")) / "city.json"
    subprocess.run([sys.executable, "-m", "vigie.devices", "--write-registry", str(path), *flags], check=True)
    return path
