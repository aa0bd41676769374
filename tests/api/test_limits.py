"""Bad bytes and huge requests get a clear status, and the backend goes on serving everyone."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import open_channel
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2, assets_pb2_grpc, audit_pb2, audit_pb2_grpc

GARBAGE = [  # wrong for any message type
    b"\xff\xff\xff\xff",  # a tag whose varint never ends
    b"\x0a\x05ab",  # a length-delimited field that claims 5 bytes and has 2
    b"\x08",  # a varint field with no value
    b"\x07",  # wire type 7 does not exist
    b"\x00",  # field number 0 does not exist
]
METHODS = [
    "/vigie.v1.AssetService/ListAssets",
    "/vigie.v1.AssetService/GetAsset",
    "/vigie.v1.AlarmService/Acknowledge",
    "/vigie.v1.AuditService/ListAudit",
    "/vigie.v1.AuthService/CreateUser",
    "/vigie.v1.AuthService/Login",  # public: parsed without any token
]


def still_serving(ch: grpc.Channel) -> None:
    stub = assets_pb2_grpc.AssetServiceStub(ch)
    assert stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=5).total_size > 0
    health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("method", METHODS)
def test_garbage_requests_are_invalid_argument(backend, method):
    with open_channel(backend.address, user="admin") as ch:
        for raw in GARBAGE:
            with pytest.raises(grpc.RpcError) as err:
                ch.unary_unary(method)(raw, timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (raw, err.value.details())
            assert "cannot be parsed" in err.value.details()
        still_serving(ch)


def test_garbage_in_a_stream_request_is_invalid_argument(backend):
    with open_channel(backend.address, user="viewer") as ch:
        with pytest.raises(grpc.RpcError) as err:
            next(iter(ch.unary_stream("/vigie.v1.AssetService/WatchAssets")(b"\xff\xff", timeout=5)))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        still_serving(ch)


def test_oversized_requests_are_resource_exhausted(backend):
    huge = assets_pb2.ListAssetsRequest(districts=["x" * 1024] * 5000).SerializeToString()  # ~5 MiB
    assert len(huge) > 4 * 1024 * 1024
    with open_channel(backend.address, user="viewer") as ch:
        for method in ("/vigie.v1.AssetService/ListAssets", "/vigie.v1.AssetService/WatchAssets"):
            with pytest.raises(grpc.RpcError) as err:
                if method.endswith("WatchAssets"):
                    next(iter(ch.unary_stream(method)(huge, timeout=10)))
                else:
                    ch.unary_unary(method)(huge, timeout=10)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.value.details()
        still_serving(ch)
        # Just under the byte limit, the request is parsed and refused by the field bounds.
        big = assets_pb2.ListAssetsRequest(districts=["x" * 1024] * 3000)
        with pytest.raises(grpc.RpcError) as err:
            assets_pb2_grpc.AssetServiceStub(ch).ListAssets(big, timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == "districts has 3000 entries (at most 500)"
        still_serving(ch)


def test_invalid_timestamps_are_invalid_argument(backend):
    bad = Timestamp(seconds=1, nanos=-1)  # nanos must be 0..999,999,999
    with open_channel(backend.address, user="supervisor") as ch:
        assets = assets_pb2_grpc.AssetServiceStub(ch)
        sensor = assets.ListAssets(
            assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.WATER_SENSOR], page_size=1), timeout=5
        ).assets[0]
        calls = [
            lambda: assets.GetTelemetry(
                assets_pb2.GetTelemetryRequest(asset_id=sensor.id, start=bad), timeout=5
            ),
            lambda: alarms_pb2_grpc.AlarmServiceStub(ch).ListAlarms(
                alarms_pb2.ListAlarmsRequest(end=bad), timeout=5
            ),
            lambda: audit_pb2_grpc.AuditServiceStub(ch).ListAudit(
                audit_pb2.ListAuditRequest(start=bad), timeout=5
            ),
        ]
        for call in calls:
            with pytest.raises(grpc.RpcError) as err:
                call()
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        still_serving(ch)
