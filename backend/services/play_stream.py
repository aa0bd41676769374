"""One Play stream of vigie.v1.PlaybackService: the first control opens it, later ones seek,
change speed, pause and step; pictures are paced on a media clock.

Pacing happens on the asyncio loop (waiting is all it does there); every read, decode and encode
runs in the recordings' worker pool. A picture is sent when the media clock (position + speed x
wall time since the clock's origin) reaches its time, so streams opened with one origin stay on
one clock; a picture already later than `LATE_S` is skipped rather than sent late.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.backend.recording.cursor import Cursor
from vigie.backend.recording.recorder import GAP_S
from vigie.backend.recording.segments import Frame
from vigie.backend.recording.system import Recordings
from vigie.backend.security import principal
from vigie.backend.services.convert import seconds_of, stamp
from vigie.backend.services.video import PROFILE_SIZES
from vigie.v1 import playback_pb2, video_pb2

MIN_SPEED, MAX_SPEED = 0.25, 16.0
MAX_STEP = 100
# Play streams per user: as live video (backend/services/video.py), two 4x4 mosaics' worth.
MAX_PLAY_PER_USER = 32
MAX_FPS = 30.0
LATE_S = 0.25
STATE_EVERY_S = 5.0
OPEN_TIMEOUT_S = 10.0
LOOKBACK_S = 1.5  # a seek looks this far back for the picture showing at its time
GAP_NOTICE_S = 0.2  # a gap is announced this long (media time) after the last picture before it


def _ts(t: float) -> Timestamp:
    out = Timestamp()
    stamp(t, out)
    return out


def _speed_ok(s: float) -> bool:
    return s == 0 or MIN_SPEED <= abs(s) <= MAX_SPEED


@dataclass(slots=True)
class Clock:
    """Media time = position + speed x (wall - origin)."""

    position: float
    speed: float
    origin: float

    def media(self, wall: float) -> float:
        return self.position + self.speed * (wall - self.origin)

    def due(self, media_t: float) -> float:
        return self.origin + (media_t - self.position) / self.speed


async def play(
    rec: Recordings,
    request_iterator: AsyncIterator[playback_pb2.PlayRequest],
    context: grpc.aio.ServicerContext,
    check_camera: Callable[[str, grpc.aio.ServicerContext], Awaitable[None]],
) -> AsyncIterator[playback_pb2.PlayResponse]:
    """One Play stream (see playback.proto): controls in, paced pictures out."""

    async def run(fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(rec.pool, fn, *args)

    try:
        async with asyncio.timeout(OPEN_TIMEOUT_S):
            first = await anext(request_iterator)
    except (StopAsyncIteration, TimeoutError):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Play needs an `open` control first")
    if first.WhichOneof("control") != "open":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first control must be `open`")
    op = first.open
    await check_camera(op.camera_id, context)
    if not _speed_ok(op.speed):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "speed must be 0 or 0.25..16 either way")
    if op.max_fps < 0:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_fps must not be negative")
    start = seconds_of(op.start) if op.HasField("start") else None
    if start is None:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "open.start is required")
    assert start is not None
    width, height = PROFILE_SIZES.get(op.profile, PROFILE_SIZES[video_pb2.StreamVideoRequest.SUB])
    max_fps = min(op.max_fps or MAX_FPS, MAX_FPS)
    cursor = Cursor(rec.index, rec.root, op.camera_id, width, height)
    origin = seconds_of(op.clock_origin) if op.HasField("clock_origin") else None
    clock = Clock(start, op.speed, origin or time.time())
    control_id = first.control_id
    user = principal.current().user
    if rec.play_streams[user] >= MAX_PLAY_PER_USER:
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"{user or 'this caller'} already plays {rec.play_streams[user]} recordings, the most one user"
            f" may hold at once ({MAX_PLAY_PER_USER}): close one first",
        )
    rec.play_streams[user] += 1

    controls: asyncio.Queue[playback_pb2.PlayRequest | None] = asyncio.Queue(maxsize=64)

    async def read_controls() -> None:
        try:
            async for c in request_iterator:
                await controls.put(c)
        finally:
            await controls.put(None)

    reader = asyncio.get_running_loop().create_task(read_controls())

    def state() -> playback_pb2.PlayResponse:
        now = time.time()
        media = clock.media(now) if clock.speed else clock.position
        return playback_pb2.PlayResponse(
            control_id=control_id,
            state=playback_pb2.PlaybackState(position=_ts(media), speed=clock.speed, server_time=_ts(now)),
        )

    async def reseek(t: float, past: bool = False) -> None:
        cursor.min_gap = abs(clock.speed) / max_fps if clock.speed else 0.0
        await run(cursor.seek, t, clock.speed >= 0, past)

    async def picture_at(t: float) -> tuple[Frame | None, Frame | None]:
        """The picture showing at `t` (the last one at or before it, at most LOOKBACK_S
        earlier) and the next one: a seek shows its picture at once, not when the next is due."""
        cursor.min_gap = 0.0
        await run(cursor.seek, t - LOOKBACK_S, True)
        shown = None
        while True:
            f = await run(cursor.next)
            if f is None or f.t > t + 0.0005:
                cursor.min_gap = abs(clock.speed) / max_fps if clock.speed else 0.0
                return shown, f
            shown = f

    def frame_msg(f: Frame) -> playback_pb2.PlayResponse:
        return playback_pb2.PlayResponse(
            control_id=control_id,
            frame=playback_pb2.PlaybackFrame(
                capture_time=_ts(f.t), jpeg=f.jpeg, width=f.width, height=f.height
            ),
        )

    try:
        pending = None  # the next frame, read ahead
        last_t: float | None = None
        shown = None
        if clock.speed >= 0:
            shown, pending = await picture_at(start)
        else:
            await reseek(start)
        yield state()
        if shown is not None:
            last_t = shown.t
            yield frame_msg(shown)
        gap_sent = False
        ended = False
        while True:
            control = None
            wait_s: float | None = None
            if clock.speed == 0 or ended:
                wait_s = STATE_EVERY_S if clock.speed == 0 else 1.0
            else:
                if pending is None:
                    pending = await run(cursor.next)
                    if pending is None:
                        ended = True
                        yield playback_pb2.PlayResponse(
                            control_id=control_id,
                            end=playback_pb2.PlaybackEnd(position=_ts(cursor.position)),
                        )
                        continue
                sign = 1 if clock.speed > 0 else -1
                if last_t is not None and not gap_sent and abs(pending.t - last_t) > GAP_S:
                    notice = last_t + sign * GAP_NOTICE_S
                    delay = clock.due(notice) - time.time()
                    if delay > 0:
                        wait_s = delay
                    else:
                        lo, hi = sorted((last_t, pending.t))
                        gap_sent = True
                        yield playback_pb2.PlayResponse(
                            control_id=control_id,
                            gap=playback_pb2.PlaybackGap(start=_ts(lo), end=_ts(hi)),
                        )
                        continue
                else:
                    delay = clock.due(pending.t) - time.time()
                    if delay > 0:
                        wait_s = delay
                    elif delay < -LATE_S:
                        pending = None  # behind the clock: skip rather than drift
                        continue
                    else:
                        f, pending = pending, None
                        last_t, gap_sent = f.t, False
                        yield playback_pb2.PlayResponse(
                            control_id=control_id,
                            frame=playback_pb2.PlaybackFrame(
                                capture_time=_ts(f.t), jpeg=f.jpeg, width=f.width, height=f.height
                            ),
                        )
                        continue
            if wait_s is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        control = await controls.get()
                if control is None:
                    if reader.done() and controls.empty():
                        return
                    if clock.speed == 0:
                        yield state()
                    elif ended:
                        ended = False  # look again for new recordings (live edge)
                        await reseek(cursor.position, past=last_t is not None)
                    continue
            # --- a control ---
            kind = control.WhichOneof("control")
            now = time.time()
            if kind == "seek":
                t = seconds_of(control.seek.time) if control.seek.HasField("time") else None
                if t is None:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "seek.time is required")
                assert t is not None
                o = seconds_of(control.seek.clock_origin) if control.seek.HasField("clock_origin") else None
                clock = Clock(t, clock.speed, o or now)
            elif kind == "speed":
                s = control.speed.speed
                if not _speed_ok(s):
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, "speed must be 0 or 0.25..16 either way"
                    )
                o = seconds_of(control.speed.clock_origin) if control.speed.HasField("clock_origin") else None
                at = o or now
                media = clock.media(at) if clock.speed else clock.position
                if not clock.speed and last_t is not None:
                    media = last_t
                clock = Clock(media, s, at)
            elif kind == "step":
                n = control.step.frames
                if clock.speed != 0:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "step only while paused (speed 0)")
                if n == 0 or abs(n) > MAX_STEP:
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, f"step.frames must be 1..{MAX_STEP} either way"
                    )
                control_id = control.control_id
                base = last_t if last_t is not None else clock.position
                cursor.min_gap = 0.0
                await run(cursor.seek, base, n > 0, last_t is not None)
                f = None
                for _ in range(abs(n)):
                    got = await run(cursor.next)
                    if got is None:
                        break
                    f = got
                if f is not None:
                    last_t = f.t
                    clock = Clock(f.t, 0.0, now)
                    yield playback_pb2.PlayResponse(
                        control_id=control_id,
                        frame=playback_pb2.PlaybackFrame(
                            capture_time=_ts(f.t), jpeg=f.jpeg, width=f.width, height=f.height
                        ),
                    )
                yield state()
                continue
            else:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "`open` only once, as the first control"
                )
            control_id = control.control_id
            pending, ended, gap_sent = None, False, False
            if kind == "seek" and clock.speed >= 0:
                shown, pending = await picture_at(clock.position)
                last_t = None if shown is None else shown.t
                yield state()
                if shown is not None:
                    yield frame_msg(shown)
                continue
            last_t = None if kind == "seek" else last_t
            await reseek(clock.media(time.time()) if clock.speed else clock.position)
            yield state()
    finally:
        reader.cancel()
        rec.play_streams[user] -= 1
        if rec.play_streams[user] <= 0:
            del rec.play_streams[user]
