"""Registration and discovery (docs/devices.md): with --discover a device unknown to the backend is
listed from its first state, which must place it; without it, an unregistered device is refused
and the refusal is logged with its reason."""

from __future__ import annotations

import time

from tests.api.test_commands import AssetWatch
from tests.mqtt.helpers import LIGHT_TOPIC, PlainDevice, devices_file
from vigie.v1 import assets_pb2

K = assets_pb2.Asset


def test_discover_lists_a_new_device_from_its_first_state(broker, make_backend):
    backend = make_backend("--devices", broker.url, "--discover").start()
    watch = AssetWatch(backend.address)
    device = PlainDevice(broker.port, "test-ws")
    try:
        assert watch.assets == {}  # nothing registered, nothing heard yet
        device.publish(
            "vigie/maladiere/water_sensor/ws-new-1/state",
            {
                "time": time.time(),
                "status": "warning",
                "reason": "pressure low",
                "lat": 47.31,
                "lon": 5.06,
                "name": "Réservoir Maladière",
            },
        )
        # Without a position it cannot be shown on the map: refused, not listed.
        device.publish("vigie/maladiere/water_sensor/ws-new-2/state", {"time": time.time(), "status": "ok"})
        assert watch.wait(lambda: "ws-new-1" in watch.assets, 30), "the new device was not discovered"
        with watch.cond:
            a = watch.assets["ws-new-1"]
        assert (a.kind, a.status, a.status_reason, a.name) == (
            K.WATER_SENSOR,
            K.WARNING,
            "pressure low",
            "Réservoir Maladière",
        )
        assert (round(a.position.lat, 6), round(a.position.lon, 6), a.district) == (47.31, 5.06, "maladiere")
        # ws-new-2 came after ws-new-1 on the same connection: had it been listed, it would be by now.
        watch.caught_up()
        assert "ws-new-2" not in watch.assets
    finally:
        device.close()
        watch.close()


def test_without_discover_an_unregistered_device_is_refused_and_logged(broker, make_backend, tmp_path):
    log = tmp_path / "backend.log"
    backend = make_backend("--devices", broker.url, "--devices-file", str(devices_file()), stderr=log).start()
    watch = AssetWatch(backend.address)
    device = PlainDevice(broker.port, "test-stranger")
    try:
        now = time.time()
        device.publish(
            "vigie/centre-ville/street_light/stranger-9/state",
            {"time": now, "status": "ok", "lat": 47.3, "lon": 5.0},
        )
        device.publish(f"{LIGHT_TOPIC}/state", {"time": now, "status": "ok"})  # a registered one, after it
        assert watch.wait(lambda: any(a.status == K.OK for a in watch.of("light-t1")), 30)
        watch.caught_up()
        assert "stranger-9" not in watch.assets
        text = log.read_text()
        assert "refused (unknown_device)" in text and "stranger-9" in text, text[-2000:]
    finally:
        device.close()
        watch.close()
