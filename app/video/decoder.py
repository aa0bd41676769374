"""Per-tile decoding worker: a picture in (any thread), a ready QImage out (queued signal).

Latest frame wins: if the worker is still busy when a new picture arrives, the older one is dropped
(counted), never queued, so a slow display shows fewer frames, not older ones. JPEGs are decoded at
1/2 or 1/4 size when the tile is that much smaller (OpenCV's reduced modes), cropped for digital
zoom, resized with linear interpolation (area interpolation costs 5-10 times more) and converted
once to a 32-bit QImage at the tile's size, so the GUI thread only blits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRectF, QSize, Signal
from PySide6.QtGui import QImage


class FrameInbox:
    """The decoder's input: the newest picture waiting. A plain object, not a QObject: feeders on
    other threads (the session's loop, direct readers) hold only this. A QObject whose last
    reference they dropped would be destroyed on their thread, and its destructor takes Qt's locks,
    then waits for the GIL, which the GUI thread may hold while it waits for those same locks: the
    console hung at shutdown that way (a mosaic's stream task ending after its panel closed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.slot: tuple[Any, float, int] | None = None  # (jpeg bytes | BGR array, captured, seq)
        self.generation = 0  # bumped by the decoder's reset(): older generations' frames are ignored
        self.last_input: Any = None  # the newest picture received (for snapshots)
        self.last_captured = 0.0
        self.received = 0
        self.dropped = 0

    def put(self, item: Any, captured: float, sequence: int, generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return
            if self.slot is not None:
                self.dropped += 1
            self.slot = (item, captured, sequence)
            self.received += 1
            self.last_input, self.last_captured = item, captured
        self.wake.set()


class FrameDecoder(QObject):
    """Call stop() before dropping a decoder: its worker thread holds it until then."""

    sig_frame = Signal(QImage, float, int)  # picture at the target size, capture unix time, sequence

    def __init__(self, name: str = "decoder") -> None:
        super().__init__()
        self.inbox = FrameInbox()
        self._stopped = False
        self._target = (640, 360)
        self._crop = (0.0, 0.0, 1.0, 1.0)
        self._last_size = (0, 0)  # full size of the stream's pictures, once known
        self.decoded = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def received(self) -> int:
        return self.inbox.received

    @property
    def dropped(self) -> int:
        return self.inbox.dropped

    @property
    def generation(self) -> int:
        return self.inbox.generation

    def sink(self) -> tuple[Callable[[bytes, float, int], None], Callable[[np.ndarray, float, int], None]]:
        """Feeding functions for the current camera (JPEG, raw). After reset() they are ignored,
        so pictures still in flight from the previous camera never show under the new name. They
        hold the inbox, never the decoder (FrameInbox says why)."""
        inbox = self.inbox
        gen = inbox.generation
        return (
            lambda jpeg, captured, seq: inbox.put(jpeg, captured, seq, gen),
            lambda frame, captured, seq: inbox.put(frame, captured, seq, gen),
        )

    def offer(self, jpeg: bytes, captured: float, sequence: int) -> None:
        """Hand over a JPEG for the current camera (any thread)."""
        self.inbox.put(jpeg, captured, sequence, self.inbox.generation)

    def set_target_size(self, size: QSize) -> None:
        self._target = (max(16, size.width()), max(16, size.height()))

    def set_crop(self, crop: QRectF) -> None:
        self._crop = (crop.x(), crop.y(), crop.width(), crop.height())

    def reset(self) -> None:
        """A new camera: forget the previous one's size and picture, ignore its late frames."""
        inbox = self.inbox
        with inbox.lock:
            inbox.generation += 1
            inbox.slot = None
            self._last_size = (0, 0)
            inbox.last_input = None

    def stop(self, wait: bool = True) -> None:
        self._stopped = True
        self.inbox.wake.set()
        if wait:
            self._thread.join(2.0)

    def full_picture(self) -> tuple[np.ndarray | None, float]:
        """The newest picture at full resolution (decodes it if needed; call off the GUI thread)."""
        inbox = self.inbox
        with inbox.lock:
            item, captured = inbox.last_input, inbox.last_captured
        if item is None:
            return None, 0.0
        if isinstance(item, np.ndarray):
            return item.copy(), captured
        return cv2.imdecode(np.frombuffer(item, np.uint8), cv2.IMREAD_COLOR), captured

    def _run(self) -> None:
        inbox = self.inbox
        while True:
            inbox.wake.wait()
            inbox.wake.clear()
            if self._stopped:
                return
            with inbox.lock:
                slot, inbox.slot = inbox.slot, None
            if slot is None:
                continue
            item, captured, seq = slot
            try:
                image = self._convert(item)
            except Exception:  # a bad picture must not stop the worker (the tile would go "lost")
                image = None
            if image is None:
                self.errors += 1
                continue
            self.decoded += 1
            self.sig_frame.emit(image, captured, seq)

    def _convert(self, item: Any) -> QImage | None:
        tw, th = self._target
        cx, cy, cw, ch = self._crop
        if isinstance(item, np.ndarray):
            img = item
        else:
            sw, sh = self._last_size
            # What the tile shows of the picture, in source pixels, decides how much to decode.
            need_w, need_h = tw / max(cw, 1e-3), th / max(ch, 1e-3)
            flag, factor = cv2.IMREAD_COLOR, 1
            if sw >= 4 * need_w and sh >= 4 * need_h:
                flag, factor = cv2.IMREAD_REDUCED_COLOR_4, 4
            elif sw >= 2 * need_w and sh >= 2 * need_h:
                flag, factor = cv2.IMREAD_REDUCED_COLOR_2, 2
            img = cv2.imdecode(np.frombuffer(item, np.uint8), flag)
            if img is None:
                return None
            self._last_size = (img.shape[1] * factor, img.shape[0] * factor)
        h, w = img.shape[:2]
        if (cx, cy, cw, ch) != (0.0, 0.0, 1.0, 1.0):
            x0, y0 = int(cx * w), int(cy * h)
            img = img[y0 : max(y0 + 1, int((cy + ch) * h)), x0 : max(x0 + 1, int((cx + cw) * w))]
            h, w = img.shape[:2]
        scale = min(tw / w, th / h)
        nw, nh = max(1, int(w * scale)), max(1, int(h * scale))
        if (nw, nh) != (w, h):
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
        bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)  # byte order of QImage.Format_RGB32 on little-endian
        return QImage(bgra.data, nw, nh, 4 * nw, QImage.Format.Format_RGB32).copy()
