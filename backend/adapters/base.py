"""The boundary between the backend and a device network (simulator, RTSP cameras, MQTT, ...).

An adapter publishes asset states into the `AssetStore`, answers telemetry queries and opens
video sources. Services only talk to adapters through this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from vigie.backend.domain.access import Cardholder
from vigie.backend.domain.actions import Action, Params
from vigie.backend.domain.assets import MetricInfo
from vigie.backend.domain.revlog import AssetStore


@dataclass(frozen=True, slots=True)
class Series:
    """Samples of one metric: `times` in unix seconds (float64), `values` (float64), same length."""

    metric: MetricInfo
    times: np.ndarray
    values: np.ndarray


class NoFrame(TimeoutError):
    """`VideoSource.read()` had nothing new within its timeout (camera silent): try again later."""


@dataclass(frozen=True, slots=True)
class PtzPreset:
    number: int  # 1..n
    name: str
    pan_deg: float
    tilt_deg: float
    zoom: float


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What the camera list needs beyond the Asset: where the picture comes from, PTZ presets."""

    source: str  # "simulated", "rtsp", "mjpeg" or "file"
    direct: bool = False  # the console reads `url` itself
    url: str = ""
    presets: tuple[PtzPreset, ...] = ()


class PtzAction(StrEnum):
    MOVE = "move"
    STOP = "stop"
    GOTO_PRESET = "goto_preset"


@dataclass(frozen=True, slots=True)
class PtzCommand:
    """A validated PTZ request: speeds in -1..1, timeout_s > 0."""

    action: PtzAction
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    preset: int = 0
    timeout_s: float = 1.0


@dataclass(frozen=True, slots=True)
class PtzState:
    pan_deg: float  # 0..360
    tilt_deg: float  # -90..20
    zoom: float  # 1..10


class PtzError(Exception):
    """A PTZ request the network refuses; `code` is "not_found", "failed_precondition" or
    "invalid_argument" so the service can map it to a gRPC status without the adapter knowing gRPC."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    """One command for one device, already validated (the action fits the device's kind)."""

    command_id: str
    asset_id: str
    action: Action
    params: Params


@dataclass(frozen=True, slots=True)
class DeviceAnswer:
    """The device's answer to a command: it will act (`ok`), or it refuses and `detail` says why."""

    ok: bool
    detail: str


class VideoSource(ABC):
    """A camera opened at a given size. `read()` blocks (it runs in a worker thread)."""

    fps: float

    @abstractmethod
    def read(self) -> tuple[np.ndarray, float, int]:
        """Wait for and return the next frame: (BGR uint8 HxWx3, capture unix time, sequence)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the source."""


class DeviceNetwork(ABC):
    name: str = "device-network"

    @abstractmethod
    async def start(self, store: AssetStore) -> None:
        """Publish every device's initial state, then keep publishing changes until stop()."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop producing changes and release resources."""

    def connection_problem(self) -> str | None:
        """Why the backend cannot reach the devices now (None: it can). Reported as health
        `vigie.backend.devices` (backend/observability/health.py); the simulator is always there."""
        return None

    @abstractmethod
    def metrics(self, asset_id: str) -> list[MetricInfo]:
        """The metrics an asset produces (empty when it has none or is unknown)."""

    @abstractmethod
    def telemetry(
        self, asset_id: str, metric: str, start: float, end: float, max_points: int
    ) -> list[Series]:
        """Samples in [start, end] (unix seconds) for `metric`, or for every metric when it is ""."""

    def basemap(self) -> dict[str, dict] | None:
        """The network's own vector basemap as GeoJSON FeatureCollections by layer name, if it has one."""
        return None

    @abstractmethod
    def open_video(self, camera_id: str, width: int, height: int, max_fps: float) -> VideoSource | None:
        """A source for the camera's picture at about width x height, or None if it has no video."""

    def camera_info(self, camera_id: str) -> CameraInfo | None:
        """Source kind, direct URL and PTZ presets of one of this network's cameras (None: not ours)."""
        return None

    def recording_url(self, camera_id: str) -> str | None:
        """The stream URL the recorder opens to store a camera's packets as they come (RTSP,
        HTTP MJPEG); None: record the decoded pictures of open_video() (simulated, files)."""
        return None

    def knows(self, asset_id: str) -> bool:
        """Whether the asset is one of this network's devices (routes commands between networks)."""
        return False

    async def command(self, command: DeviceCommand) -> DeviceAnswer:
        """Deliver a command to one device and return its acknowledgement or refusal.

        A device that does not answer makes this wait forever: the caller applies its own
        acknowledgement deadline (and cancels). Acknowledging is not doing: the device then
        publishes its new state to the store, which is what confirms the command."""
        return DeviceAnswer(False, "not supported by this device network")

    def cardholders(self) -> list[Cardholder]:
        """The access-control directory of this network's doors (empty: none)."""
        return []

    def on_badge(self, listener: Callable[[str, str, float], None] | None) -> None:  # noqa: B027 - optional
        """Call `listener(door id, badge id, unix time)` for every badge presented at a door."""

    def ptz(self, camera_id: str, command: PtzCommand) -> tuple[PtzState, str]:
        """Apply a PTZ command; returns the state after it and a message for the operator.

        Raises PtzError when the camera is not this network's or cannot do it."""
        raise PtzError("not_found", f"no camera with id {camera_id!r}")
