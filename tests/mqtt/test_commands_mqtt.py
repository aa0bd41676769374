"""Commands over MQTT: a command reaches the device once, with its id, and the device's
acknowledgement and new state carry it through the command stages; a command delivered twice
(a broker's redelivery, a backend's resend: same id) acts once."""

from __future__ import annotations

import contextlib
import json
import queue
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.api.test_commands import AssetWatch, execute, follow, stages_of, stub_for
from tests.mqtt.broker import Mosquitto
from tests.mqtt.helpers import DevicesProcess, PlainDevice, city_devices_file
from vigie.backend.adapters.mqtt.wire import district_slug  # the slug rule of docs/devices.md
from vigie.v1 import assets_pb2, commands_pb2

C = commands_pb2
K = assets_pb2.Asset
# A still city: devices change only when commanded, so every change of a target is a command's.
CITY = ("--seed", "7", "--lights", "100", "--vehicles", "0")
DEVICE_FLAGS = (*CITY, "--quiet-city", "--command-failure-rate", "0", "--badge-rate", "0")


class Setup:
    def __init__(self, broker: Mosquitto, make_backend, ack_timeout: str = "5") -> None:
        registry = city_devices_file(*CITY)
        self.devices = DevicesProcess(broker.url, *DEVICE_FLAGS, "--telemetry-interval", "0").start()
        self.backend = make_backend(
            "--devices", broker.url, "--devices-file", str(registry), "--command-ack-timeout", ack_timeout
        ).start()
        self.watch = AssetWatch(self.backend.address)
        self.operator = stub_for(self.backend.address, "operator")

    def light(self) -> assets_pb2.Asset:
        with self.watch.cond:
            found = sorted(
                (a for a in self.watch.assets.values() if a.kind == K.STREET_LIGHT and a.status == K.OK),
                key=lambda a: a.id,
            )
        assert found, "no street light reported OK"
        return found[0]

    def close(self) -> None:
        self.watch.close()
        self.devices.stop()


@pytest.fixture
def city(broker, make_backend) -> Iterator[Setup]:
    s = Setup(broker, make_backend)
    yield s
    s.close()


def topic_of(asset: assets_pb2.Asset, channel: str) -> str:
    return f"vigie/+/street_light/{asset.id}/{channel}"


def test_a_command_reaches_the_device_once_with_its_id_and_is_confirmed(city, broker):
    light = city.light()
    spy = PlainDevice(broker.port, "test-spy", (topic_of(light, "cmd"), topic_of(light, "ack")))
    try:
        status = execute(city.operator, [light.id], C.LIGHT_DIM, params=C.CommandParams(level_percent=40))
        statuses = follow(city.operator, status.command_id)
        assert stages_of(statuses, light.id) == [C.ACCEPTED, C.ACKNOWLEDGED, C.CONFIRMED]
        assert city.watch.wait(
            lambda: any(a.attributes.get("level_pct") == "40" for a in city.watch.of(light.id)), 30
        )
        prefix = next(t for t, _ in spy.log if t.endswith("/cmd")).rsplit("/", 1)[0]
        cmds = spy.received(f"{prefix}/cmd")
        acks = spy.received(f"{prefix}/ack")
        assert [(c["id"], c["action"], c["params"]) for c in cmds] == [
            (status.command_id, "LIGHT_DIM", {"level_percent": 40})
        ]
        assert [(a["id"], a["ok"]) for a in acks] == [(status.command_id, True)]
    finally:
        spy.close()


def wait_acks(spy: PlainDevice, topic: str, n: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(spy.received(topic)) < n and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            spy.messages.get(timeout=max(0.01, deadline - time.monotonic()))
    return spy.received(topic)


def test_a_command_delivered_twice_acts_once(city, broker):
    light = city.light()
    with city.watch.cond:
        district = city.watch.assets[light.id].district
    prefix = f"vigie/{district_slug(district)}/street_light/{light.id}"
    spy = PlainDevice(broker.port, "test-spy-dup", (f"{prefix}/ack",))
    try:
        command = json.dumps(
            {
                "id": uuid.uuid4().hex,
                "action": "LIGHT_DIM",
                "params": {"level_percent": 30},
                "time": time.time(),
            }
        ).encode()
        spy.publish(f"{prefix}/cmd", command)
        spy.publish(f"{prefix}/cmd", command)  # redelivered while the device is at it: not answered yet
        (first,) = wait_acks(spy, f"{prefix}/ack", 1)
        spy.publish(f"{prefix}/cmd", command)  # and once more after the answer (it may have been lost)
        acks = wait_acks(spy, f"{prefix}/ack", 2)
        # (a third answer if the broker held the second copy until after the first answer)
        assert len(acks) >= 2 and all(a == first for a in acks) and first["ok"] is True
        # ...but done once: one new state. A second action would report within the light's
        # 1 s actuation (backend/adapters/simulator/actuators.py): watch for three times that.
        assert city.watch.wait(
            lambda: any(a.attributes.get("level_pct") == "30" for a in city.watch.of(light.id)), 30
        )
        city.watch.wait(lambda: False, 3.0)  # a window of observation, not a synchronisation
        city.watch.caught_up()
        assert [a.attributes.get("level_pct") for a in city.watch.of(light.id)] == ["30"]
    finally:
        spy.close()
