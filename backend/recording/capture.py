"""Where a recorder's pictures come from: a camera's own stream (remuxed packets) or the decoded
pictures of a VideoSource (the simulated city, video files), stored as JPEG.

Both yield `Item`s with the picture's wall time. A stream's wall time is its presentation time
plus an offset: FFmpeg probes about two seconds of a stream before it returns from opening it, so
the first packets arrive in a burst, late. The offset is the smallest (arrival - presentation)
seen, and packets are held back for `SETTLE_S` after opening, until live packets have fixed it:
the stored times then match when the camera sent each picture, not when the burst arrived.
HTTP MJPEG has no presentation times worth the name: its pictures are dated by their arrival.
Blocking: runs on the recorder's threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
import cv2
import numpy as np

from vigie.backend.adapters.base import NoFrame, VideoSource

SETTLE_S = 1.0
OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0
JPEG_QUALITY = 80


class Outage(Exception):
    """The source stopped giving pictures (closed, unreachable, silent)."""


@dataclass(slots=True)
class Item:
    t: float  # wall time of the picture
    key: bool  # a segment may start here
    packet: Any = None  # a demuxed PyAV packet (remux)
    jpeg: bytes = b""  # or a JPEG picture
    width: int = 0
    height: int = 0


class StreamInput:
    """A camera's stream opened with PyAV (RTSP over TCP, HTTP MJPEG); packets as they come."""

    def __init__(
        self, url: str, open_timeout_s: float = OPEN_TIMEOUT_S, read_timeout_s: float = READ_TIMEOUT_S
    ) -> None:
        options = {"rtsp_transport": "tcp"} if url.startswith("rtsp") else {}
        try:
            self.container = av.open(url, options=options, timeout=(open_timeout_s, read_timeout_s))
        except (av.FFmpegError, OSError) as exc:
            raise Outage(f"cannot open the stream: {type(exc).__name__}") from exc
        if not self.container.streams.video:
            self.container.close()
            raise Outage("the stream has no video")
        self.stream = self.container.streams.video[0]
        self.opened = time.time()
        # HTTP MJPEG carries no capture times (FFmpeg numbers its pictures at a guessed rate):
        # a picture's time is its arrival, and the probe's burst is dropped rather than misdated.
        self.arrival_clock = self.container.format.name in ("mpjpeg", "mjpeg")

    def close(self) -> None:
        self.container.close()

    def items(self, stopped: Callable[[], bool]) -> Iterator[Item]:
        tb = self.stream.time_base
        offset: float | None = None
        held: list[tuple[float, Any]] = []
        try:
            for packet in self.container.demux(self.stream):
                if stopped():
                    return
                if packet.pts is None or packet.size == 0:
                    continue
                now = time.time()
                if self.arrival_clock:
                    if now - self.opened >= SETTLE_S:
                        yield Item(now, True, packet=packet)
                    continue
                media = float(packet.pts * tb)
                offset = now - media if offset is None else min(offset, now - media)
                if now - self.opened < SETTLE_S:
                    held.append((media, packet))
                    continue
                for m, p in held:
                    yield Item(offset + m, bool(p.is_keyframe), packet=p)
                held.clear()
                yield Item(offset + media, bool(packet.is_keyframe), packet=packet)
        except (av.FFmpegError, OSError) as exc:
            raise Outage(f"stream read failed: {type(exc).__name__}") from exc
        raise Outage("the stream ended")


class PictureInput:
    """Decoded pictures of a VideoSource, JPEG-encoded once (as the live stream does)."""

    def __init__(self, source: VideoSource, silence_s: float) -> None:
        self.source = source
        self.silence_s = silence_s
        self.stream = None

    def close(self) -> None:
        self.source.close()

    def items(self, stopped: Callable[[], bool]) -> Iterator[Item]:
        last = time.monotonic()
        while not stopped():
            try:
                frame, captured, _seq = self.source.read()
            except NoFrame:
                if time.monotonic() - last > self.silence_s:
                    raise Outage("no picture") from None
                continue
            last = time.monotonic()
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                continue
            h, w = frame.shape[:2]
            yield Item(captured, True, jpeg=np.asarray(buf).tobytes(), width=w, height=h)
