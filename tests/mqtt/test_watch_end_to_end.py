"""A device's state published over MQTT reaches a console's WatchAssets, through a real mosquitto
and a real backend process; registered devices that never reported are listed OFFLINE."""

from __future__ import annotations

import json
import time

from tests.api.test_commands import AssetWatch
from tests.mqtt.helpers import (
    DOOR_TOPIC,
    LIGHT_TOPIC,
    DevicesProcess,
    PlainDevice,
    city_devices_file,
    devices_file,
    mqtt_backend,
)
from vigie.v1 import assets_pb2

K = assets_pb2.Asset


def test_a_device_state_reaches_a_watching_console(broker, make_backend):
    backend = make_backend("--devices", broker.url, "--devices-file", str(devices_file())).start()
    watch = AssetWatch(backend.address)
    device = PlainDevice(broker.port, "test-light-t1")
    try:
        # Registered, not heard from yet: listed, OFFLINE, with the file's description.
        with watch.cond:
            light = watch.assets["light-t1"]
            door = watch.assets["door-t2"]
        assert (light.kind, light.status, light.name) == (K.STREET_LIGHT, K.OFFLINE, "Rue de la Liberté 1")
        assert (door.kind, door.status, door.district) == (K.ACCESS_POINT, K.OFFLINE, "Toison d'Or")

        sent = time.time()
        device.publish(
            f"{LIGHT_TOPIC}/state",
            {"seq": 1, "time": sent, "status": "ok", "attributes": {"mode": "dimmed", "level_pct": "40"}},
            retain=True,
        )
        assert watch.wait(
            lambda: any(
                a.status == K.OK and a.attributes.get("level_pct") == "40" for a in watch.of("light-t1")
            ),
            30,
        ), "the watch never saw the light's new state"
        (seen,) = [a for a in watch.of("light-t1") if a.attributes.get("level_pct") == "40"]
        assert seen.attributes["mode"] == "dimmed"
        assert abs(seen.last_seen.ToSeconds() + seen.last_seen.nanos / 1e9 - sent) < 0.01
        assert seen.name == "Rue de la Liberté 1"  # the registration's, the state did not name it
        assert watch.of("door-t2") == []  # nothing else changed
    finally:
        device.close()
        watch.close()


def test_a_backend_started_after_the_devices_takes_their_retained_states(broker, make_backend):
    device = PlainDevice(broker.port, "test-door-t2")
    try:
        device.publish(
            f"{DOOR_TOPIC}/state",
            {
                "seq": 7,
                "time": time.time(),
                "status": "fault",
                "reason": "lock jammed",
                "attributes": {"lock": "locked"},
            },
            retain=True,
        )
    finally:
        device.close()
    backend = mqtt_backend(broker.url, "--devices-file", str(devices_file()))
    backend.start()
    try:
        watch = AssetWatch(backend.address)
        try:
            with watch.cond:
                door = watch.assets["door-t2"]
                light = watch.assets["light-t1"]
            # In the first snapshot already: the backend waited for the broker's retained states.
            assert (door.status, door.status_reason) == (K.FAULT, "lock jammed")
            assert light.status == K.OFFLINE
        finally:
            watch.close()
    finally:
        backend.stop()


def test_a_backend_started_after_a_whole_city_lists_none_of_it_as_silent(broker, make_backend):
    city = ("--seed", "3", "--lights", "5000", "--vehicles", "60")
    registry = city_devices_file(*city)
    devices = DevicesProcess(broker.url, *city, "--quiet-city", "--telemetry-interval", "0").start()
    try:
        backend = make_backend("--devices", broker.url, "--devices-file", str(registry)).start()
        watch = AssetWatch(backend.address)
        try:
            with watch.cond:
                snapshot = list(watch.assets.values())
            registered = json.loads(registry.read_text())["devices"]
            assert len(snapshot) == len(registered)
            # Every device had stated itself (retained) before the backend started.
            silent = [
                a.id for a in snapshot if a.status_reason == "no report received since the backend started"
            ]
            assert silent == []
        finally:
            watch.close()
    finally:
        devices.stop()
