"""A playback position in one camera's recordings: the next picture forward or backward,
across segment files, from any time. Blocking (decoding): used from a worker pool, one call at
a time per Play stream.

Forward reading is lazy (a seek to the keyframe before the position, then decode on), so a seek
costs at most one keyframe interval of decoding. Backward reading decodes what precedes the
position in the current segment once and walks it in reverse.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from vigie.backend.recording.segments import Frame, read_frames
from vigie.backend.store.recordings_sqlite import RecordingIndex, Segment

BACKWARD_CHUNK_S = 2.0  # reverse play decodes this much at a time

log = logging.getLogger(__name__)


class Cursor:
    def __init__(self, index: RecordingIndex, root: str, camera_id: str, width: int, height: int) -> None:
        self.index = index
        self.root = root
        self.camera_id = camera_id
        self.width = width
        self.height = height
        self.forward = True
        self.position = 0.0  # time of the last picture given (or the seek target)
        self._given = False
        self._seg: Segment | None = None
        self._it: Iterator[Frame] | None = None
        self._back: list[Frame] = []
        self.min_gap = 0.0  # media seconds between pictures given (fast playback skips the rest)

    def seek(self, t: float, forward: bool, past: bool = False) -> None:
        """Go to `t`; `past`: the next picture is strictly after (before, backward) `t`, which
        was already shown."""
        self.forward = forward
        self.position = t
        self._given = past
        self._seg = None
        self._it = None
        self._back = []

    def _want(self, t: float) -> bool:
        return not self._given or abs(t - self.position) >= self.min_gap

    def _path(self, seg: Segment) -> str:
        return os.path.join(self.root, seg.path)

    def next(self) -> Frame | None:
        """The next picture in the direction of play, or None (nothing more recorded yet)."""
        try:
            frame = self._next_forward() if self.forward else self._next_backward()
        except Exception as exc:  # a file being written or deleted by retention: "nothing now"
            log.info("playback of %s at %.3f: %s: nothing now", self.camera_id, self.position, exc)
            self._seg, self._it, self._back = None, None, []
            return None
        if frame is not None:
            self.position = frame.t
            self._given = True
        return frame

    def _next_forward(self) -> Frame | None:
        now = time.time()
        while True:
            if self._it is None:
                after = self.position + (0.0005 if self._given else 0.0)
                if self._seg is None:
                    self._seg = self.index.segment_at_or_after(self.camera_id, after, now)
                else:
                    self._seg = self.index.neighbour(self.camera_id, self._seg.start, True, now)
                if self._seg is None:
                    return None
                self._it = read_frames(
                    self._path(self._seg), self._seg.start, after, self.width, self.height, self._want
                )
            for frame in self._it:
                if frame.t > self.position or not self._given:
                    return frame
            self._it = None
            if not self._seg.closed:  # the live edge: come back later from the same place
                self._seg = None
                return None

    def _next_backward(self) -> Frame | None:
        now = time.time()
        while not self._back:
            before = self.position - (0.0005 if self._given else 0.0)
            if self._seg is None:
                self._seg = self.index.segment_at_or_before(self.camera_id, before, now)
            elif self._seg.start >= before - 0.0005:
                self._seg = self.index.neighbour(self.camera_id, self._seg.start, False, now)
            if self._seg is None:
                return None
            lo = max(self._seg.start, before - BACKWARD_CHUNK_S)
            chunk = [
                f
                for f in read_frames(self._path(self._seg), self._seg.start, lo, self.width, self.height)
                if f.t <= before
            ]
            if not chunk and lo <= self._seg.start:
                self.position = self._seg.start
                self._given = True
                continue
            if not chunk:
                self.position = lo
                self._given = True
                continue
            last = None
            for f in reversed(chunk):
                if last is None or not self._given or abs(f.t - last) >= self.min_gap:
                    self._back.append(f)
                    last = f.t
        return self._back.pop(0)
