"""AssetService against a real backend process on loopback."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc

A = assets_pb2.Asset


@pytest.fixture(scope="module")
def channel(backend):
    ch = open_channel(backend.address, user="viewer")
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def stub(channel):
    return assets_pb2_grpc.AssetServiceStub(channel)


def list_all(stub, **kw) -> list[assets_pb2.Asset]:
    out, token = [], ""
    while True:
        resp = stub.ListAssets(assets_pb2.ListAssetsRequest(page_token=token, **kw), timeout=10)
        out.extend(resp.assets)
        token = resp.next_page_token
        if not token:
            return out


def test_city_has_every_kind_at_dijon_scale(stub):
    assets = list_all(stub, page_size=2000)
    kinds = {}
    fleets: dict[str, int] = {}
    for a in assets:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
        if a.kind == A.VEHICLE:
            fleets[a.attributes["fleet"]] = fleets.get(a.attributes["fleet"], 0) + 1
    assert kinds[A.CAMERA] == 269
    assert kinds[A.STREET_LIGHT] == 5000
    assert 100 <= kinds[A.TRAFFIC_SIGNAL] <= 120
    assert kinds[A.BOLLARD] == 50
    assert kinds[A.DELIVERY_BAY] == 200
    assert kinds[A.WATER_SENSOR] == 150
    assert fleets["police"] + fleets["technical"] == 60  # the municipal fleet
    assert 60 <= fleets["bus"] <= 100 and fleets["tram"] > 0 and fleets["shuttle"] > 0  # transit
    assert kinds[A.ACCESS_POINT] >= 120
    assert kinds[A.TRAM_STATION] >= 20
    a = assets[0]
    assert a.id and a.name and a.district and a.status != A.STATUS_UNSPECIFIED
    assert 47.2 < a.position.lat < 47.45 and 4.9 < a.position.lon < 5.2


def test_paging_returns_each_asset_once(stub):
    first = stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=700), timeout=10)
    ids = [a.id for a in list_all(stub, page_size=700)]
    assert len(ids) == len(set(ids)) == first.total_size
    assert len(first.assets) == 700 and first.next_page_token


def test_filter_by_kind_and_district(stub):
    cams = list_all(stub, kinds=[A.CAMERA])
    assert len(cams) == 269 and all(a.kind == A.CAMERA for a in cams)
    district = cams[0].district
    both = list_all(stub, kinds=[A.CAMERA, A.BOLLARD], districts=[district])
    assert both and all(a.district == district and a.kind in (A.CAMERA, A.BOLLARD) for a in both)


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (assets_pb2.ListAssetsRequest(page_size=-1), "page_size"),
        (assets_pb2.ListAssetsRequest(page_token="not-a-token"), "page_token"),
        (assets_pb2.ListAssetsRequest(kinds=[99]), "kinds"),
    ],
)
def test_malformed_list_is_invalid_argument_with_reason(stub, request_, needle):
    with pytest.raises(grpc.RpcError) as err:
        stub.ListAssets(request_, timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in err.value.details()


def test_get_asset(stub):
    a = list_all(stub, kinds=[A.WATER_SENSOR])[0]
    got = stub.GetAsset(assets_pb2.GetAssetRequest(id=a.id), timeout=5)
    assert got.id == a.id and got.kind == A.WATER_SENSOR
    with pytest.raises(grpc.RpcError) as err:
        stub.GetAsset(assets_pb2.GetAssetRequest(id="nope-404"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and "nope-404" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.GetAsset(assets_pb2.GetAssetRequest(id=""), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_telemetry_history_and_errors(stub):
    sensor = list_all(stub, kinds=[A.WATER_SENSOR])[0]
    start = Timestamp()
    start.FromSeconds(int(time.time()) - 3600)
    resp = stub.GetTelemetry(
        assets_pb2.GetTelemetryRequest(asset_id=sensor.id, start=start, max_points=300), timeout=5
    )
    metrics = {s.metric: s for s in resp.series}
    assert metrics, "a water sensor reports telemetry"
    for s in metrics.values():
        assert 0 < len(s.samples) <= 300
        times = [x.time_unix_ms for x in s.samples]
        assert times == sorted(times)
    with pytest.raises(grpc.RpcError) as err:
        stub.GetTelemetry(assets_pb2.GetTelemetryRequest(asset_id=sensor.id, metric="bogus"), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "bogus" in err.value.details()
    end = Timestamp()
    end.FromSeconds(int(time.time()) - 7200)
    with pytest.raises(grpc.RpcError) as err:
        stub.GetTelemetry(assets_pb2.GetTelemetryRequest(asset_id=sensor.id, start=start, end=end), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "before" in err.value.details()


def test_watch_telemetry_streams_new_samples(stub):
    vehicle = list_all(stub, kinds=[A.VEHICLE])[0]
    stream = stub.WatchTelemetry(assets_pb2.WatchTelemetryRequest(asset_id=vehicle.id), timeout=120)
    messages = []
    for msg in stream:  # the first message, then three more, each with samples newer than before
        messages.append(msg)
        if len(messages) == 4:
            break
    stream.cancel()
    assert len(messages) == 4, "the stream ended early"
    newest = []
    for msg in messages:
        assert msg.asset_id == vehicle.id and any(len(s.samples) for s in msg.series)
        newest.append(max(x.time_unix_ms for s in msg.series for x in s.samples))
    assert newest == sorted(set(newest)), f"each message brings newer samples: {newest}"
    assert abs(newest[0] / 1000 - time.time()) < 60


def test_health_and_reflection(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "vigie.v1.AssetService", "vigie.v1.VideoService"):
        resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = refl.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for s in next(iter(answers)).list_services_response.service}
    assert {"vigie.v1.AssetService", "vigie.v1.VideoService", "grpc.health.v1.Health"} <= names
