"""VideoService against a real backend: real JPEG frames that decode, and clear errors."""

from __future__ import annotations

import time

import cv2
import grpc
import numpy as np
import pytest

from tests.conftest import open_channel
from vigie.v1 import video_pb2, video_pb2_grpc

P = video_pb2.StreamVideoRequest


@pytest.fixture(scope="module")
def stub(backend):
    ch = open_channel(backend.address, user="viewer")
    yield video_pb2_grpc.VideoServiceStub(ch)
    ch.close()


def first_frames(stub, camera_id: str, profile: int, n: int, fps: float = 10) -> list[video_pb2.VideoFrame]:
    stream = stub.StreamVideo(P(camera_id=camera_id, profile=profile, max_fps=fps), timeout=30)
    frames = []
    for f in stream:
        frames.append(f)
        if len(frames) == n:
            break
    stream.cancel()
    return frames


def test_list_cameras(stub):
    cams = stub.ListCameras(video_pb2.ListCamerasRequest(), timeout=5).cameras
    assert len(cams) == 269
    assert any(c.ptz for c in cams) and not all(c.ptz for c in cams)
    assert all(c.id.startswith("cam-") and c.name for c in cams)


@pytest.mark.parametrize(("profile", "size"), [(P.SUB, (640, 360)), (P.MAIN, (1280, 720))])
def test_stream_frames_decode(stub, profile, size):
    cams = [c for c in stub.ListCameras(video_pb2.ListCamerasRequest(), timeout=5).cameras if c.status == 1]
    frames = first_frames(stub, cams[0].id, profile, 4)
    seqs = [f.sequence for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    for f in frames:
        img = cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and (img.shape[1], img.shape[0]) == size == (f.width, f.height)
        assert img.std() > 10, "a street scene, not a flat picture"
        captured = f.capture_time.seconds + f.capture_time.nanos / 1e9
        assert abs(captured - time.time()) < 10


def test_pictures_move(stub):
    cams = [c for c in stub.ListCameras(video_pb2.ListCamerasRequest(), timeout=5).cameras if c.status == 1]
    a, *_, b = first_frames(stub, cams[1].id, P.SUB, 6, fps=15)
    ia = cv2.imdecode(np.frombuffer(a.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).astype(int)
    ib = cv2.imdecode(np.frombuffer(b.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).astype(int)
    assert np.abs(ia - ib).mean() > 0.5, "vehicles move between frames"


@pytest.mark.parametrize(
    ("req", "code"),
    [
        (P(camera_id="cam-9999"), grpc.StatusCode.NOT_FOUND),
        (P(camera_id=""), grpc.StatusCode.INVALID_ARGUMENT),
        (P(camera_id="cam-0001", profile=7), grpc.StatusCode.INVALID_ARGUMENT),
        (P(camera_id="cam-0001", max_fps=-1), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_bad_requests(stub, req, code):
    with pytest.raises(grpc.RpcError) as err:
        next(iter(stub.StreamVideo(req, timeout=5)))
    assert err.value.code() == code and err.value.details()
