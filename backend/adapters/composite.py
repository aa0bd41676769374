"""Several device networks behind one: the simulated city plus the catalogue cameras, say.

`Backend` takes a single network; this one fans start/stop out to all of them and routes every
per-asset call to the first network that knows the asset (asset ids must not overlap).
"""

from __future__ import annotations

from collections.abc import Callable

from vigie.backend.adapters.base import (
    CameraInfo,
    DeviceAnswer,
    DeviceCommand,
    DeviceNetwork,
    PtzCommand,
    PtzError,
    PtzState,
    Series,
    VideoSource,
)
from vigie.backend.domain.access import Cardholder
from vigie.backend.domain.assets import MetricInfo
from vigie.backend.domain.revlog import AssetStore


class CompositeNetwork(DeviceNetwork):
    name = "composite"

    def __init__(self, networks: list[DeviceNetwork]) -> None:
        if not networks:
            raise ValueError("at least one device network is needed")
        self.networks = list(networks)

    async def start(self, store: AssetStore) -> None:
        started: list[DeviceNetwork] = []
        try:
            for n in self.networks:
                await n.start(store)
                started.append(n)
        except BaseException:
            for n in reversed(started):
                await n.stop()
            raise

    async def stop(self) -> None:
        for n in reversed(self.networks):
            await n.stop()

    def connection_problem(self) -> str | None:
        problems = [f"{n.name}: {p}" for n in self.networks if (p := n.connection_problem())]
        return "; ".join(problems) or None

    def metrics(self, asset_id: str) -> list[MetricInfo]:
        for n in self.networks:
            found = n.metrics(asset_id)
            if found:
                return found
        return []

    def telemetry(
        self, asset_id: str, metric: str, start: float, end: float, max_points: int
    ) -> list[Series]:
        for n in self.networks:
            found = n.telemetry(asset_id, metric, start, end, max_points)
            if found:
                return found
        return []

    def basemap(self) -> dict[str, dict] | None:
        for n in self.networks:
            found = n.basemap()
            if found is not None:
                return found
        return None

    def open_video(self, camera_id: str, width: int, height: int, max_fps: float) -> VideoSource | None:
        for n in self.networks:
            found = n.open_video(camera_id, width, height, max_fps)
            if found is not None:
                return found
        return None

    def camera_info(self, camera_id: str) -> CameraInfo | None:
        for n in self.networks:
            found = n.camera_info(camera_id)
            if found is not None:
                return found
        return None

    def recording_url(self, camera_id: str) -> str | None:
        for n in self.networks:
            if n.camera_info(camera_id) is not None:
                return n.recording_url(camera_id)
        return None

    def ptz(self, camera_id: str, command: PtzCommand) -> tuple[PtzState, str]:
        for n in self.networks:
            if n.camera_info(camera_id) is not None:
                return n.ptz(camera_id, command)
        raise PtzError("not_found", f"no camera with id {camera_id!r}")

    def cardholders(self) -> list[Cardholder]:
        return [c for n in self.networks for c in n.cardholders()]

    def on_badge(self, listener: Callable[[str, str, float], None] | None) -> None:
        for n in self.networks:
            n.on_badge(listener)

    def knows(self, asset_id: str) -> bool:
        return any(n.knows(asset_id) for n in self.networks)

    async def command(self, command: DeviceCommand) -> DeviceAnswer:
        for n in self.networks:
            if n.knows(command.asset_id):
                return await n.command(command)
        return DeviceAnswer(False, f"no device network knows {command.asset_id!r}")
