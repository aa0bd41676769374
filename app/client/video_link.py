"""One tile's live video: a WatchVideo call that switches camera inside it and is ended by
half-closing it, never by cancelling it while the backend is there.

Why: gRPC's core keeps about 1.5 KB of native memory for every stream cancelled while it was
receiving pictures, and a console replaces hundreds of streams an hour (docs/soak.md, "The video
streams' native memory"). A call the console half-closes is ended by the backend with OK and
leaves nothing behind; a camera switch inside the call opens no call at all.

The link lives on the client loop. `watch()` and `stop()` only record what is wanted; the link's
writer sends it. Pictures carry the watch_id of the request they answer, and only those of the
newest request reach its sink (a late picture of the previous camera never shows under the new
name). A broken call is reopened by the resilient stream (app/client/streams.py) with what is
wanted then."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from vigie.app.client import convert
from vigie.app.client.core import ClientCore
from vigie.app.client.streams import FINAL_CODES, Resume, StreamEvent, StreamState
from vigie.v1 import video_pb2, video_pb2_grpc

# (jpeg, capture unix time, sequence), called off the GUI thread
FrameSink = Callable[[bytes, float, int], None]

END_WAIT_S = 2.0  # a backend that has not ended the call this long after the half-close: cancel it


@dataclass(frozen=True)
class Want:
    camera_id: str
    sink: FrameSink
    profile: str = "SUB"
    max_fps: float = 10.0

    def request(self, watch_id: int) -> video_pb2.WatchVideoRequest:
        return video_pb2.WatchVideoRequest(
            watch_id=watch_id,
            video=video_pb2.StreamVideoRequest(
                camera_id=self.camera_id,
                profile=video_pb2.StreamVideoRequest.Profile.Value(self.profile),
                max_fps=self.max_fps,
            ),
        )


class _Call:
    """A WatchVideo call as the resilient stream reads it, with the writer that feeds it."""

    def __init__(self, link: VideoLink, call: grpc.aio.StreamStreamCall) -> None:
        self.link, self.call = link, call
        link.open_call = self
        self.writer = asyncio.ensure_future(link.write(call))

    async def read(self) -> Any:
        return await self.call.read()

    def cancel(self) -> bool:
        """The stream is done with this call (it ended, or the task is cancelled)."""
        self.writer.cancel()
        self.link.open_call = None
        return self.call.cancel()  # a call that ended (EOF or a status) is not cancelled again


class VideoLink:
    def __init__(self, core: ClientCore, want: Want, on_error: Callable[[str], None]) -> None:
        self.core = core
        self.want: Want | None = want
        self.watch_id = 0  # of the newest request: its pictures go to want.sink
        self._sent = -1  # the watch_id the open call was last sent (-1: none yet)
        self.open_call: _Call | None = None
        self._changed = asyncio.Event()
        self._on_error = on_error
        self.task: asyncio.Task[None] | None = None
        self.state = StreamState.WAITING  # the stream's last state: ENDED after a half-close
        self.calls = 0  # calls opened (a camera switch opens none)

    def finished(self) -> bool:
        return self.task is not None and self.task.done()

    def watch(self, want: Want) -> None:
        """Show `want` from now on (its pictures only)."""
        self.want = want
        self.watch_id += 1
        self._changed.set()

    async def stop(self) -> None:
        """End the call by half-closing it; cancel only if no call is open or it does not end."""
        self.want = None
        self._changed.set()
        task = self.task
        if task is None or task.done():
            return
        if self.open_call is None or self._sent < 0:
            task.cancel()  # between calls, or a call not yet told what to show: nothing is streaming
        done, _ = await asyncio.wait({task}, timeout=END_WAIT_S)
        if not done:
            task.cancel()
            await asyncio.wait({task})

    async def write(self, call: grpc.aio.StreamStreamCall) -> None:
        """Send what is wanted each time it changes; half-close once nothing is."""
        self._sent = -1
        while True:
            want, watch_id = self.want, self.watch_id
            if want is None:
                with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    await call.done_writing()
                return
            if watch_id != self._sent:
                self._changed.clear()
                try:
                    await call.write(want.request(watch_id))
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    return  # the call is over: the reader sees why
                self._sent = watch_id
                continue
            await self._changed.wait()
            self._changed.clear()

    def _stub(self) -> video_pb2_grpc.VideoServiceStub:
        return self.core.stub(video_pb2_grpc.VideoServiceStub, video=True)

    async def _open(self, _resume: Resume) -> _Call:
        self.calls += 1
        return _Call(self, self._stub().WatchVideo())

    def _on_frame(self, msg: video_pb2.WatchVideoFrame) -> None:
        want = self.want
        if want is not None and msg.watch_id == self.watch_id:
            f = msg.frame
            want.sink(f.jpeg, convert.seconds(f.capture_time), f.sequence)

    def _on_event(self, e: StreamEvent) -> None:
        self.state = e.state
        if e.state is StreamState.FAILED and self.want is not None:
            self._on_error(f"Camera {self.want.camera_id}: {e.detail}")

    async def run(self) -> None:
        stream = self.core.stream(
            f"video of {self.want.camera_id if self.want else '-'}",
            self._open,
            self._on_frame,
            on_event=self._on_event,
            stale_after=None,  # the tile shows "signal lost" itself
            # Final answers: unknown camera, bad request, a camera the console must read itself,
            # not allowed; anything else is a broken link and is reopened.
            final_codes=(*FINAL_CODES, grpc.StatusCode.FAILED_PRECONDITION),
            # The backend ends a call with OK only after the half-close (stop()). Not `done`: the
            # stream would cancel the call at the first picture still on its way after stop().
            eof_ends=True,
        )
        await stream.run()
