"""Reading real cameras (RTSP, HTTP MJPEG, video files) with OpenCV's FFmpeg backend.

One `StreamReader` thread per camera, whatever the number of viewers: a camera is opened once
and viewers share its latest frame (older frames are dropped, never queued). The thread
reconnects with capped, jittered backoff and reports "up"/"down" transitions through a callback
(the network forwards them to the asyncio loop). `SharedSource` is what one viewer gets: it
waits a bounded time for a newer frame, scales it and paces it, so a silent camera never holds
a worker thread or the gRPC server.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from vigie.backend.adapters.base import NoFrame, VideoSource
from vigie.backend.adapters.cameras.catalogue import CameraSpec, redact

log = logging.getLogger(__name__)

# FFmpeg reads these options when a capture opens; TCP makes RTSP work through NAT/firewalls and
# avoids UDP packet loss smearing the picture. Other protocols ignore the option.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0
BACKOFF_START_S = 0.5
BACKOFF_CAP_S = 10.0
FILE_FPS_DEFAULT = 25.0

StatusCallback = Callable[[bool, str], None]  # (up, reason when down)


class StreamReader:
    """The one background reader of a camera: keeps the latest frame, reconnects forever."""

    def __init__(
        self,
        spec: CameraSpec,
        on_status: StatusCallback,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
    ) -> None:
        self.spec = spec
        self.on_status = on_status
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.backoff_cap_s = backoff_cap_s
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._captured = 0.0
        self._seq = 0
        self.last_frame_mono = 0.0  # monotonic time of the latest frame (0: none yet)
        self.up = False  # as last reported
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{spec.id}", daemon=True)

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end without waiting (stop() then joins)."""
        self._stop.set()

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the thread to end; it may finish a blocking FFmpeg call (bounded by the timeouts)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    # --- for viewers --------------------------------------------------------------------------------

    def wait_newer(self, seq: int, timeout: float) -> tuple[np.ndarray, float, int] | None:
        """The latest frame if it is newer than `seq`, waiting at most `timeout`; None otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._seq <= seq or self._frame is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(left)
            return self._frame, self._captured, self._seq

    def mark_down(self, reason: str) -> None:
        """Called by the watchdog when frames stopped without the reader noticing (e.g. a hung call)."""
        if self.up:
            self._report(False, reason)

    # --- the thread ---------------------------------------------------------------------------------

    def _report(self, up: bool, reason: str = "") -> None:
        self.up = up
        try:
            self.on_status(up, reason)
        except Exception:  # a closed loop at shutdown must not kill the reader
            log.debug("status callback failed", exc_info=True)

    def _open(self) -> cv2.VideoCapture | None:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.read_timeout_s * 1000),
        ]
        cap = cv2.VideoCapture(self.spec.url, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _run(self) -> None:
        spec = self.spec
        shown = redact(spec.url)
        backoff = BACKOFF_START_S
        first = True
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                reason = f"no video: cannot open {shown}"
            else:
                got = self._pump(cap)
                cap.release()
                silent_s = time.monotonic() - (self.last_frame_mono if got else 0.0)
                if got:
                    backoff = BACKOFF_START_S  # it worked for a while: retry quickly
                if not got and spec.source == "file":
                    reason = f"no video: cannot decode {shown}"
                elif got and silent_s < self.read_timeout_s * 0.9:
                    reason = f"no video: stream from {shown} ended"
                else:
                    reason = f"no frame for {self.read_timeout_s:g} s from {shown}"
            if self._stop.is_set():
                break
            if self.up or first:
                self._report(False, reason)
            first = False
            log.info("camera %s: %s; retrying in %.1f s", spec.id, reason, backoff)
            delay = backoff * random.uniform(0.8, 1.2)
            backoff = min(self.backoff_cap_s, backoff * 2)
            self._stop.wait(delay)

    def _pump(self, cap: cv2.VideoCapture) -> int:
        """Read until the stream fails or stop(); files loop at their native rate. Returns frames read."""
        is_file = self.spec.source == "file"
        period = 0.0
        if is_file:
            fps = cap.get(cv2.CAP_PROP_FPS)
            period = 1.0 / (fps if 1.0 <= fps <= 120.0 else FILE_FPS_DEFAULT)
        due = time.monotonic()
        count = 0
        while not self._stop.is_set():
            ok, frame = cap.read()
            if not ok and is_file and count > 0:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)  # end of file: loop
                ok, frame = cap.read()
            if not ok or frame is None:
                return count
            count += 1
            now = time.monotonic()
            with self._cond:
                self._frame = frame
                self._captured = time.time()
                self._seq += 1
                self.last_frame_mono = now
                self._cond.notify_all()
            if not self.up:
                self._report(True)
            if is_file:
                due += period
                if due < now - period:
                    due = now  # fell behind: do not burst
                self._stop.wait(max(0.0, due - time.monotonic()))
        return count


class SharedSource(VideoSource):
    """One viewer of a StreamReader: newer frames only, fitted into width x height, paced to max_fps.

    Frames are scaled down to fit the requested box keeping their aspect ratio, without padding
    (VideoFrame carries the real size) and never scaled up (that would only cost bandwidth).
    """

    def __init__(
        self, reader: StreamReader, width: int, height: int, max_fps: float, wait_s: float = 1.0
    ) -> None:
        self.reader = reader
        self.width = width
        self.height = height
        self.fps = max_fps if max_fps > 0 else 0.0
        self.wait_s = wait_s
        self._last_seq = 0
        self._next_due = 0.0

    def read(self) -> tuple[np.ndarray, float, int]:
        """Raises NoFrame after `wait_s` without a new frame, so the caller can re-check status."""
        if self.fps:
            delay = self._next_due - time.monotonic()
            if delay > 0:
                time.sleep(min(delay, self.wait_s))
        got = self.reader.wait_newer(self._last_seq, self.wait_s)
        if got is None:
            raise NoFrame(f"no new frame from camera {self.reader.spec.id} within {self.wait_s:g} s")
        frame, captured, seq = got
        self._last_seq = seq
        if self.fps:
            now = time.monotonic()
            self._next_due = max(self._next_due + 1.0 / self.fps, now)
        return fit(frame, self.width, self.height), captured, seq


def fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale down to fit width x height keeping the aspect ratio (no padding, no upscaling)."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h, 1.0)
    if scale >= 1.0:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
