"""Plain records the client hands to the Qt models (made off the GUI thread by app/client/convert.py,
read on it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Set by app/client/convert.py: turns the packed attributes the client layer stores into a dict,
# so that records stay free of protobuf.
unpack_attributes: Callable[[bytes], dict[str, str]] | None = None


@dataclass(slots=True)
class AssetRecord:
    """One asset's state. `attributes` is unpacked only when asked for: copying the map into a
    dict would double the conversion, and few views need it. The record keeps the asset
    serialised again (a quarter of the copy's cost), never the parsed map: a map of the stream's
    message would keep that whole message alive, with every other asset it carried (issue 20:
    50 MB more in a client of the soak's city after two minutes, and growing)."""

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
    _attrs: bytes | dict[str, str] | None = field(default=None, repr=False)  # packed, or a dict

    @property
    def attributes(self) -> dict[str, str]:
        a = self._attrs
        if a is None:
            return {}
        if isinstance(a, bytes):
            assert unpack_attributes is not None, "packed attributes without the client layer"
            return unpack_attributes(a)
        return dict(a)


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
