"""VideoService.WatchVideo against a real backend: one call shows a camera, switches to another
inside the call, and ends with OK when the console half-closes it; bad requests get their status;
a watch counts against the user's video streams and a half-closed one frees its place."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import cv2
import grpc
import numpy as np
import pytest

from tests.conftest import open_channel
from vigie.v1 import video_pb2, video_pb2_grpc

P = video_pb2.StreamVideoRequest
W = video_pb2.WatchVideoRequest
END = None


class Watch:
    """A WatchVideo call fed from a queue: put() sends a request, close() half-closes."""

    def __init__(self, stub: video_pb2_grpc.VideoServiceStub, timeout: float = 60) -> None:
        self._q: queue.Queue[video_pb2.WatchVideoRequest | None] = queue.Queue()
        self.call = stub.WatchVideo(self._requests(), timeout=timeout)

    def _requests(self) -> Iterator[video_pb2.WatchVideoRequest]:
        while (r := self._q.get()) is not END:
            yield r

    def put(self, watch_id: int, camera_id: str, profile: int = P.SUB, fps: float = 10) -> None:
        self._q.put(W(watch_id=watch_id, video=P(camera_id=camera_id, profile=profile, max_fps=fps)))

    def close(self) -> None:
        self._q.put(END)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Whatever happened, the request iterator ends (gRPC's thread reading it is not left waiting)."""
        self.close()
        self.call.cancel()

    def next(self) -> video_pb2.WatchVideoFrame:
        return next(self.call)


@pytest.fixture(scope="module")
def stub(backend):
    ch = open_channel(backend.address, user="viewer")
    yield video_pb2_grpc.VideoServiceStub(ch)
    ch.close()


def online_cameras(stub) -> list[str]:
    cams = stub.ListCameras(video_pb2.ListCamerasRequest(), timeout=10).cameras
    return [c.id for c in cams if c.status == 1 and not c.direct]


def size_of(f: video_pb2.WatchVideoFrame) -> tuple[int, int]:
    img = cv2.imdecode(np.frombuffer(f.frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img.shape[1], img.shape[0]


def test_one_call_switches_camera_and_ends_with_ok_when_half_closed(stub):
    a, b = online_cameras(stub)[:2]
    with Watch(stub) as w:
        one_call_switch(w, a, b)


def one_call_switch(w: Watch, a: str, b: str) -> None:
    w.put(1, a, P.SUB)
    first = [w.next() for _ in range(3)]
    assert [f.watch_id for f in first] == [1, 1, 1]
    assert all(size_of(f) == (640, 360) for f in first)
    # The switch: another camera at the main profile, in the same call.
    w.put(2, b, P.MAIN)
    seen: list[int] = []
    deadline = time.monotonic() + 20
    while seen.count(2) < 3:
        assert time.monotonic() < deadline, f"no pictures of the second request: {seen}"
        f = w.next()
        seen.append(f.watch_id)
        assert size_of(f) == ((1280, 720) if f.watch_id == 2 else (640, 360))
    # Once the new request's pictures come, the old one's never do again.
    assert 1 not in seen[seen.index(2) :], seen
    w.close()
    rest = list(w.call)  # the call ends by itself (pictures already on their way may come)
    assert all(f.watch_id == 2 for f in rest)
    assert w.call.code() == grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("camera_id", "code", "needle"),
    [
        ("cam-9999", grpc.StatusCode.NOT_FOUND, "no camera with id 'cam-9999'"),
        ("", grpc.StatusCode.INVALID_ARGUMENT, "camera_id is required"),
        ("c" * 129, grpc.StatusCode.INVALID_ARGUMENT, "video.camera_id is 129 characters long"),
    ],
)
def test_a_bad_first_request_gets_its_status(stub, camera_id, code, needle):
    with Watch(stub, timeout=10) as w, pytest.raises(grpc.RpcError) as err:
        w.put(1, camera_id)
        w.next()
    assert err.value.code() == code and needle in err.value.details()


def test_a_bad_switch_ends_the_call_with_its_status(stub):
    with Watch(stub, timeout=20) as w, pytest.raises(grpc.RpcError) as err:
        w.put(1, online_cameras(stub)[0])
        assert w.next().watch_id == 1
        w.put(2, "cam-0001", fps=-1)
        while True:
            w.next()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_fps" in err.value.details()


def test_a_call_closed_before_naming_a_camera_is_refused(stub):
    with Watch(stub, timeout=10) as w, pytest.raises(grpc.RpcError) as err:
        w.close()
        w.next()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "needs a first request" in err.value.details()


def test_a_watch_counts_against_the_users_streams_and_a_half_closed_one_frees_its_place(make_backend):
    b = make_backend("--seed", "2").start()
    with open_channel(b.address, user="viewer") as ch:
        stub = video_pb2_grpc.VideoServiceStub(ch)
        cams = online_cameras(stub)
        streams = []
        watches: list[Watch] = []
        try:
            for i in range(31):  # the limit is 32 (tests/api/test_video_limits.py)
                s = stub.StreamVideo(P(camera_id=cams[i % len(cams)], max_fps=1), timeout=120)
                assert next(s).jpeg
                streams.append(s)
            watches.append(Watch(stub, timeout=120))
            watches[0].put(1, cams[0], fps=1)
            assert watches[0].next().frame.jpeg  # the 32nd
            with Watch(stub, timeout=20) as over, pytest.raises(grpc.RpcError) as err:
                over.put(1, cams[1], fps=1)
                over.next()
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            # The half-closed watch ends with OK and gives its place back (no cancel needed).
            watches[0].close()
            list(watches[0].call)
            assert watches[0].call.code() == grpc.StatusCode.OK
            again = Watch(stub, timeout=120)
            watches.append(again)
            again.put(1, cams[1], fps=1)
            assert again.next().frame.jpeg
        finally:
            for s in streams:
                s.cancel()
            for w in watches:
                w.__exit__()


def test_many_quick_switches_end_on_the_newest_request(stub):
    cams = online_cameras(stub)
    with Watch(stub, timeout=30) as w:
        quick_switches(w, cams)


def quick_switches(w: Watch, cams: list[str]) -> None:
    for i in range(1, 21):  # twenty switches at once: only the last one matters
        w.put(i, cams[i % len(cams)], fps=5)
    f = w.next()
    deadline = time.monotonic() + 20
    while f.watch_id != 20:
        assert time.monotonic() < deadline
        f = w.next()
    w.close()
    assert all(g.watch_id == 20 for g in w.call)
    assert w.call.code() == grpc.StatusCode.OK
