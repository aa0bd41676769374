"""The request bounds walk any message from its descriptor: strings, lists, nested messages and
maps (no request has a map today; Asset has one), naming the field past its bound."""

from __future__ import annotations

from vigie.backend.security.bounds import problem
from vigie.v1 import assets_pb2, wall_pb2


def test_within_bounds_is_fine():
    asset = assets_pb2.Asset(id="a" * 128, name="n" * 1000, attributes={"k": "v" * 1000})
    assert problem(asset) == ""


def test_map_entries_keys_and_values_are_bounded():
    assert problem(assets_pb2.Asset(attributes={f"k{i}": "v" for i in range(501)})) == (
        "attributes has 501 entries (at most 500)"
    )
    assert problem(assets_pb2.Asset(attributes={"k" * 1001: "v"})) == (
        "attributes key is 1001 characters long (at most 1000)"
    )
    assert problem(assets_pb2.Asset(attributes={"ptz": "v" * 1001})) == (
        "attributes['ptz'] is 1001 characters long (at most 1000)"
    )


def test_nested_and_listed_strings_name_their_path():
    req = wall_pb2.PushRequest(wall="wall-1")
    req.content.alarm.camera_ids.extend(["cam-1", "c" * 129])
    assert problem(req) == "content.alarm.camera_ids[1] is 129 characters long (at most 128)"
    req = wall_pb2.PushRequest(wall="w" * 129)
    assert problem(req) == "wall is 129 characters long (at most 128)"
