"""VideoService.WatchVideo: one tile's live video in one call that switches camera inside it.

Why a call of its own and not StreamVideo: a console ends a StreamVideo by cancelling it, and gRPC's
core keeps about 1.5 KB of native memory for each stream cancelled while it was receiving pictures
(a console replaces hundreds of streams an hour: docs/soak.md). A WatchVideo call is ended by the
console half-closing it; the backend then returns, and the call ends with OK, leaving nothing.

The requests are read by a task of their own into a one-place slot (the newest wins: a console that
switches faster than the backend opens sources never queues up work). Pictures are read in the
service's pool; a switch does not wait for the picture being read, whose source is closed once
that read is over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.backend.adapters.base import NoFrame, VideoSource
from vigie.v1 import video_pb2

OFFLINE_POLL_S = 0.5
FIRST_REQUEST_S = 10.0  # the first request must come within this (a call that names nothing is closed)

Encoded = tuple[bytes, float, int, int, int]  # jpeg, capture time, sequence, width, height


class Streams(Protocol):
    """What WatchVideo needs of the VideoService (backend/services/video.py)."""

    async def check(
        self, request: video_pb2.StreamVideoRequest, context: grpc.aio.ServicerContext
    ) -> tuple[int, int]: ...

    async def admit(self, context: grpc.aio.ServicerContext) -> str: ...

    def release(self, user: str) -> None: ...

    async def open_source(
        self, request: video_pb2.StreamVideoRequest, size: tuple[int, int], context: grpc.aio.ServicerContext
    ) -> VideoSource: ...

    def offline(self, camera_id: str) -> bool: ...

    def read(self, source: VideoSource) -> asyncio.Future[Encoded]: ...


def frame_of(jpeg: bytes, captured: float, seq: int, w: int, h: int) -> video_pb2.VideoFrame:
    ts = Timestamp()
    ts.FromNanoseconds(int(captured * 1e9))
    return video_pb2.VideoFrame(sequence=seq, capture_time=ts, jpeg=jpeg, width=w, height=h)


class _Requests:
    """The newest request not yet served, and whether the console has half-closed."""

    def __init__(self, requests: AsyncIterator[video_pb2.WatchVideoRequest]) -> None:
        self.newest: video_pb2.WatchVideoRequest | None = None
        self.ended = False
        self.changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read(requests))

    async def _read(self, requests: AsyncIterator[video_pb2.WatchVideoRequest]) -> None:
        try:
            async for r in requests:
                self.newest = r
                self.changed.set()
        finally:
            self.ended = True
            self.changed.set()

    def take(self) -> video_pb2.WatchVideoRequest | None:
        r, self.newest = self.newest, None
        self.changed.clear()
        return r

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await self._task


def _close_when_read(source: VideoSource, reading: asyncio.Future[Any] | None) -> None:
    """Close `source` now, or once the pool's read of it is over (never under a reader's feet)."""
    if reading is None or reading.done():
        source.close()
    else:
        reading.add_done_callback(lambda _f: source.close())


async def watch(
    service: Streams,
    requests: AsyncIterator[video_pb2.WatchVideoRequest],
    context: grpc.aio.ServicerContext,
) -> AsyncIterator[video_pb2.WatchVideoFrame]:
    incoming = _Requests(requests)
    user: str | None = None
    woken: asyncio.Task[bool] | None = None
    source: VideoSource | None = None
    reading: asyncio.Future[Encoded] | None = None
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_REQUEST_S):
                await incoming.changed.wait()
        if incoming.newest is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "WatchVideo needs a first request naming the camera"
            )
        user = await service.admit(context)
        watch_id, camera_id = 0, ""
        while True:
            if incoming.changed.is_set():
                if incoming.ended:
                    return  # half-closed: the call ends with OK
                r = incoming.take()
                if r is not None:
                    size = await service.check(r.video, context)
                    new = await service.open_source(r.video, size, context)
                    if source is not None:
                        _close_when_read(source, reading)
                    source, reading = new, None
                    watch_id, camera_id = r.watch_id, r.video.camera_id
            if woken is None or woken.done():
                woken = asyncio.ensure_future(incoming.changed.wait())
            if service.offline(camera_id):
                await asyncio.wait({woken}, timeout=OFFLINE_POLL_S)
                continue
            assert source is not None
            if reading is None:
                reading = service.read(source)
            await asyncio.wait({reading, woken}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                continue  # a new request or the end: the picture being read is not sent
            done, reading = reading, None
            try:
                encoded = done.result()
            except NoFrame:
                continue  # a silent camera (not yet OFFLINE, or a gap): keep the call, try again
            yield video_pb2.WatchVideoFrame(watch_id=watch_id, frame=frame_of(*encoded))
    finally:
        if woken is not None:
            woken.cancel()
        if source is not None:
            _close_when_read(source, reading)
        if user is not None:
            service.release(user)
        await incoming.close()
