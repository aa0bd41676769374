"""Per-camera decoding worker: JPEG in (any thread), ready QImage out (queued signal).

Latest frame wins: if the worker is still busy when a new picture arrives, the older undecoded
one is dropped (counted), never queued, so a slow display shows fewer frames, not older ones.
Pictures are decoded at reduced resolution when the tile is much smaller than the stream, then
scaled to the tile's size, so the GUI thread only paints.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtGui import QImage


class FrameDecoder(QObject):
    sig_frame = Signal(QImage, float, int)  # picture scaled to the target size, capture unix time, sequence

    def __init__(self, name: str = "decoder") -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._slot: tuple[bytes, float, int] | None = None
        self._stopped = False
        self._target = (640, 360)
        self._last_size = (0, 0)  # full size of the stream's pictures, once known
        self.received = 0
        self.decoded = 0
        self.dropped = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def offer(self, jpeg: bytes, captured: float, sequence: int) -> None:
        """Hand over a new picture (called from the session thread)."""
        with self._lock:
            if self._slot is not None:
                self.dropped += 1
            self._slot = (jpeg, captured, sequence)
            self.received += 1
        self._wake.set()

    def set_target_size(self, size: QSize) -> None:
        self._target = (max(16, size.width()), max(16, size.height()))

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopped:
                return
            with self._lock:
                item, self._slot = self._slot, None
            if item is None:
                continue
            jpeg, captured, seq = item
            try:
                image = self._decode(jpeg)
            except cv2.error:
                image = None
            if image is None:
                self.errors += 1
                continue
            self.decoded += 1
            self.sig_frame.emit(image, captured, seq)

    def _decode(self, jpeg: bytes) -> QImage | None:
        tw, th = self._target
        buf = np.frombuffer(jpeg, np.uint8)
        # Cheap first pass: decode at 1/2 or 1/4 size when the tile is that much smaller.
        sw, sh = self._last_size
        flag, factor = cv2.IMREAD_COLOR, 1
        if sw >= 4 * tw and sh >= 4 * th:
            flag, factor = cv2.IMREAD_REDUCED_COLOR_4, 4
        elif sw >= 2 * tw and sh >= 2 * th:
            flag, factor = cv2.IMREAD_REDUCED_COLOR_2, 2
        img = cv2.imdecode(buf, flag)
        if img is None:
            return None
        self._last_size = (img.shape[1] * factor, img.shape[0] * factor)
        h, w = img.shape[:2]
        scale = min(tw / w, th / h)
        if scale < 1.0:
            img = cv2.resize(
                img, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA
            )
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
