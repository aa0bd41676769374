"""What the playback client hands to the console: plain dataclasses, no protobuf past app/client."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    start: float  # unix seconds
    end: float
    protected: bool = False


@dataclass(frozen=True)
class Marker:
    kind: str  # "alarm" | "incident"
    time: float
    ref_id: str
    label: str
    priority: int = 0


@dataclass(frozen=True)
class Spans:
    camera_id: str
    spans: list[Span]
    markers: list[Marker]


@dataclass(frozen=True)
class PlayState:
    """The backend's media clock of one Play stream: `position` at backend time `server_time`."""

    position: float
    speed: float
    server_time: float
    control_id: int


@dataclass(frozen=True)
class CityAsset:
    id: str
    kind: str
    name: str
    status: str
    lat: float
    lon: float


@dataclass(frozen=True)
class CityAlarm:
    id: str
    priority: int
    title: str
    asset_id: str
    state: str


@dataclass(frozen=True)
class CityAt:
    time: float
    assets: list[CityAsset]
    alarms: list[CityAlarm]
    complete: bool


@dataclass(frozen=True)
class ExportProgress:
    export_id: str
    state: str  # "RUNNING" | "DONE" | "FAILED"
    progress: float
    files: list[str] = field(default_factory=list)
    error: str = ""
