"""The console's records keep no part of the message they were made from (issue 20).

A parsed protobuf message lives in one arena with every message parsed with it: a record that
keeps a sub-message, a map or a repeated field of a stream's batch keeps the whole batch alive,
with every other asset or alarm it carried. The console's store keeps one record per asset for
a whole shift, so each record pinned a batch: 50 MB more in a headless client of the soak's city
after two minutes. These tests walk everything a record reaches and look for protobuf objects."""

from __future__ import annotations

from collections import deque
from dataclasses import fields, is_dataclass

from vigie.app.client import convert, dispatch_convert
from vigie.app.client import transit as transit_convert
from vigie.v1 import alarms_pb2, assets_pb2, incidents_pb2, transit_pb2, video_pb2


def protobuf_objects(root: object) -> list[str]:
    """Paths to every protobuf message or container reachable from `root` through dataclass
    fields, slots and the built-in collections."""
    found: list[str] = []
    seen: set[int] = set()
    todo: deque[tuple[str, object]] = deque([("record", root)])
    while todo:
        path, obj = todo.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if type(obj).__module__.startswith("google."):
            found.append(f"{path}: {type(obj).__module__}.{type(obj).__qualname__}")
            continue
        if is_dataclass(obj) and not isinstance(obj, type):
            todo.extend((f"{path}.{f.name}", getattr(obj, f.name)) for f in fields(obj))
        elif isinstance(obj, dict):
            todo.extend((f"{path}[{k!r}]", v) for k, v in obj.items())
            todo.extend((f"{path}.keys()", k) for k in obj)
        elif isinstance(obj, list | tuple | set | frozenset):
            todo.extend((f"{path}[{i}]", v) for i, v in enumerate(obj))
    return found


def _asset(n: int) -> assets_pb2.Asset:
    a = assets_pb2.Asset(
        id=f"light-{n}",
        kind=assets_pb2.Asset.STREET_LIGHT,
        name=f"Light {n}",
        district="Centre",
        status=assets_pb2.Asset.OK,
    )
    a.position.lat, a.position.lon = 47.32, 5.04
    a.attributes["circuit"] = f"C-{n % 7}"
    a.attributes["mode"] = "auto"
    return a


def test_asset_records_keep_no_part_of_their_batch():
    batch = assets_pb2.WatchAssetsResponse.FromString(
        assets_pb2.WatchAssetsResponse(
            changes=assets_pb2.ChangeBatch(
                changes=[assets_pb2.AssetChange(revision=n + 1, asset=_asset(n)) for n in range(50)]
            )
        ).SerializeToString()
    )
    records = convert.assets(c.asset for c in batch.changes.changes)
    del batch
    assert protobuf_objects(records) == []
    # What the record keeps instead still gives the attributes, as the test wrote them.
    assert records[9].attributes == {"circuit": "C-2", "mode": "auto"}
    assert records[0].attributes == {"circuit": "C-0", "mode": "auto"}


def test_the_other_records_of_long_lived_stores_keep_no_message():
    alarm = alarms_pb2.Alarm(id="alarm-1", asset_id="light-1", message="lamp failure")
    camera = video_pb2.Camera(id="cam-1", name="Cam 1", presets=[video_pb2.PtzPreset(number=1, name="Porte")])
    unit = incidents_pb2.Unit(id="unit-1")
    incident = incidents_pb2.Incident(
        id="inc-1", type="fire", unit_ids=["unit-1"], alarm_ids=["alarm-1"], asset_ids=["light-1"]
    )
    made = {
        "alarm": convert.alarm(alarm),
        "camera": convert.camera(camera),
        "unit": dispatch_convert.unit(unit),
        "incident": dispatch_convert.incident(incident),
        "transit vehicle": transit_convert.vehicle_record(transit_pb2.TransitVehicle(id="tram-1")),
        "line": transit_convert.line_record(transit_pb2.Line(id="T1", stops=[transit_pb2.Stop(id="s1")])),
    }
    assert {name: protobuf_objects(r) for name, r in made.items()} == {name: [] for name in made}
