"""Play on a real backend recording four real (file) cameras: four streams opened on one clock
show the same moment (each picture arrives when the shared clock reaches it, within one recorded
frame, and the four tiles never differ by more than one frame); a seek jumps there; reverse play
goes back in time; paused, a step shows the next picture; bad controls are refused."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from tests.api.recording_helpers import Player, secs, start_recording_backend, ts
from tests.api.test_cameras_catalogue import wait_for
from tests.conftest import open_channel
from vigie.v1 import playback_pb2, playback_pb2_grpc

RECORD_FPS = 5.0  # --record-fps default: the recorded pictures of a file camera
FRAME_S = 1 / RECORD_FPS
CAMS = ["file-1", "file-2", "file-3", "file-4"]


@pytest.fixture
def recording_backend(tmp_path, make_backend):
    return start_recording_backend(tmp_path, make_backend)


def frames_of(player: Player, n: int) -> list[tuple[float, float, int]]:
    """(arrival, capture time, control id) of the next n pictures."""
    out = []
    while len(out) < n:
        r = player.next()
        assert r is not None
        if r.WhichOneof("event") == "frame":
            out.append((player.arrival, secs(r.frame.capture_time), r.control_id))
        assert r.WhichOneof("event") != "end", "the recording ended early"
    return out


def test_four_streams_on_one_clock_show_the_same_moment(recording_backend):
    b, t0 = recording_backend
    ch = open_channel(b.address, user="viewer")
    stub = playback_pb2_grpc.PlaybackServiceStub(ch)
    firsts = [
        secs(
            stub.ListSpans(
                playback_pb2.ListSpansRequest(camera_id=c, range=playback_pb2.TimeRange(start=ts(t0))),
                timeout=10,
            )
            .spans[0]
            .start
        )
        for c in CAMS
    ]
    start = max(firsts) + 1.0  # every camera was recording then
    origin = time.time() + 0.5  # a small lead so every stream is open before the clock starts
    players = [Player(ch, c, start, 1.0, clock_origin=ts(origin)) for c in CAMS]
    got = [frames_of(p, 12) for p in players]
    for p in players:
        p.close()
    lateness = []
    for frames in got:
        # The first picture (the one showing at the start) is sent at once, before the clock
        # runs; the others as the clock reaches them.
        assert frames[0][1] <= start + 0.001
        for arrival, capture, _ in frames[1:]:
            clock = start + (arrival - origin)  # the shared clock, computed by the test
            lateness.append(clock - capture)
    late = np.array(lateness)
    print(
        f"\nlateness vs the shared clock: median {np.median(late) * 1000:.0f} ms, p95 {np.percentile(late, 95) * 1000:.0f} ms"
    )
    # A picture is shown from when the clock reaches it until the next one: within one frame.
    assert np.percentile(late, 95) < FRAME_S and late.min() > -0.05, late
    # Tile against tile: at every instant, each tile's latest picture arrived on the shared clock
    # to within one frame of the others' (errors: arrival minus when the clock reached it).
    errors = [[(a, a - (origin + (c - start))) for a, c, _ in frames[1:]] for frames in got]
    t_end = min(tile[-1][0] for tile in errors)
    for k in np.arange(origin + 0.5, t_end, 0.05):
        latest = [[e for a, e in tile if a <= k] for tile in errors]
        if all(latest):
            now = [x[-1] for x in latest]
            assert max(now) - min(now) < FRAME_S, now
    ch.close()


def test_seek_reverse_pause_and_step(recording_backend):
    b, t0 = recording_backend
    ch = open_channel(b.address, user="viewer")
    spans = (
        playback_pb2_grpc.PlaybackServiceStub(ch)
        .ListSpans(
            playback_pb2.ListSpansRequest(camera_id="file-1", range=playback_pb2.TimeRange(start=ts(t0))),
            timeout=10,
        )
        .spans
    )
    s0 = secs(spans[0].start)  # the first recorded picture
    p = Player(ch, "file-1", s0 + 4.0, 2.0)
    first = frames_of(p, 3)
    # The picture showing at the start comes first, at once: the last one at or before it.
    assert s0 + 4.0 - FRAME_S - 0.01 < first[0][1] <= s0 + 4.0 + 0.001, first[0][1] - (s0 + 4.0)
    # Seek back to the first span's start + 1 s: the picture showing then comes first.
    target = s0 + 1.0
    p.send(playback_pb2.PlayControl(control_id=2, seek=playback_pb2.PlaySeek(time=ts(target))))
    sent = time.time()
    while True:
        r = p.next()
        if r.control_id == 2 and r.WhichOneof("event") == "frame":
            break
    latency = time.time() - sent
    t_seek = secs(r.frame.capture_time)
    assert target - FRAME_S - 0.01 < t_seek <= target + 0.001, t_seek - target
    print(f"\nseek latency {latency * 1000:.0f} ms")
    # Reverse at 2x: pictures go back in time.
    p.send(playback_pb2.PlayControl(control_id=3, speed=playback_pb2.PlaySpeed(speed=-2.0)))
    back = [f for f in frames_of(p, 6) if f[2] == 3]
    times = [c for _, c, _ in back]
    assert len(times) >= 3 and times == sorted(times, reverse=True), times
    # Pause, then one step forward: the next recorded picture after the one shown.
    p.send(playback_pb2.PlayControl(control_id=4, speed=playback_pb2.PlaySpeed(speed=0.0)))
    while True:
        r = p.next()
        if r.control_id == 4 and r.WhichOneof("event") == "state":
            assert r.state.speed == 0.0
            break
    p.send(playback_pb2.PlayControl(control_id=5, step=playback_pb2.PlayStep(frames=1)))
    while True:
        r = p.next()
        if r.control_id == 5 and r.WhichOneof("event") == "frame":
            break
    stepped = secs(r.frame.capture_time)
    assert 0 < stepped - times[-1] <= FRAME_S + 0.05, stepped - times[-1]
    # A step while playing is refused, naming the rule.
    p.send(playback_pb2.PlayControl(control_id=6, speed=playback_pb2.PlaySpeed(speed=1.0)))
    p.send(playback_pb2.PlayControl(control_id=7, step=playback_pb2.PlayStep(frames=1)))
    with pytest.raises(grpc.RpcError) as err:
        while p.next() is not None:
            pass
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "paused" in err.value.details()
    ch.close()


@pytest.mark.parametrize(
    ("control", "word"),
    [
        (playback_pb2.PlayControl(seek=playback_pb2.PlaySeek()), "open"),
        (playback_pb2.PlayControl(open=playback_pb2.PlayOpen(camera_id="file-1", speed=1.0)), "start"),
        (
            playback_pb2.PlayControl(open=playback_pb2.PlayOpen(camera_id="file-1", start=ts(1.0), speed=32)),
            "speed",
        ),
        (
            playback_pb2.PlayControl(open=playback_pb2.PlayOpen(camera_id="nope", start=ts(1.0), speed=1)),
            "nope",
        ),
    ],
)
def test_bad_first_controls_are_refused(recording_backend, control, word):
    b, _ = recording_backend
    ch = open_channel(b.address, user="viewer")
    call = playback_pb2_grpc.PlaybackServiceStub(ch).Play(iter([control]), timeout=20)
    with pytest.raises(grpc.RpcError) as err:
        list(call)
    assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    assert word in err.value.details(), err.value.details()
    ch.close()


def test_a_user_holds_at_most_32_play_streams(recording_backend):
    b, t0 = recording_backend
    ch = open_channel(b.address, user="viewer")
    held = []
    for i in range(32):
        p = Player(ch, CAMS[i % 4], t0 + 2.0, 0.0)  # paused: each stream only answers its state
        assert p.next().WhichOneof("event") == "state"
        held.append(p)
    extra = Player(ch, "file-1", t0 + 2.0, 0.0)
    with pytest.raises(grpc.RpcError) as err:
        while extra.next() is not None:
            pass
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "(32)" in err.value.details()
    held.pop().close()

    def one_more() -> bool:
        p = Player(ch, "file-1", t0 + 2.0, 0.0)
        try:
            return p.next().WhichOneof("event") == "state"
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            return False  # the closed stream's place is freed when the backend sees the cancel
        finally:
            p.close()

    wait_for(one_more, 20, "a place freed by closing a stream")
    for p in held:
        p.close()
    ch.close()
