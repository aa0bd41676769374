"""The video service: camera streams (on the core's video channel), the camera list and PTZ."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import FINAL_CODES, Resume, StreamEvent, StreamState
from vigie.v1 import video_pb2, video_pb2_grpc

# (jpeg, capture unix time, sequence), called off the GUI thread
FrameSink = Callable[[bytes, float, int], None]


class VideoClient(QObject):
    sig_cameras = Signal(object)  # {camera id: CameraInfo}
    sig_ptz_result = Signal(str, bool, str)  # camera id, accepted, what happened (or why not)

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core

    def open_video(
        self, key: str, camera_id: str, sink: FrameSink, profile: str = "SUB", max_fps: float = 10.0
    ) -> None:
        """Stream a camera into `sink` under `key` (replacing what that key streamed)."""
        self.core.submit(
            self.core.replace_task(f"video:{key}", self._video(camera_id, sink, profile, max_fps))
        )

    def close_video(self, key: str) -> None:
        self.core.submit(self.core.replace_task(f"video:{key}", None))

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

    async def _video(self, camera_id: str, sink: FrameSink, profile: str, max_fps: float) -> None:
        req = video_pb2.StreamVideoRequest(
            camera_id=camera_id, profile=video_pb2.StreamVideoRequest.Profile.Value(profile), max_fps=max_fps
        )

        async def open_call(_resume: Resume) -> grpc.aio.UnaryStreamCall:
            return self._stub().StreamVideo(req)

        def on_frame(frame: video_pb2.VideoFrame) -> None:
            sink(frame.jpeg, convert.seconds(frame.capture_time), frame.sequence)

        def on_event(e: StreamEvent) -> None:
            if e.state is StreamState.FAILED:
                self.core.sig_error.emit(f"Camera {camera_id}: {e.detail}")

        stream = self.core.stream(
            f"video of {camera_id}",
            open_call,
            on_frame,
            on_event=on_event,
            stale_after=None,  # the tile shows "signal lost" itself
            # Final answers: unknown camera, bad request, a camera the console must read itself,
            # not allowed; anything else is a broken link and is retried.
            final_codes=(*FINAL_CODES, grpc.StatusCode.FAILED_PRECONDITION),
        )
        await stream.run()

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
