"""vigie.v1.VideoService: the camera list and live JPEG streams.

Rendering/reading and JPEG encoding run in a thread pool (OpenCV releases the GIL), so the
asyncio loop that serves every other stream never waits on a picture.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import cv2
import grpc
import numpy as np

from vigie.backend.adapters.base import DeviceNetwork, NoFrame, PtzAction, PtzCommand, PtzError, VideoSource
from vigie.backend.domain.assets import Kind, Status
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.security import principal
from vigie.backend.services.convert import STATUS_TO_PB, geo
from vigie.backend.services.video_watch import OFFLINE_POLL_S, frame_of, watch
from vigie.v1 import video_pb2, video_pb2_grpc

log = logging.getLogger(__name__)

PROFILE_SIZES = {
    video_pb2.StreamVideoRequest.SUB: (640, 360),
    video_pb2.StreamVideoRequest.MAIN: (1280, 720),
}
MAX_FPS = 30.0
JPEG_QUALITY = 80
MAX_PTZ_TIMEOUT_S = 60.0
# Simultaneous video streams per user: two screens of 4x4 mosaics (a console's largest layout is
# 16 tiles), so one user (or one stolen token) cannot take all the workers the others need.
MAX_STREAMS_PER_USER = 32
PTZ_CODES = {
    "not_found": grpc.StatusCode.NOT_FOUND,
    "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
}
PTZ_ACTIONS = {
    video_pb2.PtzRequest.MOVE: PtzAction.MOVE,
    video_pb2.PtzRequest.STOP: PtzAction.STOP,
    video_pb2.PtzRequest.GOTO_PRESET: PtzAction.GOTO_PRESET,
}


def _encode(source: VideoSource) -> tuple[bytes, float, int, int, int]:
    frame, captured, seq = source.read()
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    h, w = frame.shape[:2]
    return np.asarray(buf).tobytes(), captured, seq, w, h


class VideoService(video_pb2_grpc.VideoServiceServicer):
    # A stream holds a worker while its source waits for the next frame (read() paces), so the
    # pool bounds the number of concurrent streams: 256 is ten 5x5 mosaics. Waiting threads cost
    # memory, not CPU. (Pacing on the event loop instead would free them; see the issue note.)
    def __init__(
        self,
        store: AssetStore,
        network: DeviceNetwork,
        workers: int = 256,
        max_streams_per_user: int = MAX_STREAMS_PER_USER,
    ) -> None:
        self.store = store
        self.network = network
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="video")
        self.max_streams_per_user = max_streams_per_user
        self.streams: Counter[str] = Counter()  # open streams by user

    async def ListCameras(
        self, request: video_pb2.ListCamerasRequest, context: grpc.aio.ServicerContext
    ) -> video_pb2.ListCamerasResponse:
        cams = []
        for a in self.store.assets():
            if a.kind is not Kind.CAMERA:
                continue
            info = self.network.camera_info(a.id)
            cams.append(
                video_pb2.Camera(
                    id=a.id,
                    name=a.name,
                    district=a.district,
                    position=geo(a.lat, a.lon),
                    heading_deg=a.heading_deg,
                    ptz=a.attributes.get("ptz") == "true",
                    status=STATUS_TO_PB[a.status],  # type: ignore[arg-type]
                    source=info.source if info else "",
                    direct=info.direct if info else False,
                    url=info.url if info and info.direct else "",
                    presets=[video_pb2.PtzPreset(number=p.number, name=p.name) for p in info.presets]
                    if info
                    else [],
                )
            )
        return video_pb2.ListCamerasResponse(cameras=cams)

    async def Ptz(
        self, request: video_pb2.PtzRequest, context: grpc.aio.ServicerContext
    ) -> video_pb2.PtzResponse:
        """Validate here (gRPC statuses), move in the adapter; the response is the state afterwards."""
        if not request.camera_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "camera_id is required")
        asset = self.store.get(request.camera_id)
        if asset is None or asset.kind is not Kind.CAMERA:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no camera with id {request.camera_id!r}")
        action = PTZ_ACTIONS.get(request.action)
        if action is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "action is required: MOVE, STOP or GOTO_PRESET"
            )
        timeout_s = request.timeout_s or 1.0
        if action is PtzAction.MOVE:
            for axis in ("pan", "tilt", "zoom"):
                v = getattr(request, axis)
                if not (math.isfinite(v) and -1.0 <= v <= 1.0):
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, f"{axis} speed must be in -1..1, got {v}"
                    )
            if not (math.isfinite(timeout_s) and 0 < timeout_s <= MAX_PTZ_TIMEOUT_S):
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"timeout_s must be in 0..{MAX_PTZ_TIMEOUT_S:g}, got {timeout_s}",
                )
        if asset.attributes.get("ptz") != "true":  # type: ignore[union-attr]
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"camera {request.camera_id!r} is a fixed camera (no PTZ)",
            )
        if asset.status is Status.OFFLINE:  # type: ignore[union-attr]
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"camera {request.camera_id!r} is offline ({asset.status_reason or 'no reason given'})",  # type: ignore[union-attr]
            )
        cmd = PtzCommand(
            action,  # type: ignore[arg-type]
            pan=request.pan,
            tilt=request.tilt,
            zoom=request.zoom,
            preset=request.preset,
            timeout_s=timeout_s,
        )
        try:
            state, message = self.network.ptz(request.camera_id, cmd)
        except PtzError as exc:
            await context.abort(PTZ_CODES.get(exc.code, grpc.StatusCode.FAILED_PRECONDITION), str(exc))
        return video_pb2.PtzResponse(
            camera_id=request.camera_id,
            message=message,
            pan_deg=state.pan_deg,
            tilt_deg=state.tilt_deg,
            zoom=state.zoom,
        )

    async def check(
        self, request: video_pb2.StreamVideoRequest, context: grpc.aio.ServicerContext
    ) -> tuple[int, int]:
        """What a stream may show (StreamVideo and WatchVideo): the profile's (width, height), or
        the call ends with the status that says why not."""
        if not request.camera_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "camera_id is required")
        asset = self.store.get(request.camera_id)
        if asset is None or asset.kind is not Kind.CAMERA:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no camera with id {request.camera_id!r}")
        profile = request.profile or video_pb2.StreamVideoRequest.SUB
        if profile not in PROFILE_SIZES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown profile {request.profile}; use SUB or MAIN"
            )
        if not (math.isfinite(request.max_fps) and request.max_fps >= 0):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_fps must not be negative")
        info = self.network.camera_info(request.camera_id)
        if info is not None and info.direct:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"camera {request.camera_id!r} is direct: the console reads its url itself",
            )
        return PROFILE_SIZES[profile]

    async def admit(self, context: grpc.aio.ServicerContext) -> str:
        """The caller, counted as holding one more stream (release() gives it back)."""
        user = principal.current().user
        if self.streams[user] >= self.max_streams_per_user:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{user or 'this caller'} already watches {self.streams[user]} video streams, the most one"
                f" user may hold at once ({self.max_streams_per_user}): close one first",
            )
        self.streams[user] += 1
        return user

    def release(self, user: str) -> None:
        self.streams[user] -= 1
        if self.streams[user] <= 0:
            del self.streams[user]

    async def open_source(
        self, request: video_pb2.StreamVideoRequest, size: tuple[int, int], context: grpc.aio.ServicerContext
    ) -> VideoSource:
        source = self.network.open_video(request.camera_id, *size, min(request.max_fps, MAX_FPS))
        if source is None:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, f"camera {request.camera_id!r} has no video source"
            )
        return source  # type: ignore[return-value]

    def offline(self, camera_id: str) -> bool:
        """An offline camera sends nothing: the console must show "signal lost"."""
        current = self.store.get(camera_id)
        return current is not None and current.status is Status.OFFLINE

    def read(self, source: VideoSource) -> asyncio.Future[tuple[bytes, float, int, int, int]]:
        """The source's next picture, encoded, from the pool (NoFrame: none this time)."""
        return asyncio.get_running_loop().run_in_executor(self.pool, _encode, source)

    async def StreamVideo(
        self, request: video_pb2.StreamVideoRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[video_pb2.VideoFrame]:
        size = await self.check(request, context)
        user = await self.admit(context)
        try:
            source = await self.open_source(request, size, context)
            try:
                while True:
                    if self.offline(request.camera_id):
                        await asyncio.sleep(OFFLINE_POLL_S)
                        continue
                    try:
                        encoded = await self.read(source)
                    except NoFrame:
                        # Silent camera (not yet marked OFFLINE, or a gap): keep the stream open, retry.
                        continue
                    yield frame_of(*encoded)
            finally:
                source.close()
        finally:
            self.release(user)

    async def WatchVideo(
        self, request_iterator: AsyncIterator[video_pb2.WatchVideoRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[video_pb2.WatchVideoFrame]:
        async for frame in watch(self, request_iterator, context):
            yield frame
