"""Retention with a small quota, on real files: the real recorder writes a camera's pictures
(a picture source that gives noisy pictures as fast as it is read, with capture times 1/15 s
apart) into real segment files and a real index, with a 1.2 MB quota. The files on disk never
pass the quota (measured before every picture), the oldest unprotected segments go first, and
the protected ones stay."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from vigie.backend.adapters.base import NoFrame, VideoSource
from vigie.backend.recording.recorder import Recorder, RetentionPolicy
from vigie.backend.store.recordings_sqlite import RecordingIndex

QUOTA = 1_200_000
T0 = time.time() - 3600  # the pictures' capture times start an hour ago


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.mkv"))


class NoisySource(VideoSource):
    """Noisy 160x90 pictures (about 12 KB as JPEG), each 1/15 s after the previous one."""

    fps = 15.0

    def __init__(self, root: Path, stop_after: int) -> None:
        self.root = root
        self.n = 0
        self.stop_after = stop_after
        self.max_seen = 0
        self.done = threading.Event()
        self.rng = np.random.default_rng(1)

    def read(self) -> tuple[np.ndarray, float, int]:
        self.max_seen = max(self.max_seen, disk_bytes(self.root))
        self.n += 1
        if self.n >= self.stop_after:
            self.done.set()
            time.sleep(0.02)  # a silent camera's pace (the test then stops the recorder)
            raise NoFrame()
        img = self.rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
        return img, T0 + self.n / 15, self.n


def test_a_small_quota_deletes_the_oldest_unprotected_first_and_keeps_protected(tmp_path):
    root = tmp_path / "recordings"
    index = RecordingIndex(str(root))
    source = NoisySource(root, stop_after=600)  # ~7 MB of pictures: 6 times the quota
    rec = Recorder(
        str(root),
        index,
        cameras=lambda: ["cam-1"],
        stream_url=lambda _c: None,
        open_picture_source=lambda _c: source,
        default_mode="continuous",
        policy=RetentionPolicy(max_age_days=365, protected_age_days=365, quota_bytes=QUOTA),
        segment_s=1.0,
    )
    # The first second of pictures are evidence: protected before they are even written.
    index.protect("cam-1", T0, T0 + 1.0, time.time() + 86400, "incident 42")
    seen: dict[int, float] = {}
    rec.start()
    try:
        deadline = time.monotonic() + 120
        while not source.done.wait(0.05):
            assert time.monotonic() < deadline, "the recorder did not write 600 pictures in 120 s"
            for s in index.segments("cam-1", 0, 2e9, time.time()):
                seen[s.id] = s.start
    finally:
        rec.stop()
    present = index.segments("cam-1", 0, 2e9, time.time())
    for s in present:
        seen[s.id] = s.start
    assert source.max_seen <= QUOTA, f"{source.max_seen} bytes on disk, quota {QUOTA}"
    assert disk_bytes(root) <= QUOTA
    protected = [s for s in present if s.protected]
    assert protected and min(s.start for s in protected) < T0 + 0.1, "the protected segments were deleted"
    assert all(os.path.exists(root / s.path) for s in present)
    deleted = {i: t for i, t in seen.items() if i not in {s.id for s in present}}
    assert deleted, "nothing was deleted: the quota was never reached"
    kept_unprotected = [s.start for s in present if not s.protected]
    assert kept_unprotected and max(deleted.values()) < min(kept_unprotected), (
        "an unprotected segment was deleted while an older one was kept"
    )
    assert all(t >= T0 + 1.0 for t in deleted.values()), "a protected segment was deleted"
