"""Plain records the client hands to the Qt models (made off the GUI thread by app/client/convert.py,
read on it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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


@dataclass(slots=True)
class Series:
    """Samples of one metric: times in unix seconds, values; both float64 arrays."""

    metric: str
    label: str
    unit: str
    times: np.ndarray
    values: np.ndarray


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
