"""Cameras the console reads itself (catalogue `direct = true`): for sites where video does not
go through the backend. One thread per visible tile reads the URL with OpenCV/FFmpeg, with open
and read timeouts and capped, jittered reconnects, and hands BGR pictures to the tile's decoder.
While it cannot read, nothing arrives and the tile shows "signal lost"."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000

FrameSink = Callable[[np.ndarray, float, int], None]


class DirectSource:
    def __init__(self, url: str, sink: FrameSink, max_fps: float = 15.0) -> None:
        self.url = url
        self.sink = sink
        self.min_gap = 1.0 / max_fps if max_fps > 0 else 0.0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"direct:{url[:40]}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _open(self) -> cv2.VideoCapture | None:
        if self.url.startswith("rtsp://"):
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        cap = cv2.VideoCapture(
            self.url,
            cv2.CAP_FFMPEG,
            [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                OPEN_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                READ_TIMEOUT_MS,
            ],
        )
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _run(self) -> None:
        seq = 0
        attempt = 0
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                self.failures += 1
                step = min(10.0, 0.5 * 2**attempt)
                attempt += 1
                self._stop.wait(step / 2 + random.uniform(0, step / 2))  # backoff, interruptible
                continue
            attempt = 0
            last = 0.0
            while not self._stop.is_set():
                ok, frame = cap.read()
                if not ok or frame is None:
                    self.failures += 1
                    break
                now = time.time()
                if now - last < self.min_gap:
                    continue  # keep reading (never let the source buffer), show fewer
                last = now
                seq += 1
                if self._stop.is_set():  # a read can take seconds: do not deliver after stop()
                    break
                self.sink(frame, now, seq)
            cap.release()
