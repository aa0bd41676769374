"""Translation between domain objects and vigie.v1 protobuf messages (the only place that does it)."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from vigie.v1 import assets_pb2, common_pb2

from backend.domain.assets import Asset, Kind, Status

KIND_TO_PB: dict[Kind, int] = {
    Kind.CAMERA: assets_pb2.Asset.CAMERA,
    Kind.TRAFFIC_SIGNAL: assets_pb2.Asset.TRAFFIC_SIGNAL,
    Kind.STREET_LIGHT: assets_pb2.Asset.STREET_LIGHT,
    Kind.BOLLARD: assets_pb2.Asset.BOLLARD,
    Kind.ACCESS_POINT: assets_pb2.Asset.ACCESS_POINT,
    Kind.DELIVERY_BAY: assets_pb2.Asset.DELIVERY_BAY,
    Kind.WATER_SENSOR: assets_pb2.Asset.WATER_SENSOR,
    Kind.TRAM_STATION: assets_pb2.Asset.TRAM_STATION,
    Kind.VEHICLE: assets_pb2.Asset.VEHICLE,
}
PB_TO_KIND: dict[int, Kind] = {v: k for k, v in KIND_TO_PB.items()}

STATUS_TO_PB: dict[Status, int] = {
    Status.OK: assets_pb2.Asset.OK,
    Status.WARNING: assets_pb2.Asset.WARNING,
    Status.FAULT: assets_pb2.Asset.FAULT,
    Status.OFFLINE: assets_pb2.Asset.OFFLINE,
    Status.MAINTENANCE: assets_pb2.Asset.MAINTENANCE,
}


def asset_to_pb(asset: Asset, out: assets_pb2.Asset | None = None) -> assets_pb2.Asset:
    """Fill `out` (or a new message) from a domain asset."""
    msg = assets_pb2.Asset() if out is None else out
    msg.id = asset.id
    msg.kind = KIND_TO_PB[asset.kind]  # type: ignore[assignment]
    msg.name = asset.name
    msg.district = asset.district
    msg.position.lat = asset.lat
    msg.position.lon = asset.lon
    msg.status = STATUS_TO_PB[asset.status]  # type: ignore[assignment]
    msg.status_reason = asset.status_reason
    secs = int(asset.last_seen)
    msg.last_seen.seconds = secs
    msg.last_seen.nanos = int((asset.last_seen - secs) * 1e9)
    msg.heading_deg = asset.heading_deg
    if asset.attributes:
        msg.attributes.update(asset.attributes)
    msg.revision = asset.revision
    return msg


def geo(lat: float, lon: float) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(lat=lat, lon=lon)


def seconds_of(value: Timestamp | Duration) -> float | None:
    """Seconds (since the epoch, for a Timestamp), or None when the message is not a valid one
    (nanos outside 0..999,999,999, seconds outside years 1-9999...): callers answer INVALID_ARGUMENT."""
    try:
        return value.ToNanoseconds() / 1e9
    except ValueError:
        return None
