"""Plain records the session hands to the Qt models (made off the GUI thread, read on it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from vigie.v1 import alarms_pb2, assets_pb2

KIND_NAMES = {v: k.lower() for k, v in assets_pb2.Asset.Kind.items() if v != 0}
STATUS_NAMES = {v: k.lower() for k, v in assets_pb2.Asset.Status.items() if v != 0}


@dataclass(slots=True)
class AssetRecord:
    """One asset's state. `attributes` is read from the message only when asked for: copying the
    map costs half of the conversion, and only the detail view needs it."""

    id: str
    kind: str  # "camera", "traffic_signal", ... (Asset.Kind names, lower case)
    name: str
    district: str
    lat: float
    lon: float
    status: str  # "ok", "warning", "fault", "offline", "maintenance"
    reason: str
    last_seen: float  # unix seconds
    heading: float
    revision: int
    _attrs: Any = field(default=None, repr=False)  # a protobuf map, or a dict

    @property
    def attributes(self) -> dict[str, str]:
        return dict(self._attrs) if self._attrs is not None else {}

    @classmethod
    def from_pb(cls, a: assets_pb2.Asset) -> AssetRecord:
        return cls(
            a.id,
            KIND_NAMES.get(a.kind, "unknown"),
            a.name,
            a.district,
            a.position.lat,
            a.position.lon,
            STATUS_NAMES.get(a.status, "offline"),
            a.status_reason,
            a.last_seen.seconds + a.last_seen.nanos * 1e-9,
            a.heading_deg,
            a.revision,
            a.attributes,
        )


@dataclass(slots=True)
class Series:
    """Samples of one metric: times in unix seconds, values; both float64 arrays."""

    metric: str
    label: str
    unit: str
    times: np.ndarray
    values: np.ndarray

    @classmethod
    def from_pb(cls, s: assets_pb2.MetricSeries) -> Series:
        n = len(s.samples)
        times = np.fromiter((x.time_unix_ms for x in s.samples), dtype=np.float64, count=n) / 1000.0
        values = np.fromiter((x.value for x in s.samples), dtype=np.float64, count=n)
        return cls(s.metric, s.label or s.metric, s.unit, times, values)


@dataclass(slots=True)
class CameraInfo:
    """What the mosaic needs to know of a camera beyond its asset record."""

    id: str
    name: str
    ptz: bool
    presets: list[tuple[int, str]]
    direct: bool
    url: str
    source: str

    @classmethod
    def from_pb(cls, c: Any) -> CameraInfo:
        return cls(
            c.id,
            c.name,
            c.ptz,
            [(p.number, p.name) for p in c.presets],
            c.direct,
            c.url,
            c.source or "simulated",
        )


ALARM_STATE_NAMES = {v: k.lower() for k, v in alarms_pb2.Alarm.State.items() if v != 0}


def _ts(t: Any) -> float:
    return t.seconds + t.nanos * 1e-9


@dataclass(slots=True)
class AlarmRecord:
    """One alarm's state as the console shows it (states are Alarm.State names, lower case)."""

    id: str
    source_key: str
    asset_id: str
    asset_name: str
    asset_kind: str
    district: str
    lat: float
    lon: float
    priority: int
    cause: str
    message: str
    state: str  # "unack_active", "ack_active", "rtn_unack", "normal", "shelved", "suppressed", ...
    active: bool
    acknowledged: bool
    raised_at: float
    cleared_at: float
    acknowledged_at: float
    acknowledged_by: str
    ack_comment: str
    shelved_until: float
    shelve_reason: str
    camera_ids: list[str]
    occurrences: int
    chattering: bool
    sequence: int
    updated_at: float

    @classmethod
    def from_pb(cls, a: alarms_pb2.Alarm) -> AlarmRecord:
        return cls(
            a.id,
            a.source_key,
            a.asset_id,
            a.asset_name,
            KIND_NAMES.get(a.asset_kind, "unknown"),
            a.district,
            a.position.lat,
            a.position.lon,
            a.priority,
            a.cause,
            a.message,
            ALARM_STATE_NAMES.get(a.state, "normal"),
            a.active,
            a.acknowledged,
            _ts(a.raised_at),
            _ts(a.cleared_at),
            _ts(a.acknowledged_at),
            a.acknowledged_by,
            a.ack_comment,
            _ts(a.shelved_until),
            a.shelve_reason,
            list(a.camera_ids),
            a.occurrences,
            a.chattering,
            a.sequence,
            _ts(a.updated_at),
        )
