"""One user holds at most 32 video streams at once: past that RESOURCE_EXHAUSTED with the reason,
while every other user still gets pictures, and a closed stream frees its place."""

from __future__ import annotations

import time

import grpc
import pytest

from tests.conftest import open_channel
from vigie.v1 import video_pb2, video_pb2_grpc

PER_USER = 32
P = video_pb2.StreamVideoRequest


def _open(stub: video_pb2_grpc.VideoServiceStub, camera_id: str):
    """A stream that has delivered its first frame (so the backend counts it)."""
    stream = stub.StreamVideo(P(camera_id=camera_id, profile=P.SUB, max_fps=1), timeout=120)
    assert next(stream).jpeg
    return stream


def test_streams_per_user_are_capped(make_backend):
    b = make_backend("--seed", "2").start()
    with open_channel(b.address, user="viewer") as ch, open_channel(b.address, user="operator") as other:
        stub = video_pb2_grpc.VideoServiceStub(ch)
        cams = [
            c.id
            for c in stub.ListCameras(video_pb2.ListCamerasRequest(), timeout=10).cameras
            if c.status == 1
        ]
        streams = [_open(stub, cams[i % len(cams)]) for i in range(PER_USER)]
        try:
            with pytest.raises(grpc.RpcError) as err:
                _open(stub, cams[0])
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert err.value.details() == (
                "viewer already watches 32 video streams, the most one user may hold at once (32): close one first"
            )
            # Another user is not starved.
            _open(video_pb2_grpc.VideoServiceStub(other), cams[0]).cancel()
            # A closed stream frees its place (the backend notices the cancel within the deadline).
            streams.pop().cancel()
            deadline = time.monotonic() + 20
            while True:
                try:
                    streams.append(_open(stub, cams[0]))
                    break
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
        finally:
            for s in streams:
                s.cancel()
