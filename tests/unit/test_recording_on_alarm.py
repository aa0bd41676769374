"""On-alarm recording on real files: the recorder writes a camera set to on_alarm (pre-buffer 2 s,
post-buffer 3 s); an alarm at T protects [T - 2, T + 3]; the retention pass then deletes every
segment outside that window and keeps, without a hole, those that cover it."""

from __future__ import annotations

import time

from tests.unit.test_recording_retention import T0, NoisySource
from vigie.backend.recording.recorder import Recorder, RetentionPolicy
from vigie.backend.store.recordings_sqlite import RecordingIndex


def test_on_alarm_keeps_the_pre_and_post_buffers_and_drops_the_rest(tmp_path):
    root = tmp_path / "recordings"
    index = RecordingIndex(str(root))
    source = NoisySource(root, stop_after=600)  # 40 s of pictures, from an hour ago
    rec = Recorder(
        str(root),
        index,
        cameras=lambda: ["cam-1"],
        stream_url=lambda _c: None,
        open_picture_source=lambda _c: source,
        default_mode="on_alarm",
        policy=RetentionPolicy(max_age_days=365, protected_age_days=365, quota_bytes=10**9),
        segment_s=1.0,
        pre_s=2.0,
        post_s=3.0,
    )
    rec.start()
    try:
        assert source.done.wait(120), "the recorder did not write 600 pictures in 120 s"
    finally:
        rec.stop()
    before = index.segments("cam-1", 0, 2e9, time.time())
    assert before[0].start < T0 + 1 and before[-1].end > T0 + 39
    alarm = T0 + 20.0
    rec.on_alarm(["cam-1"], alarm, "alarm 7")
    deleted = rec.enforce()
    kept = index.segments("cam-1", 0, 2e9, time.time())
    assert deleted == len(before) - len(kept) and deleted > 20
    assert kept and all(s.protected for s in kept)
    assert all(s.end >= alarm - 2.0 and s.start <= alarm + 3.0 for s in kept), [
        (s.start - T0, s.end - T0) for s in kept
    ]
    # Together they cover the window: from before T - 2 to after T + 3, gaps no longer than a frame.
    assert kept[0].start <= alarm - 2.0 + 1 / 15 and kept[-1].end >= alarm + 3.0 - 1 / 15
    for a, b in zip(kept, kept[1:], strict=False):
        assert b.start - a.end <= 1 / 15 + 0.01
    assert all((root / s.path).exists() for s in kept)
    assert not any((root / s.path).exists() for s in before if s.id not in {k.id for k in kept})
