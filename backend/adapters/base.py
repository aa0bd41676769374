"""The boundary between the backend and a device network (simulator, RTSP cameras, MQTT, ...).

An adapter publishes asset states into the `AssetStore`, answers telemetry queries and opens
video sources. Services only talk to adapters through this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from backend.domain.assets import MetricInfo
from backend.domain.revlog import AssetStore


@dataclass(frozen=True, slots=True)
class Series:
    """Samples of one metric: `times` in unix seconds (float64), `values` (float64), same length."""

    metric: MetricInfo
    times: np.ndarray
    values: np.ndarray


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
