"""The wire contract of docs/devices.md without a broker: topics, slugs, and every payload surviving
encode -> decode unchanged (expected values written out here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigie.backend.adapters.mqtt import load_registry, wire
from vigie.backend.domain.actions import Action, Params
from vigie.backend.domain.assets import Kind, Status


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Toison d'Or", "toison-d-or"),
        ("Centre-Ville", "centre-ville"),
        ("Maladière", "maladiere"),
        ("", "unknown"),
    ],
)
def test_district_slugs(name, slug):
    assert wire.district_slug(name) == slug


def test_topics_parse_and_print_back():
    t = wire.parse_topic("vigie/toison-d-or/access_point/acc-0007/cmd")
    assert (t.district, t.kind, t.device_id, t.channel) == (
        "toison-d-or",
        Kind.ACCESS_POINT,
        "acc-0007",
        "cmd",
    )
    assert str(t) == "vigie/toison-d-or/access_point/acc-0007/cmd"
    assert (
        wire.topic_for("Toison d'Or", Kind.ACCESS_POINT, "acc-0007", "ack")
        == "vigie/toison-d-or/access_point/acc-0007/ack"
    )
    for bad in (
        "vigie/x/street_light/l1",
        "city/x/street_light/l1/state",
        "vigie/x/system/l1/state",
        "vigie/x/street_light/l1/reboot",
    ):
        with pytest.raises(wire.BadPayload) as exc:
            wire.parse_topic(bad)
        assert exc.value.reason == "bad_topic"


def test_payloads_round_trip():
    state = wire.StateMsg(
        1_765_000_000.5, Status.FAULT, "lamp", {"mode": "off"}, 42, "L 1", "Centre", 47.1, 5.2, 90.0
    )
    assert wire.decode_state(wire.encode_state(state)) == state
    cmd = wire.CmdMsg("cmd-1", Action.LIGHT_DIM, Params(level_percent=40), 1_765_000_000.0)
    assert (
        wire.encode_cmd(cmd)
        == b'{"id":"cmd-1","action":"LIGHT_DIM","params":{"level_percent":40},"time":1765000000.0}'
    )
    assert wire.decode_cmd(wire.encode_cmd(cmd)) == cmd
    ack = wire.AckMsg("cmd-1", False, "motor fault")
    assert wire.decode_ack(wire.encode_ack(ack)) == ack
    tel = wire.TelemetryMsg(1_765_000_000.0, {"power_w": 71.5}, {"power_w": "W"})
    assert wire.decode_telemetry(wire.encode_telemetry(tel)) == tel
    ev = wire.EventMsg(1_765_000_000.0, "badge", "B-00042")
    assert wire.decode_event(wire.encode_event(ev)) == ev


def test_broker_addresses():
    assert wire.broker_address("mqtt://10.0.0.5") == ("10.0.0.5", 1883)
    assert wire.broker_address("mqtt://broker:8883") == ("broker", 8883)
    for bad in ("http://x:1", "mqtt://:1883", "mqtt://x:99999"):
        with pytest.raises(ValueError):
            wire.broker_address(bad)


SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@pytest.mark.parametrize(
    ("schema", "decode"),
    [
        ("state", wire.decode_state),
        ("telemetry", wire.decode_telemetry),
        ("event", wire.decode_event),
        ("cmd", wire.decode_cmd),
        ("ack", wire.decode_ack),
    ],
)
def test_the_documented_examples_are_accepted(schema, decode):
    doc = json.loads((SCHEMAS / f"{schema}.schema.json").read_text())
    assert doc["examples"]
    for example in doc["examples"]:
        decode(json.dumps(example).encode())  # raises BadPayload if the docs and the code disagree


def test_the_documented_devices_file_loads(tmp_path):
    doc = json.loads((SCHEMAS / "devices.schema.json").read_text())
    path = tmp_path / "devices.json"
    path.write_text(json.dumps(doc["examples"][0]))
    (a,) = load_registry(path)
    assert (a.id, a.kind, a.status) == ("lgt-00001", Kind.STREET_LIGHT, Status.OFFLINE)
