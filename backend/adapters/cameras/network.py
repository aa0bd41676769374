"""The catalogue cameras as a DeviceNetwork: assets, health from their streams, shared readers.

Each non-direct camera gets one StreamReader thread at start(). Reader threads never touch the
store (it is single-threaded): they post status transitions to the asyncio loop with
call_soon_threadsafe, and a watchdog task on the loop catches streams that stall silently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from vigie.backend.adapters.base import (
    CameraInfo,
    DeviceAnswer,
    DeviceCommand,
    DeviceNetwork,
    PtzAction,
    PtzCommand,
    PtzError,
    PtzState,
    Series,
    VideoSource,
)
from vigie.backend.adapters.cameras.catalogue import CameraSpec, redact, redact_text
from vigie.backend.adapters.cameras.source import SharedSource, StreamReader
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.actions import Action
from vigie.backend.domain.assets import Asset, Kind, MetricInfo, Status
from vigie.backend.domain.revlog import AssetStore

log = logging.getLogger(__name__)

STALE_S = 5.0  # no frame for this long: the camera is OFFLINE
WATCHDOG_S = 0.5
REFRESH_S = 30.0  # last_seen of a streaming camera is refreshed this often
NO_ONVIF = "PTZ control of real cameras is not supported yet (no ONVIF)"


class CameraNetwork(DeviceNetwork):
    """Cameras from a catalogue file; `district_of` (the simulated city's) places them in districts."""

    name = "cameras"

    def __init__(
        self,
        specs: list[CameraSpec],
        district_of: Callable[[float, float], str] | None = None,
        stale_s: float = STALE_S,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        self.specs = {s.id: s for s in specs}
        self.district_of = district_of
        self.stale_s = stale_s
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.readers: dict[str, StreamReader] = {}
        self._current: dict[str, Asset] = {}
        self._store: AssetStore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    # --- DeviceNetwork ------------------------------------------------------------------------------

    async def start(self, store: AssetStore) -> None:
        self._store = store
        loop = self._loop = asyncio.get_running_loop()
        now = time.time()
        initial = []
        for spec in self.specs.values():
            if spec.district is not None and self.district_of is None:
                district = spec.district
            else:
                district = self.district_of(spec.lat, spec.lon) if self.district_of else "—"
            a = Asset(
                id=spec.id,
                kind=Kind.CAMERA,
                name=spec.name,
                district=district,
                lat=spec.lat,
                lon=spec.lon,
                # Direct cameras are read by the consoles, not by us: we cannot vouch for them.
                status=Status.OK if spec.direct else Status.OFFLINE,
                status_reason="" if spec.direct else f"no video yet: connecting to {redact(spec.url)}",
                last_seen=now,
                heading_deg=spec.heading_deg,
                attributes={
                    "ptz": "true" if spec.ptz else "false",
                    "source": spec.source,
                    "direct": "true" if spec.direct else "false",
                },
            )
            self._current[spec.id] = a
            initial.append(a)
        store.publish(initial)
        for spec in self.specs.values():
            if spec.direct:
                continue

            def post(up: bool, reason: str, _id: str = spec.id) -> None:
                loop.call_soon_threadsafe(self._apply, _id, up, reason)

            reader = StreamReader(spec, post, self.open_timeout_s, self.read_timeout_s)
            self.readers[spec.id] = reader
            reader.start()
        self._task = loop.create_task(self._watchdog(), name="camera-watchdog")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        for r in self.readers.values():
            r.request_stop()
        # Joining may wait for an FFmpeg call to time out: keep it off the loop.
        await asyncio.gather(*(asyncio.to_thread(r.stop, 1.0) for r in self.readers.values()))

    def metrics(self, asset_id: str) -> list[MetricInfo]:
        return []

    def telemetry(
        self, asset_id: str, metric: str, start: float, end: float, max_points: int
    ) -> list[Series]:
        return []

    def open_video(self, camera_id: str, width: int, height: int, max_fps: float) -> VideoSource | None:
        reader = self.readers.get(camera_id)
        return None if reader is None else SharedSource(reader, width, height, max_fps)

    def camera_info(self, camera_id: str) -> CameraInfo | None:
        spec = self.specs.get(camera_id)
        if spec is None:
            return None
        return CameraInfo(spec.source, direct=spec.direct, url=spec.url if spec.direct else "")

    def recording_url(self, camera_id: str) -> str | None:
        spec = self.specs.get(camera_id)
        return spec.url if spec is not None and spec.source in ("rtsp", "mjpeg") else None

    def ptz(self, camera_id: str, command: PtzCommand) -> tuple[PtzState, str]:
        spec = self.specs.get(camera_id)
        if spec is None:
            raise PtzError("not_found", f"no camera with id {camera_id!r}")
        if not spec.ptz:
            raise PtzError("failed_precondition", f"camera {camera_id!r} is a fixed camera (no PTZ)")
        raise PtzError("failed_precondition", NO_ONVIF)

    def knows(self, asset_id: str) -> bool:
        return asset_id in self.specs

    async def command(self, command: DeviceCommand) -> DeviceAnswer:
        """Catalogue cameras only take CAMERA_GOTO_PRESET, through their PTZ (refused until ONVIF)."""
        if command.action is not Action.CAMERA_GOTO_PRESET:
            return DeviceAnswer(False, f"catalogue cameras do not support {command.action.value}")
        try:
            _, message = self.ptz(
                command.asset_id, PtzCommand(PtzAction.GOTO_PRESET, preset=command.params.preset)
            )
        except PtzError as exc:
            return DeviceAnswer(False, str(exc))
        a = self._current.get(command.asset_id)
        if a is not None:  # the camera reports where it is: that confirms the command
            preset = str(command.params.preset)
            attrs = dict(a.attributes, preset=preset)
            self._publish(dataclasses.replace(a, attributes=attrs, last_seen=time.time(), revision=0))
        return DeviceAnswer(True, message)

    # --- status -------------------------------------------------------------------------------------

    def _apply(self, camera_id: str, up: bool, reason: str) -> None:
        """On the loop: publish an OK/OFFLINE transition (no-op when nothing changes)."""
        a = self._current.get(camera_id)
        if a is None or self._store is None:
            return
        status = Status.OK if up else Status.OFFLINE
        # Every viewer reads status_reason: whatever produced it, no URL in it keeps a secret.
        reason = "" if up else redact_text(reason)
        if a.status is status and a.status_reason == reason:
            return
        log.info("camera %s: %s %s", camera_id, status.value, reason)
        self._publish(
            dataclasses.replace(a, status=status, status_reason=reason, last_seen=time.time(), revision=0)
        )

    def _publish(self, a: Asset) -> None:
        self._current[a.id] = a
        assert self._store is not None
        self._store.publish([a])

    async def _watchdog(self) -> None:
        """Mark cameras whose frames stopped OFFLINE; refresh last_seen of streaming ones."""
        while True:
            await asyncio.sleep(WATCHDOG_S)
            now_mono, now = time.monotonic(), time.time()
            for cid, r in self.readers.items():
                try:
                    if r.up and now_mono - r.last_frame_mono > self.stale_s:
                        r.mark_down(f"no frame for {self.stale_s:g} s from {redact(r.spec.url)}")
                    a = self._current[cid]
                    if a.status is Status.OK and r.up and now - a.last_seen > REFRESH_S:
                        self._publish(dataclasses.replace(a, last_seen=now, revision=0))
                except Exception:
                    log.exception("camera watchdog failed for %s", cid)
