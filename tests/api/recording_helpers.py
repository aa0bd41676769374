"""Helpers of the recording tests: a restartable RTSP camera, the test's own reader of it, and
Play driven as a real bidirectional gRPC stream."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import cv2
import numpy as np
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.api.test_cameras_catalogue import (
    RTSP_SERVER,
    SYSTEM_PYTHON,
    _rtsp_available,
    cam,
    catalogue,
    free_port,
    wait_for,
    write_video,
)
from tests.conftest import open_channel
from vigie.v1 import playback_pb2, playback_pb2_grpc

THUMB = (64, 36)


def ts(t: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(t * 1e9))
    return out


def secs(t: Timestamp) -> float:
    return t.ToNanoseconds() / 1e9


def thumb(img: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), THUMB, interpolation=cv2.INTER_AREA).astype(
        np.float32
    )


class RtspCamera:
    """The suite's GStreamer RTSP test server (tests/fixtures/rtsp_server.py), stoppable and
    restartable on the same port to make an outage."""

    def __init__(self) -> None:
        reason = _rtsp_available()
        if reason:
            pytest.skip(reason)
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(RTSP_SERVER), str(self.port)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("RTSP_READY"), f"RTSP server did not start: {line!r}"
        self.url = line.split()[1]
        return self.url

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class SourceLog:
    """What the test itself saw of the camera: (arrival time, small grey picture) per frame."""

    times: list[float] = field(default_factory=list)
    thumbs: list[np.ndarray] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class SourceReader:
    """Reads the RTSP camera with PyAV on its own thread and notes when each picture's packet
    arrived (a decoder may hold pictures back; the packet's arrival is when the camera sent it).
    Pictures of the first `warmup_s` are not kept: FFmpeg probes the stream before returning from
    opening it, and gives those first packets in a burst, late."""

    def __init__(self, url: str, warmup_s: float = 2.5) -> None:
        self.url = url
        self.warmup_s = warmup_s
        self.log = SourceLog()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            container = av.open(self.url, options={"rtsp_transport": "tcp"}, timeout=10)
        except av.FFmpegError as exc:
            self.log.errors.append(f"cannot open: {exc}")
            return
        stream = container.streams.video[0]
        opened = time.time()
        arrived: dict[int, float] = {}
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                now = time.time()
                if packet.pts is not None:
                    arrived[packet.pts] = now
                for frame in packet.decode():
                    t = arrived.pop(frame.pts, None)
                    if t is not None and t - opened >= self.warmup_s:
                        self.log.times.append(t)
                        self.log.thumbs.append(thumb(frame.to_ndarray(format="bgr24")))
        except av.FFmpegError as exc:
            self.log.errors.append(f"read failed: {exc}")
        finally:
            container.close()

    def stop(self) -> SourceLog:
        self._stop.set()
        self._thread.join(10)
        return self.log


class Player:
    """One Play stream: controls go in through a queue, responses are read on a thread."""

    def __init__(self, channel, camera_id: str, start: float, speed: float, **open_fields) -> None:
        self.controls: queue.Queue[playback_pb2.PlayControl | None] = queue.Queue()
        self.responses: queue.Queue[playback_pb2.PlayResponse | Exception | None] = queue.Queue()
        self.arrivals: queue.Queue[float] = queue.Queue()
        self.arrival = 0.0  # when the response next() returned arrived
        self.controls.put(
            playback_pb2.PlayControl(
                control_id=1,
                open=playback_pb2.PlayOpen(camera_id=camera_id, start=ts(start), speed=speed, **open_fields),
            )
        )
        self.call = playback_pb2_grpc.PlaybackServiceStub(channel).Play(self._requests(), timeout=120)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _requests(self) -> Iterator[playback_pb2.PlayControl]:
        while True:
            c = self.controls.get()
            if c is None:
                return
            yield c

    def _read(self) -> None:
        try:
            for r in self.call:
                self.arrivals.put(time.time())  # stamped on arrival, not when the test reads it
                self.responses.put(r)
            self.responses.put(None)
        except Exception as exc:  # handed to the test, which re-raises it
            self.responses.put(exc)

    def send(self, control: playback_pb2.PlayControl) -> None:
        self.controls.put(control)

    def next(self, timeout: float = 30.0) -> playback_pb2.PlayResponse | None:
        r = self.responses.get(timeout=timeout)
        if isinstance(r, Exception):
            raise r
        if r is not None:
            self.arrival = self.arrivals.get_nowait()
        return r

    def close(self) -> None:
        self.controls.put(None)
        self.call.cancel()


def recorded_s(channel, camera_id: str, since: float) -> float:
    r = playback_pb2_grpc.PlaybackServiceStub(channel).ListSpans(
        playback_pb2.ListSpansRequest(camera_id=camera_id, range=playback_pb2.TimeRange(start=ts(since))),
        timeout=10,
    )
    return secs(r.spans[-1].end) - secs(r.spans[0].start) if r.spans else 0.0


def start_recording_backend(tmp_path, make_backend):
    """A backend recording four file cameras (a looping video) continuously, 5 s recorded."""
    video = write_video(tmp_path / "loop.avi", frames=60, fps=10.0)
    cams = [cam(f"file-{i}", str(video)) for i in (1, 2, 3, 4)]
    path = catalogue(tmp_path / "cams.toml", cams)
    t0 = time.time()
    b = make_backend(
        "--cameras", str(path), "--no-simulator", "--record", "continuous", "--record-segment-s", "2"
    ).start()
    with open_channel(b.address, user="viewer") as ch:
        wait_for(lambda: min(recorded_s(ch, c["id"], t0) for c in cams) > 5, 60, "5 s recorded")
    return b, t0
