"""VideoService.Ptz on simulated PTZ cameras: the state moves, and so does the picture."""

from __future__ import annotations

import time

import cv2
import grpc
import numpy as np
import pytest

from tests.conftest import open_channel
from vigie.v1 import video_pb2, video_pb2_grpc

R = video_pb2.PtzRequest
P = video_pb2.StreamVideoRequest
OK = 1


@pytest.fixture(scope="module")
def backend_ptz():
    from tests.conftest import BackendProcess

    b = BackendProcess("--seed", "7", "--lights", "0", "--vehicles", "0").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def stub(backend_ptz):
    ch = open_channel(backend_ptz.address, user="operator")
    yield video_pb2_grpc.VideoServiceStub(ch)
    ch.close()


@pytest.fixture(scope="module")
def cams(stub) -> list[video_pb2.Camera]:
    return list(stub.ListCameras(video_pb2.ListCamerasRequest(), timeout=5).cameras)


def grey(f: video_pb2.VideoFrame) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.int16)


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def ptz_cam(cams: list[video_pb2.Camera], skip: int = 0) -> video_pb2.Camera:
    return [c for c in cams if c.ptz and c.status == OK][skip]


def test_ptz_cameras_list_presets(cams):
    ptz = [c for c in cams if c.ptz]
    assert ptz and all(len(c.presets) == 4 for c in ptz)
    assert [p.number for p in ptz[0].presets] == [1, 2, 3, 4]
    assert ptz[0].presets[0].name == "Carrefour"
    assert all(not c.presets for c in cams if not c.ptz)


def test_move_changes_state_and_picture_then_stop(stub, cams):
    cam = ptz_cam(cams)
    stream = stub.StreamVideo(P(camera_id=cam.id, max_fps=15), timeout=60)
    frames = iter(stream)
    before = grey(next(frames))
    quiet = diff(before, grey(next(frames)))  # vehicles and grain only

    moved = stub.Ptz(R(camera_id=cam.id, action=R.MOVE, pan=1.0, timeout_s=10), timeout=5)
    assert moved.camera_id == cam.id and "moving" in moved.message
    deadline = time.monotonic() + 10
    while diff(before, grey(next(frames))) < max(10.0, 4 * quiet):  # until the street has scrolled away
        assert time.monotonic() < deadline, "the picture never changed while panning"

    stopped = stub.Ptz(R(camera_id=cam.id, action=R.STOP), timeout=5)
    turned = (stopped.pan_deg - moved.pan_deg) % 360
    assert 1 < turned < 300, f"pan went from {moved.pan_deg} to {stopped.pan_deg}"
    assert stopped.message == "stopped"
    for _ in range(5):  # time passes (5 frames)...
        next(frames)
    again = stub.Ptz(R(camera_id=cam.id, action=R.STOP), timeout=5)
    assert again.pan_deg == pytest.approx(stopped.pan_deg)  # ...but a stopped camera stays put
    stream.cancel()


def test_move_times_out_by_itself(stub, cams):
    cam = ptz_cam(cams, 1)
    start = stub.Ptz(R(camera_id=cam.id, action=R.MOVE, zoom=1.0, tilt=1.0, timeout_s=0.2), timeout=5)
    stream = stub.StreamVideo(P(camera_id=cam.id, max_fps=15), timeout=30)
    for _ in zip(range(8), stream, strict=False):  # about 0.5 s of frames
        pass
    stream.cancel()
    end = stub.Ptz(R(camera_id=cam.id, action=R.STOP), timeout=5)
    assert end.zoom == pytest.approx(start.zoom + 0.4, abs=0.05)  # 0.2 s at 2 zoom units per s
    assert end.tilt_deg == pytest.approx(start.tilt_deg + 6, abs=0.5)
    big = stub.Ptz(R(camera_id=cam.id, action=R.GOTO_PRESET, preset=4), timeout=5)
    assert big.zoom == 1.0


def test_goto_preset(stub, cams):
    cam = ptz_cam(cams, 2)
    r = stub.Ptz(R(camera_id=cam.id, action=R.GOTO_PRESET, preset=2), timeout=5)
    assert "Trottoir nord" in r.message
    assert (r.tilt_deg, r.zoom) == (-15.0, 3.0) and 0 <= r.pan_deg < 360
    r1 = stub.Ptz(R(camera_id=cam.id, action=R.GOTO_PRESET, preset=1), timeout=5)
    assert (r1.tilt_deg, r1.zoom) == (-8.0, 2.5)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda ptz, fixed: R(camera_id="cam-9999", action=R.STOP), grpc.StatusCode.NOT_FOUND),
        (lambda ptz, fixed: R(camera_id=fixed, action=R.STOP), grpc.StatusCode.FAILED_PRECONDITION),
        (lambda ptz, fixed: R(camera_id=ptz, action=R.MOVE, pan=2.0), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda ptz, fixed: R(camera_id=ptz, action=R.MOVE, zoom=-1.5), grpc.StatusCode.INVALID_ARGUMENT),
        (
            lambda ptz, fixed: R(camera_id=ptz, action=R.GOTO_PRESET, preset=99),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (lambda ptz, fixed: R(camera_id=ptz), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda ptz, fixed: R(camera_id="", action=R.STOP), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_errors(stub, cams, make, code):
    fixed = next(c.id for c in cams if not c.ptz)
    with pytest.raises(grpc.RpcError) as err:
        stub.Ptz(make(ptz_cam(cams).id, fixed), timeout=5)
    assert err.value.code() == code and err.value.details()
