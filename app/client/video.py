"""The video service: camera streams (on the core's video channel, one WatchVideo call per tile:
app/client/video_link.py), the camera list and PTZ."""

from __future__ import annotations

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.video_link import FrameSink, VideoLink, Want
from vigie.v1 import video_pb2, video_pb2_grpc


class VideoClient(QObject):
    sig_cameras = Signal(object)  # {camera id: CameraInfo}
    sig_ptz_result = Signal(str, bool, str)  # camera id, accepted, what happened (or why not)

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core
        self.links: dict[str, VideoLink] = {}  # by key; used on the client loop only
        self._made = 0

    def open_video(
        self, key: str, camera_id: str, sink: FrameSink, profile: str = "SUB", max_fps: float = 10.0
    ) -> None:
        """Stream a camera into `sink` under `key` (switching what that key streamed, in its call)."""
        self.core.submit(self._open(key, Want(camera_id, sink, profile, max_fps)))

    def close_video(self, key: str) -> None:
        self.core.submit(self._close(key))

    async def _open(self, key: str, want: Want) -> None:
        link = self.links.get(key)
        if link is not None and not link.finished():
            link.watch(want)
            return
        link = self.links[key] = VideoLink(self.core, want, self.core.sig_error.emit)
        # Under a name of its own: a link still ending (stop()) and its key's next link both
        # belong to the core's tasks, which the session's stop cancels.
        self._made += 1
        name = f"video:{key}#{self._made}"
        link.task = self.core.tasks[name] = self.core.spawn(link.run())
        link.task.add_done_callback(lambda _t: self.core.forget_task(name))

    async def _close(self, key: str) -> None:
        link = self.links.pop(key, None)
        if link is not None:
            await link.stop()

    def request_cameras(self) -> None:
        """Fetch the camera list (PTZ, presets, direct URLs); answered by sig_cameras."""
        self.core.submit(self._cameras())

    def ptz(
        self,
        camera_id: str,
        action: str,
        pan: float = 0.0,
        tilt: float = 0.0,
        zoom: float = 0.0,
        preset: int = 0,
        timeout_s: float = 0.0,
    ) -> None:
        """PTZ request ("move", "stop", "preset"); the outcome comes back on sig_ptz_result."""
        req = video_pb2.PtzRequest(
            camera_id=camera_id,
            action=convert.PTZ_ACTIONS[action],
            pan=pan,
            tilt=tilt,
            zoom=zoom,
            preset=preset,
            timeout_s=timeout_s,
        )
        self.core.submit(self._ptz(req))

    def _stub(self) -> video_pb2_grpc.VideoServiceStub:
        return self.core.stub(video_pb2_grpc.VideoServiceStub, video=True)

    async def _cameras(self) -> None:
        try:
            resp = await self._stub().ListCameras(video_pb2.ListCamerasRequest(), timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.core.sig_error.emit(f"Cameras: {self.core.describe(exc)}")
            return
        self.sig_cameras.emit({c.id: convert.camera(c) for c in resp.cameras})

    async def _ptz(self, req: video_pb2.PtzRequest) -> None:
        try:
            resp = await self._stub().Ptz(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.sig_ptz_result.emit(req.camera_id, False, self.core.describe(exc))
            return
        state = f"P{resp.pan_deg:.0f}° T{resp.tilt_deg:.0f}° Z{resp.zoom:.1f}×"
        self.sig_ptz_result.emit(req.camera_id, True, f"{resp.message} — {state}" if resp.message else state)
