"""The simulated city's side of dispatch, on real backend processes: a crew's arrival is read from
its vehicle's published position; a device-fault incident resolves only once the device itself
reports OK; the city opens and dispatches incidents with nobody typing. Crews drive and work 40×
faster (--dispatch-speedup) so the tests take seconds; every wait has a deadline."""

from __future__ import annotations

import threading

import grpc
import pytest

from tests.api.incident_helpers import INC, UNIT, Streets, Stubs, distance_m
from tests.conftest import BackendProcess, open_channel
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    incidents_pb2,
    video_pb2,
    video_pb2_grpc,
)

SPEEDUP = "40"


@pytest.fixture(scope="module")
def fast():
    b = BackendProcess(
        "--seed", "9", "--quiet-city", "--incident-rate", "0", "--dispatch-speedup", SPEEDUP
    ).start()
    yield b
    b.stop()


class Recorder:
    """Collects one stream's messages on a thread until stopped (the test reads them after);
    `ready` is set once the snapshot is whole, `seen` once a message satisfies `until`."""

    def __init__(self, call, until=lambda m: False) -> None:
        self.call = call
        self.until = until
        self.seen = threading.Event()
        self.ready = threading.Event()
        self.messages: list = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for m in self.call:
                self.messages.append(m)
                if not m.HasField("snapshot") or m.snapshot.last:
                    self.ready.set()
                if self.until(m):
                    self.seen.set()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc

    def stop(self) -> list:
        self.call.cancel()
        self.thread.join(10)
        assert self.error is None, self.error
        return self.messages


def wait_unit(stubs: Stubs, unit_id: str, status: int, timeout: float) -> incidents_pb2.Unit:
    """Follow WatchUnits until the unit is in `status` (fails at the deadline)."""
    stream = stubs.units.WatchUnits(incidents_pb2.WatchUnitsRequest(), timeout=timeout)
    try:
        for m in stream:
            for u in [*m.snapshot.units, *(c.unit for c in m.changes.changes)]:
                if u.id == unit_id and u.status == status:
                    return u
    except grpc.RpcError as exc:
        raise AssertionError(
            f"{unit_id} never became {UNIT.Status.Name(status)}: {exc.code().name}"
        ) from None
    finally:
        stream.cancel()
    raise AssertionError("the stream ended")


def test_arrival_is_detected_from_the_vehicles_position(fast):
    streets = Streets(fast.address)
    sup = Stubs(fast.address, "supervisor")
    spot = streets.junction_near(47.33, 5.03)
    inc = sup.create(*spot, "road_accident")
    cand = sup.recommend(inc.id, k=1)[0]
    start_gap = distance_m(cand.position.lat, cand.position.lon, *spot)
    assert start_gap > 100  # the unit really has to drive
    with open_channel(fast.address, user="viewer") as ch:
        rec = Recorder(
            assets_pb2_grpc.AssetServiceStub(ch).WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=120)
        )
        assert rec.ready.wait(60), "no snapshot of the assets"
        got = sup.assign(inc.id, cand.unit.id)
        on_scene = wait_unit(
            sup, cand.unit.id, UNIT.ON_SCENE, timeout=60 + got.route.eta.seconds / float(SPEEDUP)
        )
        # The vehicle's own reports: keep publishing until its parked position is in too.
        msgs = rec.stop()
    reports = [
        a
        for m in msgs
        for a in [*m.snapshot.assets, *(c.asset for c in m.changes.changes)]
        if a.id == cand.unit.id
    ]
    near = [a for a in reports if distance_m(a.position.lat, a.position.lon, *spot) <= 30.0]
    assert near, "the vehicle never reported a position within 30 m"
    first_near = near[0]
    arrived_at = on_scene.status_since.ToNanoseconds() / 1e9
    # ON_SCENE came from a report within 30 m: not before one existed...
    assert first_near.last_seen.ToNanoseconds() / 1e9 <= arrived_at + 0.01
    # ...and every report before it was farther: the unit drove there.
    before = reports[: reports.index(first_near)]
    assert before and all(distance_m(a.position.lat, a.position.lon, *spot) > 30.0 for a in before)
    moved = {(round(a.position.lat, 5), round(a.position.lon, 5)) for a in before}
    assert len(moved) >= 2  # where it started, and on its way (at 40x, a tick covers ~300 m)
    timeline = sup.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(text=""), timeout=5)
    mine = next(i for i in timeline.incidents if i.id == inc.id)
    assert mine.status == INC.IN_PROGRESS and mine.on_scene_at.seconds > 0
    units_seen = [e.unit_status for e in mine.timeline if e.kind == incidents_pb2.TimelineEntry.UNIT_STATUS]
    assert units_seen[:3] == [UNIT.DISPATCHED, UNIT.EN_ROUTE, UNIT.ON_SCENE]
    sup.close()


def faulty_ptz_camera_alarm(address: str) -> alarms_pb2.Alarm:
    """An open device_fault alarm of a PTZ camera: a faulty camera still moves to a preset and
    reports it (still FAULT), which lets the test make the device publish a state that is not OK."""
    with open_channel(address, user="operator") as ch:
        stream = alarms_pb2_grpc.AlarmServiceStub(ch).WatchAlarms(alarms_pb2.WatchAlarmsRequest(), timeout=30)
        found = []
        for m in stream:
            found += [
                a
                for a in m.snapshot.alarms
                if a.cause == "device_fault" and a.asset_kind == assets_pb2.Asset.CAMERA and a.active
            ]
            if m.snapshot.last:
                break
        stream.cancel()
        video = video_pb2_grpc.VideoServiceStub(ch)
        for a in found:
            try:
                video.Ptz(
                    video_pb2.PtzRequest(camera_id=a.asset_id, action=video_pb2.PtzRequest.STOP), timeout=5
                )
            except grpc.RpcError:
                continue  # a fixed camera
            return a
    raise AssertionError("no faulty PTZ camera in this city (seed 2 has cam-0232)")


def test_a_device_fault_incident_resolves_only_after_the_device_reports_ok(make_backend):
    b = make_backend(
        "--seed", "2", "--quiet-city", "--incident-rate", "0", "--dispatch-speedup", SPEEDUP
    ).start()
    alarm = faulty_ptz_camera_alarm(b.address)
    sup = Stubs(b.address, "supervisor")
    op = Stubs(b.address, "operator")
    inc = op.create(alarm.position.lat, alarm.position.lon, "equipment_fault", alarm_ids=[alarm.id])
    assert inc.device_id == alarm.asset_id and inc.status == INC.NEW

    def reports(m) -> list:
        return [
            a for a in [*m.snapshot.assets, *(c.asset for c in m.changes.changes)] if a.id == alarm.asset_id
        ]

    def device_ok(m) -> bool:
        return any(a.status == assets_pb2.Asset.OK for a in reports(m))

    with open_channel(b.address, user="viewer") as ch:
        device_stream = Recorder(
            assets_pb2_grpc.AssetServiceStub(ch).WatchAssets(assets_pb2.WatchAssetsRequest(), timeout=180),
            device_ok,
        )
        incidents = op.incidents.WatchIncidents(incidents_pb2.WatchIncidentsRequest(), timeout=150)
        assert device_stream.ready.wait(60), "no snapshot of the assets"
        # The device reports a new state that is still FAULT (it moved to a preset): not a repair.
        op.channel.unary_unary("/vigie.v1.VideoService/Ptz")(
            video_pb2.PtzRequest(
                camera_id=alarm.asset_id, action=video_pb2.PtzRequest.GOTO_PRESET, preset=2
            ).SerializeToString(),
            timeout=5,
        )
        crew = sup.recommend(inc.id, k=1)[0]
        assert UNIT.ROADS in crew.unit.capabilities
        sup.assign(inc.id, crew.unit.id)
        versions: list[incidents_pb2.Incident] = []
        resolved = None
        for m in incidents:  # the stream's deadline bounds the wait
            versions += [c.incident for c in m.changes.changes if c.incident.id == inc.id]
            if versions and versions[-1].status == INC.RESOLVED:
                resolved = versions[-1]
                break
        incidents.cancel()
        assert resolved is not None
        assert device_stream.seen.wait(30), "the device's OK report never reached the stream"
        device_msgs = device_stream.stop()
    states = [a for m in device_msgs for a in reports(m)]
    assert states[0].status == assets_pb2.Asset.FAULT
    ok = [a for a in states if a.status == assets_pb2.Asset.OK]
    faulty_reports = [a for a in states[1:] if a.status == assets_pb2.Asset.FAULT]
    assert faulty_reports and faulty_reports[0].attributes.get("preset") == "2"  # published, still FAULT
    # Resolved by the device's own OK report, and not before it.
    assert resolved.resolved_at.ToNanoseconds() >= ok[0].last_seen.ToNanoseconds()
    assert "reports OK" in resolved.outcome
    before_ok = [v for v in versions if v.updated_at.ToNanoseconds() < ok[0].last_seen.ToNanoseconds()]
    assert before_ok and all(v.status != INC.RESOLVED for v in before_ok)
    assert any(v.status == INC.IN_PROGRESS for v in before_ok)  # the crew was there, still open
    sup.close()
    op.close()


def test_the_city_opens_and_dispatches_incidents_by_itself(make_backend):
    """~0.6 incidents a second, some from alarms; the city's dispatcher sends its crews."""
    b = make_backend("--seed", "2", "--incident-rate", "50000", "--dispatch-speedup", "60").start()
    viewer = Stubs(b.address, "viewer")
    stream = viewer.incidents.WatchIncidents(incidents_pb2.WatchIncidentsRequest(), timeout=90)
    sources: set[str] = set()
    dispatched_by_city = on_scene = False
    try:
        for m in stream:
            for i in [*m.snapshot.incidents, *(c.incident for c in m.changes.changes)]:
                sources.add(i.source)
                dispatched_by_city |= any(
                    e.kind == incidents_pb2.TimelineEntry.ASSIGNED and e.user == "simulation"
                    for e in i.timeline
                )
                on_scene |= i.status == INC.IN_PROGRESS
            if dispatched_by_city and on_scene and "alarm" in sources and "simulation" in sources:
                break
    finally:
        stream.cancel()
    assert {"alarm", "simulation"} <= sources
    viewer.close()
