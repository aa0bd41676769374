"""Record the suite's real RTSP camera (GStreamer, H.264) with a real backend, cut it off, bring
it back, then play the recording back: each played picture is found, by its content, among the
pictures the test itself read from the camera, and its recorded time is within one frame of the
time the test saw it; the outage is a gap (announced, with no picture inside it), never frozen
video. The files are Matroska H.264, remuxed (the codec is the camera's), 0600 in 0700 folders."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import av
import cv2
import numpy as np

from tests.api.recording_helpers import Player, RtspCamera, SourceReader, secs, thumb, ts
from tests.api.test_cameras_catalogue import cam, catalogue, wait_for
from tests.conftest import open_channel
from tests.fixtures.mjpeg_server import MjpegServer, make_jpeg
from vigie.v1 import playback_pb2, playback_pb2_grpc

FRAME_S = 1 / 15  # the test camera's frame period (tests/fixtures/rtsp_server.py)


def spans(stub, camera_id: str, start: float) -> list[tuple[float, float]]:
    r = stub.ListSpans(
        playback_pb2.ListSpansRequest(camera_id=camera_id, range=playback_pb2.TimeRange(start=ts(start))),
        timeout=10,
    )
    return [(secs(s.start), secs(s.end)) for s in r.spans]


def test_rtsp_recording_plays_back_on_time_and_an_outage_is_a_gap(tmp_path, make_backend):
    camera = RtspCamera()
    url = camera.start()
    reader = SourceReader(url)
    data = tmp_path / "data"
    path = catalogue(tmp_path / "cams.toml", [cam("rtsp-rec", url)])
    t_begin = time.time()
    b = make_backend(
        "--cameras",
        str(path),
        "--no-simulator",
        "--record",
        "continuous",
        "--record-segment-s",
        "2",
        "--data-dir",
        str(data),
    ).start()
    try:
        ch = open_channel(b.address, user="viewer")
        stub = playback_pb2_grpc.PlaybackServiceStub(ch)
        wait_for(
            lambda: (s := spans(stub, "rtsp-rec", t_begin)) and s[-1][1] - s[0][0] > 6, 60, "6 s recorded"
        )
        before = reader.stop()
        assert len(before.times) > 30, before.errors
        t_cut = time.time()
        camera.stop()  # the outage
        wait_for(lambda: time.time() - t_cut > 3.0, 10, "3 s of outage")
        t_back = time.time()
        camera.start()
        wait_for(
            lambda: len(s := spans(stub, "rtsp-rec", t_begin)) >= 2 and s[-1][1] - s[-1][0] > 3,
            90,
            "a second span after the outage",
        )
        got = spans(stub, "rtsp-rec", t_begin)
        gaps = [(a[1], b_[0]) for a, b_ in zip(got, got[1:], strict=False)]
        assert any(g0 <= t_cut + 0.2 and g1 >= t_back for g0, g1 in gaps), (got, t_cut, t_back)

        # Play the whole recording back at 4x: pictures, then the gap, then pictures again.
        player = Player(ch, "rtsp-rec", got[0][0], 4.0, max_fps=30)
        frames: list[tuple[float, bytes]] = []
        gap_events: list[tuple[float, float]] = []
        while True:
            r = player.next()
            assert r is not None
            kind = r.WhichOneof("event")
            if kind == "frame":
                frames.append((secs(r.frame.capture_time), r.frame.jpeg))
            elif kind == "gap":
                gap_events.append((secs(r.gap.start), secs(r.gap.end)))
            elif kind == "end":
                break
        player.close()
        times = [t for t, _ in frames]
        # Over 20: the player skips pictures that would be late (LATE_S), and a loaded machine
        # decodes fewer in time (32 once, of ~75); the timing checks below need 10 of them.
        assert times == sorted(times) and len(times) > 20
        # No picture inside the outage (a frozen picture would be one).
        assert not [t for t in times if t_cut + 0.2 < t < t_back], "pictures inside the outage"
        assert any(g0 <= t_cut + 0.2 and g1 >= t_back for g0, g1 in gap_events), gap_events

        # Each played picture of the stretch the test also read: the same picture, seen at the same time.
        lo, hi = before.times[0] + 0.5, before.times[-1] - 0.5
        src_times = np.array(before.times)
        src = np.stack(before.thumbs)
        deltas = []
        for t, jpeg in frames:
            if not lo <= t <= hi:
                continue
            img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            # Among the pictures the test saw within 2 s (the test pattern's ball repeats its path
            # every few seconds: a wider search could find the same picture of another pass).
            near = np.flatnonzero(np.abs(src_times - t) < 2.0)
            assert near.size, f"the test saw no picture near {t}"
            diff = np.abs(src[near] - thumb(img)[None]).mean(axis=(1, 2))
            best = int(near[np.argmin(diff)])
            diff = diff[np.argmin(diff)][None]
            assert diff[0] < 3.0, f"a played picture matches none the camera sent (diff {diff[0]:.1f})"
            deltas.append(t - src_times[best])
        # Enough pictures for the median and p90 below: the stretch the test read lasts a few
        # seconds, and on a busy machine it held 15 of them once (all within 0.5 ms).
        assert len(deltas) >= 10, len(deltas)
        d = np.abs(np.array(deltas))
        print(
            f"\nrecorded vs seen: median {np.median(d) * 1000:.0f} ms, p90 {np.percentile(d, 90) * 1000:.0f} ms,"
            f" max {d.max() * 1000:.0f} ms over {len(d)} pictures"
        )
        assert np.median(d) <= FRAME_S, deltas
        assert np.percentile(d, 90) <= FRAME_S * 1.5, deltas

        # H.264 seek (to a keyframe, then decoded forward) and reverse play (decoded, walked back).
        target = (got[0][0] + got[0][1]) / 2 + 0.03
        player = Player(ch, "rtsp-rec", target, -4.0, max_fps=30)
        back = []
        while len(back) < 8:
            r = player.next()
            assert r is not None and r.WhichOneof("event") != "end"
            if r.WhichOneof("event") == "frame":
                back.append(secs(r.frame.capture_time))
        player.send(playback_pb2.PlayRequest(control_id=2, speed=playback_pb2.PlaySpeed(speed=1.0)))
        player.send(playback_pb2.PlayRequest(control_id=3, seek=playback_pb2.PlaySeek(time=ts(target))))
        while True:
            r = player.next()
            if r.control_id == 3 and r.WhichOneof("event") == "frame":
                break
        player.close()
        assert back == sorted(back, reverse=True) and target - back[0] < FRAME_S + 0.01, back
        assert -FRAME_S - 0.01 < secs(r.frame.capture_time) - target <= 0.001, (
            secs(r.frame.capture_time) - target
        )

        # Stored as the camera sent it (H.264 in Matroska), private files.
        rec = data / "recordings"
        # Oldest first: the first is closed (the newest may have been opened a moment ago and be
        # empty still; rglob's order is the directory's, and read it once: EOFError).
        files = sorted(rec.rglob("*.mkv"))
        assert files
        with av.open(str(files[0])) as c:
            assert c.streams.video[0].codec_context.name == "h264"
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        for d_ in [rec, *{p.parent for p in files}, *{p.parent.parent for p in files}]:
            assert stat.S_IMODE(Path(d_).stat().st_mode) == 0o700, d_
        assert stat.S_IMODE(os.stat(data / "recordings" / "recordings.sqlite3").st_mode) == 0o600
        ch.close()
    finally:
        camera.stop()


def test_mjpeg_camera_is_stored_as_its_own_jpegs_dated_by_arrival(tmp_path, make_backend):
    """An HTTP MJPEG camera (tests/fixtures/mjpeg_server.py, 10 fps): its JPEGs are stored as they
    came (byte for byte), and a span lasts as long as the wall time it covers (FFmpeg numbers MJPEG
    pictures at a guessed rate: dated by that, 6 s of pictures would not last 6 s)."""
    server = MjpegServer(fps=10.0).start()
    try:
        data = tmp_path / "data"
        path = catalogue(tmp_path / "cams.toml", [cam("mjpeg-rec", server.url)])
        t_begin = time.time()
        b = make_backend(
            "--cameras", str(path), "--no-simulator", "--record", "continuous", "--data-dir", str(data)
        ).start()
        with open_channel(b.address, user="viewer") as ch:
            stub = playback_pb2_grpc.PlaybackServiceStub(ch)
            first = wait_for(lambda: spans(stub, "mjpeg-rec", t_begin), 60, "a span")[0][0]
            wait_for(lambda: time.time() - first > 6.5, 20, "6.5 s since the first picture")
            t_seen = time.time()
            s0, s1 = spans(stub, "mjpeg-rec", t_begin)[0]
        # The span reaches (within the index's 1 s update and a frame) the time the test asked.
        assert abs((s1 - s0) - (t_seen - s0)) < 1.3, (s1 - s0, t_seen - s0)
        files = sorted((data / "recordings").rglob("*.mkv"))
        sent = {make_jpeg(n) for n in range(600)}  # every picture the server could have sent by now
        with av.open(str(files[0])) as c:
            assert c.streams.video[0].codec_context.name == "mjpeg"
            packets = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
        assert len(packets) >= 10 and set(packets) <= sent, "stored pictures differ from the camera's"
    finally:
        server.stop()


def test_a_camera_alarm_protects_its_recording_and_marks_the_timeline(tmp_path, make_backend):
    """The MJPEG camera goes silent: the backend raises its offline alarm; that alarm protects
    the camera's recording around it and appears as a marker in ListSpans."""
    server = MjpegServer(fps=10.0).start()
    try:
        path = catalogue(tmp_path / "cams.toml", [cam("mjpeg-alarm", server.url)])
        t_begin = time.time()
        b = make_backend("--cameras", str(path), "--no-simulator", "--record", "continuous").start()
        with open_channel(b.address, user="viewer") as ch:
            stub = playback_pb2_grpc.PlaybackServiceStub(ch)
            wait_for(lambda: (s := spans(stub, "mjpeg-alarm", t_begin)) and s[-1][1] - s[0][0] > 3, 60, "3 s")
            server.stop()  # silent: OFFLINE after 5 s, then its alarm

            def listed() -> playback_pb2.ListSpansResponse:
                return stub.ListSpans(
                    playback_pb2.ListSpansRequest(
                        camera_id="mjpeg-alarm", range=playback_pb2.TimeRange(start=ts(t_begin))
                    ),
                    timeout=10,
                )

            r = wait_for(lambda: (x := listed()).markers and x, 60, "an alarm marker")
            marker = r.markers[0]
            assert marker.kind == playback_pb2.TimelineMarker.ALARM and marker.priority in (1, 2, 3, 4)
            alarm_t = secs(marker.time)
            # The recording just before the alarm (the pre-buffer, 10 s by default) is protected.
            protected = [s for s in r.spans if s.protected]
            assert protected and secs(protected[-1].end) >= alarm_t - 10, (alarm_t, list(r.spans))
    finally:
        server.stop()
