"""Segment files: one Matroska (.mkv) file of one camera, written and read with PyAV.

Pictures are stored as they came, never re-encoded: H.264/H.265 packets of an RTSP camera are
remuxed with the camera's own codec parameters, and JPEG pictures (MJPEG cameras, the simulated
city) are stored as an MJPEG stream, one JPEG per packet. Presentation times are milliseconds
since the segment's `start` (unix seconds, kept in the index), so a frame's wall time is exact to
the millisecond. A closed file is fsync-ed, 0600, and its directory entry fsync-ed too.

Everything here blocks: it runs on recorder threads and worker pools, never on the asyncio loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np

from vigie.backend.store.files import FILE_MODE, fsync_dir

MS = Fraction(1, 1000)
JPEG_QUALITY = 80
LIVE_OPTIONS = {"flush_packets": "1", "cluster_time_limit": "1000"}


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture of a recording: wall time, JPEG bytes, size."""

    t: float
    jpeg: bytes
    width: int
    height: int


class SegmentWriter:
    """Writes one segment. `template` (a PyAV input stream) for a remux, else MJPEG of
    width x height. Times given to write_* are unix seconds; they must not go backwards."""

    def __init__(
        self, path: str, start: float, template: Any = None, width: int = 0, height: int = 0
    ) -> None:
        self.path = path
        self.start = start
        self.frames = 0
        self.end = start
        self._last_pts = -1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.close(fd)
        os.chmod(path, FILE_MODE)
        # Flushed after each packet, a cluster a second: an open segment can be read (played,
        # exported) up to its last second while it is still being written.
        self._out = av.open(path, mode="w", format="matroska", options=LIVE_OPTIONS)
        if template is not None:
            self.stream = self._out.add_stream_from_template(template)
            self.codec = template.codec_context.name
        else:
            self.stream = self._out.add_stream("mjpeg")
            self.stream.width = width
            self.stream.height = height
            self.stream.pix_fmt = "yuvj420p"
            self.codec = "mjpeg"
        self.stream.time_base = MS

    def _pts(self, t: float) -> int:
        pts = max(round((t - self.start) * 1000), self._last_pts + 1)
        self._last_pts = pts
        self.end = self.start + pts / 1000
        self.frames += 1
        return pts

    def write_jpeg(self, t: float, jpeg: bytes) -> None:
        packet = av.Packet(jpeg)
        packet.pts = packet.dts = self._pts(t)
        packet.time_base = MS
        packet.stream = self.stream
        packet.is_keyframe = True
        self._out.mux(packet)

    def write_packet(self, t: float, packet: Any) -> None:
        """A demuxed packet of the template's stream, at wall time `t`."""
        packet.pts = packet.dts = self._pts(t)
        packet.time_base = MS
        packet.stream = self.stream
        self._out.mux(packet)

    def size(self) -> int:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def close(self) -> int:
        """Finish the file and make it durable; returns its size."""
        self._out.close()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(os.path.dirname(self.path))
        return self.size()


def _to_jpeg(img: np.ndarray, width: int, height: int) -> tuple[bytes, int, int]:
    h, w = img.shape[:2]
    if width and height and (w > width or h > height):
        scale = min(width / w, height / h)
        img = cv2.resize(
            img, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA
        )
        h, w = img.shape[:2]
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.asarray(buf).tobytes(), w, h


def read_frames(
    path: str,
    start: float,
    from_t: float = 0.0,
    width: int = 0,
    height: int = 0,
    want: Callable[[float], bool] | None = None,
) -> Iterator[Frame]:
    """The frames of a segment file at or after `from_t`, in order, as JPEG (stored JPEGs as they
    are; H.264/H.265 decoded, scaled to fit width x height, and encoded). A frame for which
    `want(t)` is False is passed over without being encoded (a fast playback's skipped frames)."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = stream.time_base or MS
        offset = from_t - start
        if offset > 0.5:
            container.seek(int(offset / tb), stream=stream, backward=True, any_frame=False)
        ctx = stream.codec_context
        mjpeg = ctx.name == "mjpeg"
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = start + float(packet.pts * tb)
            if mjpeg:
                if t + 0.0005 < from_t or (want is not None and not want(t)):
                    continue
                data = bytes(packet)
                w, h = ctx.width, ctx.height
                if width and height and (w > width or h > height):
                    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                    data, w, h = _to_jpeg(img, width, height)
                yield Frame(t, data, w, h)
                continue
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError:
                # A damaged packet (a camera cut off mid-picture writes one): its picture is
                # lost, the ones after it still play. Raising would end the playback here.
                continue
            for frame in decoded:
                ft = start + float(frame.pts * tb) if frame.pts is not None else t
                if ft + 0.0005 < from_t or (want is not None and not want(ft)):
                    continue
                data, w, h = _to_jpeg(frame.to_ndarray(format="bgr24"), width, height)
                yield Frame(ft, data, w, h)
        if not mjpeg:
            try:
                flushed = ctx.decode(None)
            except av.error.InvalidDataError:
                flushed = []
            for frame in flushed:
                ft = start + float(frame.pts * tb) if frame.pts is not None else start
                if ft + 0.0005 >= from_t and (want is None or want(ft)):
                    data, w, h = _to_jpeg(frame.to_ndarray(format="bgr24"), width, height)
                    yield Frame(ft, data, w, h)


def copy_packets(
    path: str, start: float, t0: float, t1: float, writer_for: Callable[[Any, float], SegmentWriter]
) -> int:
    """Remux the packets of one segment from the keyframe at or before `t0` up to `t1` into the
    writer `writer_for(input stream)` gives (exports: never decodes). Returns packets copied."""
    first = t0
    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = stream.time_base or MS
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = start + float(packet.pts * tb)
            if t > t0:
                break
            if packet.is_keyframe:
                first = t
    copied = 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = stream.time_base or MS
        writer: SegmentWriter | None = None
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                t = start + float(packet.pts * tb)
                if t < first - 0.0005:
                    continue
                if t > t1:
                    break
                if writer is None:
                    if not packet.is_keyframe:
                        continue
                    writer = writer_for(stream, t)
                writer.write_packet(t, packet)
                copied += 1
        except av.FFmpegError:  # the unfinished tail of a segment still being written
            pass
    return copied
