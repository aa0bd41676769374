"""A damaged H.264 packet in a segment (what a camera cut off mid-picture leaves) loses its own
pictures, not the rest of the recording: reading goes on at the next keyframe. Before the fix,
the decoder's error ended the read, and a playback crossing the damage announced its end there
(CI of stop 24, tests/api/test_recording_rtsp.py: no gap event, the play stopped before it)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from vigie.backend.recording.segments import read_frames

FPS = 15
GOP = 15  # a keyframe every second
FRAMES = 45
DAMAGED = (20, 21, 22)  # packets of the second second


def _write(path: Path, damaged: tuple[int, ...]) -> None:
    """Encode FRAMES pictures to H.264 in Matroska (length-prefixed NAL units, as a remuxed RTSP
    camera is stored); the packets numbered `damaged` are cut to their first 6 bytes, as a camera
    cut off in the middle of a picture leaves it (CI's log: "missing picture in access unit with
    size 6"): the NAL unit's length prefix then promises more than the packet holds."""
    out = av.open(str(path), "w", format="matroska")
    stream = out.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    stream.options = {"g": str(GOP), "bf": "0"}
    n = 0

    def mux(packets: list[av.Packet]) -> None:
        nonlocal n
        for p in packets:
            if n in damaged:
                cut = av.Packet(bytes(p)[:6])
                cut.pts, cut.dts, cut.time_base, cut.stream = p.pts, p.dts, p.time_base, stream
                out.mux(cut)
            else:
                out.mux(p)
            n += 1

    for i in range(FRAMES):
        img = np.zeros((120, 160, 3), np.uint8)
        img[:, (i * 3) % 140 : (i * 3) % 140 + 20] = 255
        f = av.VideoFrame.from_ndarray(img, format="bgr24")
        f.pts = i
        mux(stream.encode(f))
    mux(stream.encode(None))
    out.close()


def test_reading_goes_on_after_a_damaged_packet(tmp_path):
    good, bad = tmp_path / "good.mkv", tmp_path / "bad.mkv"
    _write(good, ())
    _write(bad, DAMAGED)
    assert len(list(read_frames(str(good), 0.0))) == FRAMES  # the file itself reads whole
    times = [f.t for f in read_frames(str(bad), 0.0)]
    # Everything of the first second, and everything from the keyframe after the damage on.
    first = [n / FPS for n in range(GOP)]
    after = [n / FPS for n in range(2 * GOP, FRAMES)]
    for want in first + after:
        assert any(abs(t - want) < 0.002 for t in times), (want, times)
