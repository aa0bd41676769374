"""WatchAssets' change batches (backend/services/assets.py ChangeEncoder) are the messages the
field-by-field conversion (asset_to_pb) builds, for every kind of asset and edge value, and one
state is encoded once for every watcher."""

from __future__ import annotations

import dataclasses

from vigie.backend.adapters.simulator.city import generate_city
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.services.assets import ChangeEncoder
from vigie.backend.services.convert import asset_to_pb
from vigie.v1 import assets_pb2


def reference(changes: list[Asset], epoch: str) -> assets_pb2.WatchAssetsResponse:
    """The message as WatchAssets built it before the encoder."""
    msg = assets_pb2.WatchAssetsResponse(revision=changes[-1].revision, epoch=epoch)
    for a in changes:
        c = msg.changes.changes.add()
        c.revision = a.revision
        asset_to_pb(a, c.asset)
    return msg


def published(assets: list[Asset], first: int) -> list[Asset]:
    return [dataclasses.replace(a, revision=first + i) for i, a in enumerate(assets)]


def test_a_city_of_every_kind_encodes_as_asset_to_pb():
    city = generate_city(1, 300, 20).assets
    assert {a.kind for a in city} >= {Kind.CAMERA, Kind.STREET_LIGHT, Kind.VEHICLE, Kind.WATER_SENSOR}
    changes = published(
        [
            dataclasses.replace(a, last_seen=1_765_000_000.123456 + i, heading_deg=(i % 7) * 51.5)
            for i, a in enumerate(city)
        ],
        1,
    )
    encoder = ChangeEncoder()
    got = encoder.message(changes, "epoch-1")
    assert got == reference(changes, "epoch-1")
    assert [c.asset.id for c in got.changes.changes] == [a.id for a in city]


def test_edge_values_encode_as_asset_to_pb():
    base = Asset("x-1", Kind.BOLLARD, "Borne", "Centre", 0.0, 0.0)
    edges = [
        base,  # every optional field at its default
        dataclasses.replace(base, status=Status.FAULT, status_reason="é" * 1500),  # clipped to 1,000
        dataclasses.replace(base, name="n" * 2000, district="d" * 1001, attributes={"k" * 300: "v" * 3000}),
        dataclasses.replace(base, lat=-47.5, lon=-5.25, heading_deg=-90.0, last_seen=0.5),
        dataclasses.replace(
            base, status=Status.MAINTENANCE, last_seen=2**33 + 0.999999, attributes={"a": ""}
        ),
    ]
    changes = published(edges, 2**40)  # revisions past 32 bits: long varints
    assert ChangeEncoder().message(changes, "e") == reference(changes, "e")


def test_a_state_is_encoded_once_for_every_watcher_and_again_when_it_changes():
    encoder = ChangeEncoder(keep=3)
    lamp = published(
        [Asset("l-1", Kind.STREET_LIGHT, "Lampe", "Nord", 47.3, 5.0, attributes={"m": "on"})], 7
    )[0]
    first = encoder.change(lamp)
    assert encoder.change(lamp) is first, "a second watcher gets the same bytes"
    renamed = dataclasses.replace(lamp, name="Lampe 2", revision=8)
    moved_on = dataclasses.replace(lamp, attributes={"m": "off"}, revision=9)
    for a in (renamed, moved_on):
        got = assets_pb2.AssetChange.FromString(encoder.change(a))
        assert got == assets_pb2.AssetChange(revision=a.revision, asset=asset_to_pb(a))
    other = dataclasses.replace(lamp, status=Status.OFFLINE)  # same revision, another state object
    assert assets_pb2.AssetChange.FromString(encoder.change(other)).asset.status == assets_pb2.Asset.OFFLINE
    for r in range(10, 20):
        encoder.change(dataclasses.replace(lamp, revision=r))
    assert len(encoder._changes) == 3, "only the last `keep` states are kept"


def test_attributes_changed_in_place_are_encoded_again():
    encoder = ChangeEncoder()
    attrs = {"mode": "on"}
    lamp = Asset("l-2", Kind.STREET_LIGHT, "Lampe", "Sud", 47.3, 5.0, attributes=attrs, revision=1)
    encoder.change(lamp)
    attrs["mode"] = "dimmed"  # against the rules (published states are immutable), still right
    later = dataclasses.replace(lamp, revision=2)
    assert assets_pb2.AssetChange.FromString(encoder.change(later)).asset.attributes["mode"] == "dimmed"
