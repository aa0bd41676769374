"""The city's devices as plain Python objects: no Qt, no gRPC, no protobuf.

Adapters create `Asset` values and hand them to the `AssetStore`; services translate them to
protobuf. An `Asset` is treated as immutable once published: to change a device, publish a
`dataclasses.replace()` copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    CAMERA = "camera"
    TRAFFIC_SIGNAL = "traffic_signal"
    STREET_LIGHT = "street_light"
    BOLLARD = "bollard"
    ACCESS_POINT = "access_point"
    DELIVERY_BAY = "delivery_bay"
    WATER_SENSOR = "water_sensor"
    TRAM_STATION = "tram_station"
    VEHICLE = "vehicle"
    SYSTEM = "system"  # the backend itself: its system alarms (disk space, storage); never in the store


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAULT = "fault"
    OFFLINE = "offline"
    MAINTENANCE = "maintenance"


@dataclass(slots=True)
class Asset:
    id: str
    kind: Kind
    name: str
    district: str
    lat: float
    lon: float
    status: Status = Status.OK
    status_reason: str = ""
    last_seen: float = 0.0  # unix seconds of the device's last report
    heading_deg: float = 0.0  # cameras and vehicles: 0 = north, clockwise
    attributes: dict[str, str] = field(default_factory=dict)
    revision: int = 0  # set by the store when published


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """One telemetry metric an asset produces, sampled every `period_s` seconds."""

    name: str  # e.g. "pressure_bar"
    unit: str  # e.g. "bar"
    label: str  # e.g. "Pressure"
    period_s: float
