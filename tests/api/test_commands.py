"""CommandService on a real backend process: devices really change, progress is honest, and a
command acts once however often it is retried (even when the reply was lost after the backend
acted)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import BackendProcess, open_channel
from tests.gui.tcp_proxy import TcpProxy
from vigie.v1 import assets_pb2, assets_pb2_grpc, commands_pb2, commands_pb2_grpc, video_pb2, video_pb2_grpc

C = commands_pb2
K = assets_pb2.Asset
ACCEPTED, ACKNOWLEDGED, CONFIRMED = C.ACCEPTED, C.ACKNOWLEDGED, C.CONFIRMED
# A still city (devices change only when commanded), so every change of a target is the command's.
CITY = ("--seed", "7", "--lights", "1000", "--vehicles", "0", "--quiet-city")


class AssetWatch:
    """Every change of every asset, as WatchAssets delivers them (read on a thread)."""

    def __init__(self, address: str) -> None:
        self.channel = open_channel(address, user="viewer")
        stub = assets_pb2_grpc.AssetServiceStub(self.channel)
        self.stream = stub.WatchAssets(assets_pb2.WatchAssetsRequest(after_revision=0), timeout=300)
        self.assets: dict[str, assets_pb2.Asset] = {}
        self.changes: list[assets_pb2.Asset] = []
        self.revision = 0  # the city revision the watch has applied
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.closed = False
        self.error: BaseException | None = None  # why the stream ended, if it ended on its own
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(30), f"no snapshot ({self.error!r})"

    def _read(self) -> None:
        try:
            for msg in self.stream:
                with self.cond:
                    if msg.HasField("snapshot"):
                        for a in msg.snapshot.assets:
                            self.assets[a.id] = a
                        if msg.snapshot.last:
                            self.ready.set()
                    for c in msg.changes.changes:
                        self.assets[c.asset.id] = c.asset
                        self.changes.append(c.asset)
                    self.revision = msg.revision
                    self.cond.notify_all()
            raise RuntimeError("WatchAssets ended")  # it never ends on its own
        except BaseException as exc:  # kept, and raised by every later check (see alive())
            with self.cond:
                self.error = exc
                self.cond.notify_all()
            self.ready.set()

    def alive(self) -> None:
        """Raise if the stream died: a dead watcher sees no change, which "acted once" checks would
        take for success. Call with the condition held."""
        if self.error is not None and not self.closed:
            raise AssertionError(f"the asset watch died: {self.error!r}")

    def of(self, asset_id: str) -> list[assets_pb2.Asset]:
        with self.cond:
            self.alive()
            return [a for a in self.changes if a.id == asset_id]

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.cond:
            done = self.cond.wait_for(lambda: predicate() or self.error is not None, timeout)
            self.alive()
            return bool(done)

    def pick(self, kind: int, n: int = 1, status: int = K.OK, **attrs: str) -> list[assets_pb2.Asset]:
        """`n` assets of a kind nobody has used yet in this module."""
        with self.cond:
            self.alive()
            found = [
                a
                for a in self.assets.values()
                if a.kind == kind
                and a.status == status
                and a.id not in USED
                and all(a.attributes.get(k) == v for k, v in attrs.items())
            ][:n]
        assert len(found) == n, f"not enough {K.Kind.Name(kind)} assets"
        USED.update(a.id for a in found)
        return found

    def caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the watch has applied everything the backend published so far."""
        stub = assets_pb2_grpc.AssetServiceStub(self.channel)
        now = stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=10).revision
        assert self.wait(lambda: self.revision >= now, timeout), f"the watch lags: {self.revision} < {now}"

    def close(self) -> None:
        with self.cond:
            self.closed = True
        self.stream.cancel()
        self.channel.close()


USED: set[str] = set()


@pytest.fixture(scope="module")
def city() -> Iterator[BackendProcess]:
    b = BackendProcess(*CITY, "--command-failure-rate", "0", "--command-ack-timeout", "1.5").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def watch(city) -> Iterator[AssetWatch]:
    w = AssetWatch(city.address)
    yield w
    w.close()


def stub_for(address: str, user: str = "operator") -> commands_pb2_grpc.CommandServiceStub:
    return commands_pb2_grpc.CommandServiceStub(open_channel(address, user=user))


@pytest.fixture(scope="module")
def operator(city):
    return stub_for(city.address, "operator")


@pytest.fixture(scope="module")
def supervisor(city):
    return stub_for(city.address, "supervisor")


def execute(stub, ids, action, key=None, timeout=5.0, **kw) -> C.CommandStatus:
    request = C.ExecuteRequest(idempotency_key=key or uuid.uuid4().hex, asset_ids=ids, action=action, **kw)
    return stub.Execute(request, timeout=timeout).status


def follow(stub, command_id: str) -> list[C.CommandStatus]:
    """Every status WatchCommand sends, until the stream ends (it must, once done)."""
    return list(stub.WatchCommand(C.WatchCommandRequest(command_id=command_id), timeout=30))


def stages_of(statuses: list[C.CommandStatus], asset_id: str) -> list[int]:
    out: list[int] = []
    for s in statuses:
        stage = next(t.stage for t in s.targets if t.asset_id == asset_id)
        if not out or out[-1] != stage:
            out.append(stage)
    return out


def grant_until(hours: float) -> Timestamp:
    return Timestamp(seconds=int(time.time() + hours * 3600))


def test_list_actions(operator):
    actions = {a.action: a for a in operator.ListActions(C.ListActionsRequest(), timeout=5).actions}
    assert len(actions) == 19  # 14, Flood's threshold (docs/modes.md), the transit ones (docs/transport.md)
    assert {a for a, s in actions.items() if s.critical} == {
        C.SIGNAL_FLASHING,
        C.BOLLARD_RAISE,
        C.BOLLARD_LOWER,
        C.ACCESS_LOCK,
    }
    assert actions[C.LIGHT_DIM].label == "Dim to a level" and list(actions[C.LIGHT_DIM].params) == [
        "level_percent"
    ]
    assert list(actions[C.CAMERA_GOTO_PRESET].kinds) == [K.CAMERA]
    threshold = actions[C.SENSOR_LOW_PRESSURE_THRESHOLD]
    assert list(threshold.kinds) == [K.WATER_SENSOR] and list(threshold.params) == ["level_percent"]


# (kind, attributes the device starts with, action, params, critical, attributes it ends with)
FAMILIES = [
    (K.STREET_LIGHT, {}, C.LIGHT_DIM, {"level_percent": 40}, False, {"mode": "dimmed", "level_pct": "40"}),
    (K.STREET_LIGHT, {}, C.LIGHT_OFF, {}, False, {"mode": "off", "level_pct": "0"}),
    (K.STREET_LIGHT, {"mode": "dimmed"}, C.LIGHT_ON, {}, False, {"mode": "on", "level_pct": "100"}),
    (K.TRAFFIC_SIGNAL, {}, C.SIGNAL_FLASHING, {}, True, {"mode": "flashing", "plan": "normal"}),
    (K.TRAFFIC_SIGNAL, {}, C.SIGNAL_BUS_PRIORITY_ON, {}, False, {"bus_priority": "on"}),
    (K.BOLLARD, {"position": "lowered"}, C.BOLLARD_RAISE, {}, True, {"position": "raised"}),
    (K.BOLLARD, {"position": "raised"}, C.BOLLARD_LOWER, {}, True, {"position": "lowered"}),
    (K.ACCESS_POINT, {"lock": "unlocked"}, C.ACCESS_LOCK, {}, True, {"lock": "locked"}),
    (K.ACCESS_POINT, {"lock": "locked"}, C.ACCESS_UNLOCK, {}, False, {"lock": "unlocked"}),
    (K.ACCESS_POINT, {}, C.BADGE_DEACTIVATE, {"badge_id": "B-4711"}, False, {"badges_deactivated": "B-4711"}),
    (K.CAMERA, {"ptz": "true"}, C.CAMERA_GOTO_PRESET, {"preset": 2}, False, {"preset": "2"}),
]


@pytest.mark.parametrize(
    ("kind", "start", "action", "params", "critical", "end"),
    FAMILIES,
    ids=[C.CommandAction.Name(f[2]) for f in FAMILIES],
)
def test_each_action_family_drives_the_device(
    city, watch, operator, supervisor, kind, start, action, params, critical, end
):
    (asset,) = watch.pick(kind, **start)
    stub = supervisor if critical else operator
    extra = {"reason": "test: closing the square", "confirmed": True} if critical else {}
    status = execute(stub, [asset.id], action, params=C.CommandParams(**params), **extra)
    assert [t.stage for t in status.targets] == [ACCEPTED] and not status.replayed
    statuses = follow(stub, status.command_id)
    assert stages_of(statuses, asset.id) == [ACCEPTED, ACKNOWLEDGED, CONFIRMED]
    assert statuses[-1].done and all(not s.done for s in statuses[:-1])
    # The new state came through WatchAssets, and GetAsset shows it.
    assert watch.wait(
        lambda: any(all(a.attributes.get(k) == v for k, v in end.items()) for a in watch.of(asset.id)), 30
    )
    assets = assets_pb2_grpc.AssetServiceStub(open_channel(city.address))
    now = assets.GetAsset(assets_pb2.GetAssetRequest(id=asset.id), timeout=5)
    assert {k: now.attributes[k] for k in end} == end
    if kind == K.BOLLARD:  # it travelled: the intermediate position was reported too
        moving = "raising" if end["position"] == "raised" else "lowering"
        assert [a.attributes["position"] for a in watch.of(asset.id)] == [moving, end["position"]]
    if kind == K.CAMERA:  # the PTZ head is at the preset (a STOP answers with the position)
        video = video_pb2_grpc.VideoServiceStub(open_channel(city.address))
        cam = next(
            c
            for c in video.ListCameras(video_pb2.ListCamerasRequest(), timeout=5).cameras
            if c.id == asset.id
        )
        stopped = video.Ptz(
            video_pb2.PtzRequest(camera_id=asset.id, action=video_pb2.PtzRequest.STOP), timeout=5
        )
        assert (stopped.tilt_deg, stopped.zoom) == (-15.0, 3.0) and cam.presets[1].number == 2


def test_temporary_badge_grant(watch, operator):
    (door,) = watch.pick(K.ACCESS_POINT)
    until = grant_until(4)
    status = execute(
        operator, [door.id], C.BADGE_GRANT_TEMPORARY, params=C.CommandParams(badge_id="V-12", until=until)
    )
    final = follow(operator, status.command_id)[-1]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until.seconds))
    assert (
        final.targets[0].stage == CONFIRMED and final.targets[0].detail == f"badge V-12 allowed until {stamp}"
    )
    # Confirmed by the device; the watch may still be delivering the change: wait for it.
    assert watch.wait(lambda: bool(watch.of(door.id)), 30), "the grant never reached WatchAssets"
    assert watch.of(door.id)[-1].attributes["temporary_access"] == f"V-12 until {stamp}"


def count_after(watch: AssetWatch, asset_id: str, n: int, margin_s: float = 3.0) -> int:
    """Changes of the asset, after waiting `margin_s` for an (unwanted) n+1-th to show up, and for
    the (live) watch to have applied everything the backend published by then."""
    watch.wait(lambda: len(watch.of(asset_id)) > n, margin_s)
    watch.caught_up()
    return len(watch.of(asset_id))


def test_same_key_twice_acts_once(watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT)
    key = uuid.uuid4().hex
    first = execute(operator, [light.id], C.LIGHT_DIM, key=key, params=C.CommandParams(level_percent=30))
    follow(operator, first.command_id)
    again = execute(operator, [light.id], C.LIGHT_DIM, key=key, params=C.CommandParams(level_percent=30))
    assert again.replayed and not first.replayed
    assert again.command_id == first.command_id and again.targets[0].stage == CONFIRMED
    # Longer than a light's acknowledgement plus switching (0.5 + 1 s): a second act would show.
    assert count_after(watch, light.id, 1) == 1


def test_concurrent_calls_with_one_key_act_once(watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT)
    key = uuid.uuid4().hex
    barrier = threading.Barrier(4)
    results: list[C.CommandStatus] = []

    def call() -> None:
        barrier.wait()
        results.append(execute(operator, [light.id], C.LIGHT_OFF, key=key))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 4 and len({r.command_id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False, True, True, True]
    assert follow(operator, results[0].command_id)[-1].targets[0].stage == CONFIRMED
    assert count_after(watch, light.id, 1) == 1


def test_reply_lost_after_the_backend_acted_then_retry_acts_once(city, watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT)
    proxy = TcpProxy(city.port)
    try:
        via_proxy = stub_for(proxy.address)
        via_proxy.ListActions(C.ListActionsRequest(), timeout=5)  # connected (and logged in)
        proxy.swallow_replies = True  # the request goes through, the answer never comes back
        key = uuid.uuid4().hex
        with pytest.raises(grpc.RpcError) as lost:
            execute(
                via_proxy,
                [light.id],
                C.LIGHT_DIM,
                key=key,
                timeout=2.0,
                params=C.CommandParams(level_percent=55),
            )
        assert lost.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
    finally:
        proxy.close()
    # The backend did act: the light dims although the client heard nothing.
    assert watch.wait(lambda: any(a.attributes.get("level_pct") == "55" for a in watch.of(light.id)), 30)
    retry = execute(operator, [light.id], C.LIGHT_DIM, key=key, params=C.CommandParams(level_percent=55))
    assert retry.replayed
    assert follow(operator, retry.command_id)[-1].targets[0].stage == CONFIRMED
    assert count_after(watch, light.id, 1) == 1


def test_offline_device_times_out(watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT, status=K.OFFLINE)
    status = execute(operator, [light.id], C.LIGHT_ON)
    final = follow(operator, status.command_id)[-1]
    assert final.done and final.targets[0].stage == C.TIMED_OUT
    assert "no acknowledgement within 1.5 s" in final.targets[0].detail
    assert count_after(watch, light.id, 0, margin_s=0.0) == 0


def test_device_in_fault_refuses_with_its_reason(watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT, status=K.FAULT)
    status = execute(operator, [light.id], C.LIGHT_ON)
    final = follow(operator, status.command_id)[-1]
    assert final.targets[0].stage == C.FAILED
    assert final.targets[0].detail == f"device in fault: {light.status_reason}"


def test_unfit_targets_are_rejected_the_others_act(watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT)
    (signal,) = watch.pick(K.TRAFFIC_SIGNAL)
    status = execute(operator, [light.id, signal.id], C.LIGHT_OFF)
    assert [t.stage for t in status.targets] == [ACCEPTED, C.REJECTED]
    assert "does not fit a traffic signal" in status.targets[1].detail
    final = follow(operator, status.command_id)[-1]
    assert [t.stage for t in final.targets] == [CONFIRMED, C.REJECTED]


def test_failure_rate_one_fails_every_command_with_a_reason(make_backend):
    b = make_backend(*CITY, "--command-failure-rate", "1.0").start()
    watch = AssetWatch(b.address)
    try:
        lights = [a.id for a in watch.pick(K.STREET_LIGHT, n=3)]
        stub = stub_for(b.address)
        final = follow(stub, execute(stub, lights, C.LIGHT_OFF).command_id)[-1]
        assert [t.stage for t in final.targets] == [C.FAILED] * 3
        assert {t.detail for t in final.targets} <= {"lamp driver not answering", "circuit controller busy"}
        assert all(count_after(watch, i, 0, margin_s=0.5) == 0 for i in lights)
    finally:
        watch.close()


BAD = [
    (lambda ids: C.ExecuteRequest(asset_ids=ids[:1], action=C.LIGHT_ON), "idempotency_key is required"),
    (
        lambda ids: C.ExecuteRequest(idempotency_key="k" * 129, asset_ids=ids[:1], action=C.LIGHT_ON),
        "at most 128",
    ),
    (lambda ids: C.ExecuteRequest(idempotency_key="k", action=C.LIGHT_ON), "asset_ids is empty"),
    (
        lambda ids: C.ExecuteRequest(
            idempotency_key="k", asset_ids=[f"x{i}" for i in range(501)], action=C.LIGHT_ON
        ),
        "501 entries (at most 500)",
    ),
    (
        lambda ids: C.ExecuteRequest(idempotency_key="k", asset_ids=["lgt-99999"], action=C.LIGHT_ON),
        "unknown asset ids: 'lgt-99999'",
    ),
    (lambda ids: C.ExecuteRequest(idempotency_key="k", asset_ids=ids[:1]), "action is missing or unknown"),
    (
        lambda ids: C.ExecuteRequest(idempotency_key="k", asset_ids=ids[:1], action=C.LIGHT_DIM),
        "level_percent must be 1..100",
    ),
    (
        lambda ids: C.ExecuteRequest(
            idempotency_key="k", asset_ids=ids[:1], action=C.LIGHT_ON, reason="r" * 501
        ),
        "reason is 501 characters (at most 500)",
    ),
    (
        lambda ids: C.ExecuteRequest(
            idempotency_key="k", asset_ids=ids[1:], action=C.BOLLARD_RAISE, reason="x"
        ),
        "BOLLARD_RAISE is critical: the user must confirm it",
    ),
    (
        lambda ids: C.ExecuteRequest(
            idempotency_key="k", asset_ids=ids[1:], action=C.BOLLARD_LOWER, confirmed=True
        ),
        "BOLLARD_LOWER is critical: a reason is required",
    ),
]


@pytest.mark.parametrize(("make", "reason"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_requests_are_invalid_with_reasons(supervisor, make, reason):
    with pytest.raises(grpc.RpcError) as err:
        supervisor.Execute(make(["lgt-00001", "bol-001"]), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in err.value.details()


def test_a_key_reused_for_another_request_is_invalid(watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT)
    key = uuid.uuid4().hex
    first = execute(operator, [light.id], C.LIGHT_DIM, key=key, params=C.CommandParams(level_percent=20))
    with pytest.raises(grpc.RpcError) as err:
        execute(operator, [light.id], C.LIGHT_DIM, key=key, params=C.CommandParams(level_percent=90))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"already used for a different request (command {first.command_id})" in err.value.details()
    follow(operator, first.command_id)


def test_get_and_watch_unknown_commands(operator):
    for call in (operator.GetCommand, lambda r, timeout: list(operator.WatchCommand(r, timeout=timeout))):
        with pytest.raises(grpc.RpcError) as err:
            call(C.GetCommandRequest(command_id="cmd-nope"), timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and "cmd-nope" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        operator.GetCommand(C.GetCommandRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_get_command_reports_progress(watch, operator):
    (light,) = watch.pick(K.STREET_LIGHT)
    status = execute(operator, [light.id], C.LIGHT_OFF, reason="night test")
    final = follow(operator, status.command_id)[-1]
    got = operator.GetCommand(C.GetCommandRequest(command_id=status.command_id), timeout=5)
    assert got.done and got.targets[0].stage == CONFIRMED and got.targets[0].detail == "off"
    assert got.reason == "night test" and got.action == C.LIGHT_OFF and got == final


def test_critical_actions_need_a_supervisor(watch, operator):
    (bollard,) = watch.pick(K.BOLLARD)
    with pytest.raises(grpc.RpcError) as err:
        execute(operator, [bollard.id], C.BOLLARD_RAISE, reason="event", confirmed=True)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
