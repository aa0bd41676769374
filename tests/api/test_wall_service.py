"""WallService on real backend processes: displays attach, supervisors push, every watcher sees it.

Each test uses its own wall names on the shared backend. No sleeps for synchronisation: streams
are read with deadlines (a background reader per stream, queues with timeouts).
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from tests.conftest import BackendProcess, open_channel
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    common_pb2,
    wall_pb2,
    wall_pb2_grpc,
)

HEARTBEAT_S = 0.5


@pytest.fixture(scope="module")
def walls_backend() -> Iterator[BackendProcess]:
    """Fast heartbeats, and alarms to push (2 synthetic alarms a second)."""
    b = BackendProcess("--heartbeat", str(HEARTBEAT_S), "--alarm-rate", "2", "--seed", "4").start()
    yield b
    b.stop()


def stub(address: str, user: str = "supervisor") -> wall_pb2_grpc.WallServiceStub:
    return wall_pb2_grpc.WallServiceStub(open_channel(address, user=user))


class Reader:
    """Reads a server stream on a thread into a queue, so the test can wait with a deadline."""

    def __init__(self, call: grpc.Future) -> None:
        self.call = call
        self.messages: queue.Queue = queue.Queue()
        self.error: grpc.RpcError | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for msg in self.call:
                self.messages.put(msg)
        except grpc.RpcError as exc:
            self.error = exc
        finally:
            self.done.set()

    def next(self, timeout: float = 10.0):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s") from None

    def until(self, cond, timeout: float = 10.0):
        """The first message for which cond(msg) holds (skipping the others)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.01, deadline - time.monotonic()))
            if cond(msg):
                return msg
            assert time.monotonic() < deadline, "condition not met in time"

    def cancel(self) -> None:
        self.call.cancel()
        self.done.wait(5)


def allow(s: wall_pb2_grpc.WallServiceStub, name: str, display: str) -> None:
    """Create the wall (as the supervisor `s` logs in as), or add `display` to its allowed ones."""
    listed = {w.name: w for w in s.ListWalls(wall_pb2.ListWallsRequest(), timeout=5).walls}
    allowed = list(listed[name].allowed_displays) if name in listed else []
    if display not in allowed:
        s.CreateWall(wall_pb2.CreateWallRequest(name=name, allowed_displays=[*allowed, display]), timeout=5)


def attach(s: wall_pb2_grpc.WallServiceStub, name: str, display: str = "test-display") -> Reader:
    allow(s, name, display)
    return Reader(s.AttachWall(wall_pb2.AttachWallRequest(name=name, display=display), timeout=120))


def watch(s: wall_pb2_grpc.WallServiceStub) -> Reader:
    return Reader(s.WatchWalls(wall_pb2.WatchWallsRequest(), timeout=120))


def wall_in(msg: wall_pb2.WatchWallsResponse, name: str) -> wall_pb2.Wall | None:
    return next((w for w in msg.walls if w.name == name), None)


def cameras(address: str, n: int) -> list[str]:
    assets = assets_pb2_grpc.AssetServiceStub(open_channel(address))
    resp = assets.ListAssets(
        assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.CAMERA], page_size=n), timeout=10
    )
    return [a.id for a in resp.assets]


def camera_push(name: str, camera_id: str) -> wall_pb2.PushRequest:
    return wall_pb2.PushRequest(
        wall=name, content=wall_pb2.WallContent(camera=wall_pb2.CameraContent(camera_id=camera_id))
    )


def test_push_is_seen_by_the_display_and_by_a_watcher(walls_backend):
    s = stub(walls_backend.address)
    display = attach(s, "wall-seen")
    first = display.next()
    assert first.WhichOneof("content") is None and first.version == 0, "nothing pushed yet: idle"
    watcher = watch(stub(walls_backend.address, user="viewer"))
    snap = watcher.next()
    assert wall_in(snap, "wall-seen") is not None and wall_in(snap, "wall-seen").online

    cam = cameras(walls_backend.address, 1)[0]
    req = camera_push("wall-seen", cam)
    req.content.pushed_by, req.content.version = "mallory", 99  # the server decides these
    before = time.time()
    resp = s.Push(req, timeout=5)
    assert resp.wall.content.camera.camera_id == cam and resp.wall.content.version == 1
    assert resp.wall.content.pushed_by and resp.wall.content.pushed_by != "mallory"

    shown = display.until(lambda m: m.version == 1)
    assert shown.camera.camera_id == cam and shown.pushed_by == resp.wall.content.pushed_by
    assert before - 1 <= shown.pushed_at.ToNanoseconds() / 1e9 <= time.time() + 1

    seen = watcher.until(lambda m: (w := wall_in(m, "wall-seen")) is not None and w.content.version == 1)
    w = wall_in(seen, "wall-seen")
    assert w.online and w.display == "test-display" and w.content.camera.camera_id == cam
    display.cancel()
    watcher.cancel()


def test_versions_increase_per_wall_and_list_shows_them(walls_backend):
    s = stub(walls_backend.address)
    a, b = attach(s, "wall-va"), attach(s, "wall-vb")
    a.next(), b.next()
    cams = cameras(walls_backend.address, 4)
    versions = [s.Push(camera_push("wall-va", c), timeout=5).wall.content.version for c in cams[:3]]
    assert versions == [1, 2, 3]
    mosaic = wall_pb2.MosaicContent(name="Centre", rows=2, columns=2, camera_ids=cams)
    other = s.Push(
        wall_pb2.PushRequest(wall="wall-vb", content=wall_pb2.WallContent(mosaic=mosaic)), timeout=5
    )
    assert other.wall.content.version == 1, "each wall counts its own pushes"
    assert a.until(lambda m: m.version == 3).camera.camera_id == cams[2]
    listed = {w.name: w for w in s.ListWalls(wall_pb2.ListWallsRequest(), timeout=5).walls}
    assert listed["wall-va"].content.version == 3 and listed["wall-vb"].content.mosaic.camera_ids == cams
    a.cancel()
    b.cancel()


def test_bad_pushes_get_clear_errors_and_the_server_keeps_serving(walls_backend):
    s = stub(walls_backend.address)
    display = attach(s, "wall-bad")
    display.next()
    cam = cameras(walls_backend.address, 1)[0]
    light = (
        assets_pb2_grpc.AssetServiceStub(open_channel(walls_backend.address))
        .ListAssets(
            assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.STREET_LIGHT], page_size=1), timeout=10
        )
        .assets[0]
        .id
    )
    W, C = wall_pb2.WallContent, wall_pb2

    def push(wall: str, content: wall_pb2.WallContent | None) -> grpc.RpcError:
        req = wall_pb2.PushRequest(wall=wall)
        if content is not None:
            req.content.CopyFrom(content)
        with pytest.raises(grpc.RpcError) as err:
            s.Push(req, timeout=5)
        return err.value

    center = common_pb2.GeoPoint(lat=47.32, lon=5.04)
    invalid = {
        "no wall name": ("", W(camera=C.CameraContent(camera_id=cam))),
        "bad wall name": ("wall 1/../x", W(camera=C.CameraContent(camera_id=cam))),
        "no content": ("wall-bad", None),
        "empty content": ("wall-bad", W(pushed_by="x")),
        "no camera id": ("wall-bad", W(camera=C.CameraContent())),
        "9 rows": ("wall-bad", W(mosaic=C.MosaicContent(rows=9, columns=1, camera_ids=[cam]))),
        "0 columns": ("wall-bad", W(mosaic=C.MosaicContent(rows=2, columns=0, camera_ids=[cam]))),
        "too many cameras": ("wall-bad", W(mosaic=C.MosaicContent(rows=1, columns=1, camera_ids=[cam, cam]))),
        "empty mosaic": ("wall-bad", W(mosaic=C.MosaicContent(rows=2, columns=2, camera_ids=["", ""]))),
        "zoom 0": ("wall-bad", W(map=C.MapContent(center=center, zoom=0))),
        "zoom 25": ("wall-bad", W(map=C.MapContent(center=center, zoom=25))),
        "no centre": ("wall-bad", W(map=C.MapContent(zoom=15))),
        "off the globe": (
            "wall-bad",
            W(map=C.MapContent(center=common_pb2.GeoPoint(lat=95, lon=5), zoom=15)),
        ),
        "no alarm id": ("wall-bad", W(alarm=C.AlarmContent(title="x"))),
        "not a camera": ("wall-bad", W(camera=C.CameraContent(camera_id=light))),
    }
    for case, (wall, content) in invalid.items():
        err = push(wall, content)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, case
        assert err.details(), f"{case}: the reason is given"
    not_found = {
        "unknown wall": ("wall-never-attached", W(camera=C.CameraContent(camera_id=cam))),
        "unknown camera": ("wall-bad", W(camera=C.CameraContent(camera_id="cam-does-not-exist"))),
        "unknown focus": ("wall-bad", W(map=C.MapContent(center=center, zoom=15, focus_asset_id="nope"))),
        "unknown alarm": ("wall-bad", W(alarm=C.AlarmContent(alarm_id="alm-999999999"))),
    }
    for case, (wall, content) in not_found.items():
        err = push(wall, content)
        assert err.code() == grpc.StatusCode.NOT_FOUND, case
    assert (
        "wall-never-attached"
        in push("wall-never-attached", W(camera=C.CameraContent(camera_id=cam))).details()
    )
    with pytest.raises(grpc.RpcError) as err:
        next(iter(s.AttachWall(wall_pb2.AttachWallRequest(name="bad name!"), timeout=5)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Nothing reached the wall, and the server still serves.
    assert s.Push(camera_push("wall-bad", cam), timeout=5).wall.content.version == 1
    assert display.until(lambda m: m.version == 1).camera.camera_id == cam
    display.cancel()


def test_a_second_display_replaces_the_first(walls_backend):
    s = stub(walls_backend.address)
    watcher = watch(s)
    old = attach(s, "wall-swap", display="old-pc")
    old.next()
    new = attach(s, "wall-swap", display="new-pc")
    new.next()
    assert old.done.wait(10), "the replaced display's stream ends"
    assert old.error is not None and old.error.code() == grpc.StatusCode.ABORTED
    assert "new-pc" in old.error.details()
    cam = cameras(walls_backend.address, 1)[0]
    s.Push(camera_push("wall-swap", cam), timeout=5)
    assert new.until(lambda m: m.version == 1).camera.camera_id == cam
    w = {w.name: w for w in s.ListWalls(wall_pb2.ListWallsRequest(), timeout=5).walls}["wall-swap"]
    assert w.online and w.display == "new-pc", "the old display leaving does not take the wall offline"
    new.cancel()
    watcher.until(lambda m: (x := wall_in(m, "wall-swap")) is not None and not x.online)
    watcher.cancel()


def test_offline_wall_keeps_its_content_and_shows_it_again_on_attach(walls_backend):
    s = stub(walls_backend.address)
    watcher = watch(s)
    display = attach(s, "wall-off")
    display.next()
    watcher.until(lambda m: (w := wall_in(m, "wall-off")) is not None and w.online)
    cams = cameras(walls_backend.address, 2)
    s.Push(camera_push("wall-off", cams[0]), timeout=5)
    display.until(lambda m: m.version == 1)
    t0 = time.time()
    display.cancel()
    gone = wall_in(
        watcher.until(lambda m: (w := wall_in(m, "wall-off")) is not None and not w.online), "wall-off"
    )
    assert gone.last_seen.ToNanoseconds() / 1e9 >= t0 - 1 and gone.content.version == 1
    # Pushing to an offline wall is allowed: it shows it when a display comes back.
    assert s.Push(camera_push("wall-off", cams[1]), timeout=5).wall.content.version == 2
    back = attach(s, "wall-off")
    first = back.next()
    assert first.version == 2 and first.camera.camera_id == cams[1]
    watcher.until(lambda m: (w := wall_in(m, "wall-off")) is not None and w.online)
    back.cancel()
    watcher.cancel()


def test_quiet_streams_get_heartbeats(walls_backend):
    s = stub(walls_backend.address)
    display = attach(s, "wall-quiet")
    first = display.next()
    watcher = watch(s)
    watcher.next()
    hb = watcher.until(lambda m: m.HasField("heartbeat"), timeout=HEARTBEAT_S * 6)
    assert not hb.walls and hb.heartbeat.server_time.seconds > 0
    again = display.next(timeout=HEARTBEAT_S * 6)
    assert again.version == first.version, "the current content again: a display ignores it"
    display.cancel()
    watcher.cancel()


def test_alarm_push_is_completed_from_the_alarm(walls_backend):
    s = stub(walls_backend.address)
    display = attach(s, "wall-alarm")
    display.next()
    alarms = alarms_pb2_grpc.AlarmServiceStub(open_channel(walls_backend.address))
    stream = alarms.WatchAlarms(alarms_pb2.WatchAlarmsRequest(), timeout=120)  # events, not polling
    alarm = None
    for msg in stream:
        alarm = next(
            (a for a in [*msg.snapshot.alarms, *(c.alarm for c in msg.changes.changes)] if a.camera_ids), None
        )
        if alarm is not None:
            break
    stream.cancel()
    assert alarm is not None, "the backend raised an alarm with cameras"
    req = wall_pb2.PushRequest(
        wall="wall-alarm", content=wall_pb2.WallContent(alarm=wall_pb2.AlarmContent(alarm_id=alarm.id))
    )
    got = s.Push(req, timeout=5).wall.content.alarm
    assert got.asset_id == alarm.asset_id and list(got.camera_ids) == list(alarm.camera_ids)
    assert (got.position.lat, got.position.lon) == (alarm.position.lat, alarm.position.lon)
    assert got.title, "a title is made from the alarm"
    assert display.until(lambda m: m.version == 1).alarm.alarm_id == alarm.id
    display.cancel()


def test_walls_and_their_content_survive_a_restart(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-walls-")
    first = make_backend("--data-dir", data, "--lights", "0").start()
    s = stub(first.address)
    display = attach(s, "wall-kept")
    display.next()
    cam = cameras(first.address, 1)[0]
    s.Push(camera_push("wall-kept", cam), timeout=5)
    s.Push(camera_push("wall-kept", cam), timeout=5)
    display.until(lambda m: m.version == 2)
    display.cancel()
    first.stop()
    second = make_backend("--data-dir", data, "--lights", "0").start()
    s = stub(second.address)
    w = {w.name: w for w in s.ListWalls(wall_pb2.ListWallsRequest(), timeout=5).walls}["wall-kept"]
    assert not w.online and w.content.version == 2 and w.content.camera.camera_id == cam
    assert s.Push(camera_push("wall-kept", cam), timeout=5).wall.content.version == 3


def test_pushes_are_audited(make_backend):
    """Every push, accepted or refused, is one record in the backend's audit trail."""
    from vigie.v1 import audit_pb2, audit_pb2_grpc, video_pb2, video_pb2_grpc

    b = make_backend("--seed", "2", "--lights", "0", "--vehicles", "0").start()
    s = stub(b.address)
    display = attach(s, "wall-audit")
    display.next()
    ch = open_channel(b.address, "supervisor")
    cam = (
        video_pb2_grpc.VideoServiceStub(ch)
        .ListCameras(video_pb2.ListCamerasRequest(), timeout=10)
        .cameras[0]
        .id
    )
    s.Push(camera_push("wall-audit", cam), timeout=5)
    with pytest.raises(grpc.RpcError) as err:
        s.Push(camera_push("wall-audit", "no-such-camera"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    display.cancel()
    audit = audit_pb2_grpc.AuditServiceStub(ch)
    deadline = time.monotonic() + 10
    while True:  # the audit store writes on its own thread: wait for both records
        records = audit.ListAudit(audit_pb2.ListAuditRequest(action="wall.push"), timeout=5).records
        if len(records) >= 2 or time.monotonic() > deadline:
            break
    entries = list(reversed(records))  # oldest first
    assert [(e.action, e.target, e.result) for e in entries] == [
        ("wall.push", "wall-audit", "ok"),
        ("wall.push", "wall-audit", "not_found"),
    ]
    assert f"camera {cam}" in entries[0].detail and entries[0].user == "supervisor"
    assert "no-such-camera" in entries[1].detail
