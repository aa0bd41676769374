"""The console's asset records are what the backend sent, field by field (app/client/convert.py),
and the asset watch's flushes space out under a flood (app/client/assets.py)."""

from __future__ import annotations

import asyncio

import pytest

from vigie.app.client import assets as assets_client
from vigie.app.client import convert
from vigie.app.client.assets import AssetsClient
from vigie.app.client.core import ClientCore
from vigie.v1 import assets_pb2, common_pb2


def _asset(n: int) -> assets_pb2.Asset:
    a = assets_pb2.Asset(
        id=f"cam-{n:04d}",
        kind=assets_pb2.Asset.CAMERA,
        name=f"Caméra place Darcy {n}",
        district="Centre-ville",
        position=common_pb2.GeoPoint(lat=47.3225 + n, lon=5.0341),
        status=assets_pb2.Asset.FAULT,
        status_reason="no video",
        heading_deg=271.5,
        revision=1000 + n,
    )
    a.last_seen.seconds, a.last_seen.nanos = 1_765_000_000, 250_000_000
    a.attributes["ptz"] = "true"
    return a


def test_every_field_is_what_the_backend_sent():
    msgs = [_asset(1), _asset(2), assets_pb2.Asset(id="bare")]
    one, two, bare = convert.assets(msgs)
    assert (one.id, one.kind, one.name, one.district) == (
        "cam-0001",
        "camera",
        "Caméra place Darcy 1",
        "Centre-ville",
    )
    assert (one.lat, one.lon, one.heading) == (48.3225, 5.0341, 271.5)
    assert (one.status, one.reason, one.revision) == ("fault", "no video", 1001)
    assert one.last_seen == pytest.approx(1_765_000_000.25, abs=1e-6)
    assert one.attributes == {"ptz": "true"}
    assert two.id == "cam-0002" and two.revision == 1002
    # Unset enums and fields: the console's defaults, as convert.asset always gave.
    assert (bare.kind, bare.status, bare.last_seen, bare.attributes) == ("unknown", "offline", 0.0, {})
    assert convert.asset(_asset(1)) == one


def _changes(first: int, ids: list[str]) -> assets_pb2.WatchAssetsResponse:
    msg = assets_pb2.WatchAssetsResponse(revision=first + len(ids) - 1, epoch="e")
    for i, aid in enumerate(ids):
        msg.changes.changes.add(revision=first + i, asset=assets_pb2.Asset(id=aid))
    return msg


def test_a_flood_spaces_the_flushes_to_the_stores_tick(qapp, monkeypatch):
    client = AssetsClient(ClientCore("127.0.0.1:9"))  # never started: fed directly
    sizes: list[int] = []
    client.sig_changes.connect(lambda batch, _rev, _count: sizes.append(len(batch)))
    feeds = iter([2000, 10, 10])  # assets changed before each flush
    delays: list[float] = []
    revision = [1]

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)
        n = next(feeds, None)
        if n is None:
            raise asyncio.CancelledError
        client._on_message(_changes(revision[0], [f"a{i}" for i in range(n)]))
        revision[0] += n

    monkeypatch.setattr(assets_client.asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(client._flush_loop())
    assert sizes == [2000, 10, 10]
    assert delays == [0.05, 0.1, 0.05, 0.05], "after a flood batch the next flush waits one store tick"
