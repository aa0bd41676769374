"""Bad payloads are refused and counted by reason, never crash the adapter, and the next good
message still applies: MqttNetwork in this process, a real mosquitto, a real AssetStore."""

from __future__ import annotations

import asyncio
import json
import time

from tests.mqtt.helpers import DEVICES, LIGHT_TOPIC, PlainDevice
from vigie.backend.adapters.mqtt import MqttNetwork
from vigie.backend.adapters.mqtt.registry import NOT_HEARD
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.revlog import AssetStore

NOW = time.time()
GOOD = {"time": NOW, "status": "ok"}
# (topic, payload, the reason it is counted under), written from docs/devices.md's rules.
BAD = [
    (f"{LIGHT_TOPIC}/state", b"not json", "bad_json"),
    (f"{LIGHT_TOPIC}/state", b"[1, 2]", "bad_json"),
    (f"{LIGHT_TOPIC}/state", json.dumps({"time": NOW, "status": "sleeping"}).encode(), "bad_field"),
    (f"{LIGHT_TOPIC}/state", json.dumps({"status": "ok"}).encode(), "bad_field"),
    (f"{LIGHT_TOPIC}/state", json.dumps({**GOOD, "lat": 47.3}).encode(), "bad_field"),
    (f"{LIGHT_TOPIC}/state", json.dumps({**GOOD, "time": NOW * 1000}).encode(), "bad_field"),
    (
        f"{LIGHT_TOPIC}/state",
        json.dumps({**GOOD, "attributes": {f"k{i}": "v" for i in range(65)}}).encode(),
        "bad_field",
    ),
    (f"{LIGHT_TOPIC}/state", json.dumps({**GOOD, "reason": "x" * 20_000}).encode(), "too_large"),
    ("vigie/centre-ville/spaceship/light-t1/state", json.dumps(GOOD).encode(), "bad_topic"),
    ("vigie/Centre Ville/street_light/light-t1/state", json.dumps(GOOD).encode(), "bad_topic"),
    ("vigie/centre-ville/street_light/light t1!/state", json.dumps(GOOD).encode(), "bad_topic"),
    (
        "vigie/centre-ville/street_light/nobody/state",
        json.dumps({**GOOD, "lat": 1, "lon": 2}).encode(),
        "unknown_device",
    ),
    ("vigie/centre-ville/access_point/light-t1/state", json.dumps(GOOD).encode(), "wrong_kind"),
    (f"{LIGHT_TOPIC}/ack", json.dumps({"id": "c1", "ok": "yes"}).encode(), "bad_field"),
    (
        f"{LIGHT_TOPIC}/telemetry",
        json.dumps({"time": NOW, "values": {"power_w": "high"}}).encode(),
        "bad_field",
    ),
]


def registered() -> list[Asset]:
    d = DEVICES[0]
    return [
        Asset(
            d["id"],
            Kind.STREET_LIGHT,
            d["name"],
            d["district"],
            d["lat"],
            d["lon"],
            Status.OFFLINE,
            NOT_HEARD,
        )
    ]


async def scenario(port: int) -> tuple[dict[str, int], Asset | None, int]:
    store = AssetStore()
    network = MqttNetwork("127.0.0.1", port, registered(), settle_s=5.0)
    await network.start(store)
    device = await asyncio.to_thread(PlainDevice, port, "test-bad")
    try:
        for topic, payload, _ in BAD:
            await asyncio.to_thread(device.publish, topic, payload)
        await asyncio.to_thread(
            device.publish, f"{LIGHT_TOPIC}/state", {**GOOD, "attributes": {"mode": "off"}}
        )
        deadline = asyncio.get_running_loop().time() + 30
        while store.get("light-t1").status is not Status.OK and asyncio.get_running_loop().time() < deadline:
            await store.wait_for_change(store.revision, 1.0)
        return network.counts, store.get("light-t1"), network.link.connections
    finally:
        await asyncio.to_thread(device.close)
        await network.stop()


def test_bad_payloads_are_refused_counted_and_harmless(broker):
    counts, light, connections = asyncio.run(scenario(broker.port))
    expected: dict[str, int] = {}
    for _, _, reason in BAD:
        expected[reason] = expected.get(reason, 0) + 1
    assert {k: counts.get(k, 0) for k in expected} == expected
    assert counts["refused"] == len(BAD)
    # The good message after them applied, on the same connection (nothing crashed or reconnected).
    assert light is not None and light.status is Status.OK and light.attributes == {"mode": "off"}
    assert counts["applied"] == 1 and connections == 1
