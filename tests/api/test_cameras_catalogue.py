"""Real cameras from a --cameras catalogue, against a real backend process on loopback.

The cameras are real too: an HTTP MJPEG server (in-process thread), a looping video file, a
GStreamer RTSP server (Debian's python3-gi), a port nobody listens on and a socket that accepts
and never answers. No mocks; every wait is a poll with a deadline.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest

from tests.conftest import open_channel
from tests.fixtures.mjpeg_server import MjpegServer, SilentServer
from vigie.v1 import assets_pb2, assets_pb2_grpc, video_pb2, video_pb2_grpc

A = assets_pb2.Asset
P = video_pb2.StreamVideoRequest
SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = Path(__file__).resolve().parent.parent / "fixtures" / "rtsp_server.py"


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.1) -> object:
    """Poll until predicate() is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_video(path: Path, frames: int = 30, fps: float = 10.0) -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    assert out.isOpened()
    for i in range(frames):
        img = np.full((240, 320, 3), (20, 120, 20), np.uint8)
        cv2.circle(img, (10 + i * 10, 120), 20, (255, 255, 255), -1)
        out.write(img)
    out.release()
    return path


def catalogue(path: Path, cams: list[dict[str, object]]) -> Path:
    lines = []
    for c in cams:
        lines.append("[[camera]]")
        for k, v in c.items():
            lines.append(f"{k} = {str(v).lower()}" if isinstance(v, bool) else f"{k} = {v!r}")
        lines.append("")
    path.write_text("\n".join(lines).replace("'", '"'), encoding="utf-8")
    return path


def cam(cid: str, url: str, **extra: object) -> dict[str, object]:
    return {"id": cid, "name": f"Caméra {cid}", "url": url, "lat": 47.322, "lon": 5.041, **extra}


class Client:
    def __init__(self, address: str) -> None:
        self.channel = open_channel(address, user="operator")  # PTZ needs OPERATOR
        self.assets = assets_pb2_grpc.AssetServiceStub(self.channel)
        self.video = video_pb2_grpc.VideoServiceStub(self.channel)

    def asset(self, cid: str) -> assets_pb2.Asset:
        return self.assets.GetAsset(assets_pb2.GetAssetRequest(id=cid), timeout=5)

    def frames(self, cid: str, n: int, timeout: float = 20) -> list[np.ndarray]:
        stream = self.video.StreamVideo(P(camera_id=cid, max_fps=30), timeout=timeout)
        out = []
        for f in stream:
            img = cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert img is not None and (img.shape[1], img.shape[0]) == (f.width, f.height)
            out.append(img)
            if len(out) == n:
                break
        stream.cancel()
        return out


@pytest.fixture
def client_for() -> Iterator[Callable[[str], Client]]:
    made: list[Client] = []

    def make(address: str) -> Client:
        made.append(Client(address))
        return made[-1]

    yield make
    for c in made:
        c.channel.close()


def test_catalogue_cameras_stream_and_fail_independently(tmp_path, make_backend, client_for):
    mjpeg = MjpegServer(fps=15).start()
    silent = SilentServer()
    video = write_video(tmp_path / "loop.avi")
    path = catalogue(
        tmp_path / "cams.toml",
        [
            cam("mjpeg-1", mjpeg.url, heading=90, district="Ignored when the city runs"),
            cam("file-1", str(video)),
            cam("dead-rtsp", f"rtsp://127.0.0.1:{free_port()}/x", ptz=True),
            cam("silent-http", f"http://127.0.0.1:{silent.port}/video.mjpg"),
            cam("direct-1", "http://192.0.2.10/video.mjpg", direct=True),
        ],
    )
    try:
        b = make_backend("--cameras", str(path), "--lights", "0", "--vehicles", "0").start()
        c = client_for(b.address)

        cams = {x.id: x for x in c.video.ListCameras(video_pb2.ListCamerasRequest(), timeout=5).cameras}
        assert len(cams) == 269 + 5  # the simulated city is still there
        assert cams["mjpeg-1"].source == "mjpeg" and cams["mjpeg-1"].heading_deg == 90
        assert (
            cams["file-1"].source == "file" and cams["dead-rtsp"].source == "rtsp" and cams["dead-rtsp"].ptz
        )
        assert cams["direct-1"].direct and cams["direct-1"].url == "http://192.0.2.10/video.mjpg"
        assert not cams["mjpeg-1"].direct and cams["mjpeg-1"].url == ""  # not direct: URL stays private
        assert cams["cam-0001"].source == "simulated"
        assert cams["mjpeg-1"].district != "Ignored when the city runs"  # placed by the city's districts

        # On the map with everything else: ListAssets of kind CAMERA carries them.
        listed = c.assets.ListAssets(
            assets_pb2.ListAssetsRequest(kinds=[A.CAMERA], page_size=1000), timeout=5
        )
        assert {"mjpeg-1", "file-1", "direct-1"} <= {a.id for a in listed.assets}

        for cid in ("mjpeg-1", "file-1"):
            wait_for(lambda cid=cid: c.asset(cid).status == A.OK, 60, f"{cid} OK")
            frames = c.frames(cid, 5)
            assert len(frames) == 5 and frames[0].shape == (240, 320, 3)
            assert frames[0].std() > 5
        assert c.asset("direct-1").status == A.OK

        # The unreachable cameras are reported OFFLINE with the reason, within the open timeout.
        t0 = time.monotonic()
        for cid in ("dead-rtsp", "silent-http"):
            wait_for(lambda cid=cid: "cannot open" in c.asset(cid).status_reason, 60, f"{cid} reason")
            a = c.asset(cid)
            assert a.status == A.OFFLINE and "no video" in a.status_reason
        print(f"\nunreachable cameras OFFLINE with reason after {time.monotonic() - t0:.1f} s")

        # A viewer of an OFFLINE camera gets nothing, and no error: its stream just waits.
        with ThreadPoolExecutor(4) as pool:
            silent_view = pool.submit(lambda: c.frames("silent-http", 1, timeout=3))
            # Meanwhile the server answers and the other cameras keep streaming (how fast is bench/'s).
            for _ in range(5):
                c.assets.ListAssets(assets_pb2.ListAssetsRequest(page_size=100), timeout=30)
            assert len(c.frames("mjpeg-1", 5)) == 5
            with pytest.raises(grpc.RpcError) as err:
                silent_view.result(timeout=10)
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # it waited, it did not fail

        # PTZ of a real camera is not supported yet (no ONVIF).
        with pytest.raises(grpc.RpcError) as err:
            c.video.Ptz(
                video_pb2.PtzRequest(camera_id="dead-rtsp", action=video_pb2.PtzRequest.STOP), timeout=5
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        # A direct camera's video does not go through the backend.
        with pytest.raises(grpc.RpcError) as err:
            next(iter(c.video.StreamVideo(P(camera_id="direct-1"), timeout=5)))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        # The MJPEG camera loses power: OFFLINE; it comes back on the same port: OK and streaming.
        mjpeg.stop()
        t0 = time.monotonic()
        wait_for(lambda: c.asset("mjpeg-1").status == A.OFFLINE, 60, "mjpeg-1 OFFLINE")
        print(
            f"dead MJPEG camera OFFLINE after {time.monotonic() - t0:.2f} s: {c.asset('mjpeg-1').status_reason}"
        )
        assert len(c.frames("file-1", 3)) == 3  # the others are unaffected
        wait_for(lambda: c.asset("mjpeg-1").status == A.OFFLINE, 2, "mjpeg-1 still OFFLINE")
        mjpeg.start()
        t0 = time.monotonic()
        wait_for(lambda: c.asset("mjpeg-1").status == A.OK, 60, "mjpeg-1 back OK")
        print(f"restarted MJPEG camera OK after {time.monotonic() - t0:.2f} s")
        assert c.asset("mjpeg-1").status_reason == ""
        assert len(c.frames("mjpeg-1", 3)) == 3
    finally:
        mjpeg.stop()
        silent.close()


def test_watch_assets_reports_offline_then_ok(tmp_path, make_backend, client_for):
    """The OFFLINE/OK transitions reach WatchAssets subscribers (what the console listens to)."""
    mjpeg = MjpegServer(fps=15).start()
    path = catalogue(tmp_path / "cams.toml", [cam("mj", mjpeg.url, district="Quai")])
    try:
        b = make_backend("--cameras", str(path), "--no-simulator").start()
        c = client_for(b.address)
        wait_for(lambda: c.asset("mj").status == A.OK, 60, "mj OK")
        assert c.asset("mj").district == "Quai"  # no simulator: the catalogue's district
        watch = c.assets.WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=60)
        seen: list[int] = []
        for msg in watch:  # the whole snapshot first: the outage must arrive as changes
            if msg.HasField("snapshot") and msg.snapshot.last:
                break
        mjpeg.stop()
        for msg in watch:
            if msg.HasField("changes"):
                for ch in msg.changes.changes:
                    if ch.asset.id == "mj":
                        seen.append(ch.asset.status)
                        if ch.asset.status == A.OFFLINE:
                            mjpeg.start()
            if A.OFFLINE in seen and seen[-1] == A.OK:
                break
        watch.cancel()
        assert seen[-1] == A.OK and A.OFFLINE in seen
    finally:
        mjpeg.stop()


def _rtsp_available() -> str:
    if not Path(SYSTEM_PYTHON).exists() or shutil.which("gst-launch-1.0") is None:
        return "GStreamer is not installed (apt-get install gstreamer1.0-tools ...; .ci/run does it)"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return (
            "GStreamer RTSP server bindings missing (apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi)"
        )
    return ""


@pytest.fixture
def rtsp_url() -> Iterator[str]:
    reason = _rtsp_available()
    if reason:
        pytest.skip(reason)
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(RTSP_SERVER), str(free_port())], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints its ready line or exits
        assert line.startswith("RTSP_READY"), f"RTSP server did not start: {line!r}"
        yield line.split()[1]
    finally:
        proc.kill()
        proc.wait(10)


def test_rtsp_camera_streams(tmp_path, make_backend, client_for, rtsp_url):
    path = catalogue(tmp_path / "cams.toml", [cam("rtsp-1", rtsp_url)])
    b = make_backend("--cameras", str(path), "--no-simulator").start()
    c = client_for(b.address)
    t0 = time.monotonic()
    wait_for(lambda: c.asset("rtsp-1").status == A.OK, 60, "rtsp-1 OK")
    print(f"\nRTSP camera OK {time.monotonic() - t0:.2f} s after the backend started")
    frames = c.frames("rtsp-1", 5)
    assert len(frames) == 5 and frames[0].shape == (360, 640, 3)
    assert frames[0].std() > 10  # the test pattern, not a grey picture
