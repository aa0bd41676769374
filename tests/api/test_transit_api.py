"""TransitService and the transit commands on a real backend (loopback, its own process), the
transit simulation running 20 times faster than real time (--transit-speed).

Lines, stops and vehicles as the issue sets them (about ten bus lines with 60 to 100 buses, the two
tram lines on their 28 station assets, health shuttles); vehicles as assets with their deviation;
TSP switched and configured by commands (stages, refusals with reasons); tram regulation by
commands; the bunching alarm raised by a hold and cleared by holding the follower.
"""

from __future__ import annotations

import time
import uuid

import grpc
import pytest

from tests.conftest import BackendProcess, open_channel
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    commands_pb2,
    commands_pb2_grpc,
    transit_pb2,
    transit_pb2_grpc,
)

SPEED = 20


@pytest.fixture(scope="module")
def city():
    b = BackendProcess("--seed", "7", "--lights", "0", "--transit-speed", str(SPEED)).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def stubs(city):
    ch = open_channel(city.address, "supervisor")
    yield (
        transit_pb2_grpc.TransitServiceStub(ch),
        commands_pb2_grpc.CommandServiceStub(ch),
        assets_pb2_grpc.AssetServiceStub(ch),
        alarms_pb2_grpc.AlarmServiceStub(ch),
    )
    ch.close()


def wait_until(cond, timeout: float, what: str, poll: float = 0.2):
    """Poll `cond` until it returns something true, within a deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(poll)
    raise AssertionError(f"{what}: not within {timeout} s")


def execute(commands, ids, action, **params) -> commands_pb2.CommandStatus:
    """Run a command to its end; the final status."""
    r = commands.Execute(
        commands_pb2.ExecuteRequest(
            idempotency_key=uuid.uuid4().hex,
            asset_ids=ids,
            action=action,
            params=commands_pb2.CommandParams(**params),
        ),
        timeout=10,
    )
    last = r.status
    for status in commands.WatchCommand(
        commands_pb2.WatchCommandRequest(command_id=r.status.command_id), timeout=30
    ):
        last = status
    assert last.done
    return last


def test_lines_stops_and_vehicles_as_the_issue_sets_them(stubs):
    transit, _, assets, _ = stubs
    lines = transit.ListLines(transit_pb2.ListLinesRequest(), timeout=10).lines
    bus = [x for x in lines if x.mode == transit_pb2.BUS]
    tram = [x for x in lines if x.mode == transit_pb2.TRAM]
    shuttle = [x for x in lines if x.mode == transit_pb2.SHUTTLE]
    assert len(bus) == 10 and len(tram) == 2 and len(shuttle) >= 2
    assert 60 <= sum(x.vehicles for x in bus) <= 100
    stations = {
        a.id
        for a in assets.ListAssets(
            assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.TRAM_STATION]), timeout=10
        ).assets
    }
    tram_stops = [s.station_asset_id for x in tram for s in x.stops]
    assert len(tram_stops) == 28 and set(tram_stops) == stations
    for x in bus:
        assert len(x.stops) >= 8 and x.path and x.headway_s > 0
        offsets = [s.scheduled_offset_s for s in x.stops]
        assert offsets == sorted(offsets) and offsets[0] == 0  # a timetable runs forwards
    vehicles = transit.ListVehicles(transit_pb2.ListVehiclesRequest(), timeout=10).vehicles
    assert len(vehicles) == sum(x.vehicles for x in lines)
    # Every transit vehicle is an asset too, with its line and schedule deviation.
    listed = assets.ListAssets(
        assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.VEHICLE]), timeout=10
    ).assets
    by_id = {a.id: a for a in listed}
    for v in vehicles:
        a = by_id[v.id]
        assert a.attributes["line"] == v.line_id
        assert a.attributes["fleet"] in ("bus", "tram", "shuttle")
        int(a.attributes["deviation_s"])
    with pytest.raises(grpc.RpcError) as e:
        transit.ListVehicles(transit_pb2.ListVehiclesRequest(line_ids=["L99"]), timeout=10)
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "L99" in e.value.details()


def test_tsp_switched_and_configured_by_commands(stubs):
    transit, commands, _, _ = stubs
    junctions = transit.GetTspConfig(transit_pb2.GetTspConfigRequest(), timeout=10).junctions
    j = junctions[0].junction_id
    status = execute(commands, [j], commands_pb2.SIGNAL_BUS_PRIORITY_ON)
    assert status.targets[0].stage == commands_pb2.CONFIRMED
    rules = transit_pb2.TspRules(
        lines=["L1", "L2"],
        classes=[transit_pb2.CLASS_BUS],
        min_lateness_s=120,
        inhibit_s=45,
        max_cross_wait_s=12,
        max_extension_s=10,
        early_green=False,
    )
    status = execute(commands, [j], commands_pb2.TSP_CONFIGURE, tsp_rules=rules)
    assert [t.stage for t in status.targets] == [commands_pb2.CONFIRMED], status
    got = wait_until(
        lambda: next(
            (
                x
                for x in transit.GetTspConfig(
                    transit_pb2.GetTspConfigRequest(junction_ids=[j]), timeout=10
                ).junctions
                if x.enabled and x.rules.inhibit_s == 45
            ),
            None,
        ),
        10,
        "the junction's new rules",
    )
    assert list(got.rules.lines) == ["L1", "L2"] and list(got.rules.classes) == [transit_pb2.CLASS_BUS]
    assert (got.rules.min_lateness_s, got.rules.max_cross_wait_s, got.rules.max_extension_s) == (120, 12, 10)
    assert not got.rules.early_green
    # Rules out of range are refused before anything is sent, with the reason.
    with pytest.raises(grpc.RpcError) as e:
        commands.Execute(
            commands_pb2.ExecuteRequest(
                idempotency_key=uuid.uuid4().hex,
                asset_ids=[j],
                action=commands_pb2.TSP_CONFIGURE,
                params=commands_pb2.CommandParams(
                    tsp_rules=transit_pb2.TspRules(max_cross_wait_s=500, max_extension_s=10)
                ),
            ),
            timeout=10,
        )
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "max_cross_wait_s must be 1..120 (got 500)" in e.value.details()
    # A signal on no transit line has no TSP to configure: the device says so.
    on_lines = {x.junction_id for x in junctions}
    other = next(f"sig-{k:04d}" for k in range(1, 111) if f"sig-{k:04d}" not in on_lines)
    status = execute(commands, [other], commands_pb2.TSP_CONFIGURE, tsp_rules=rules)
    assert status.targets[0].stage == commands_pb2.FAILED and "no TSP here" in status.targets[0].detail


def test_tram_regulation_commands_and_their_refusals(stubs):
    transit, commands, assets, _ = stubs
    trams = [
        v for v in transit.ListVehicles(transit_pb2.ListVehiclesRequest(line_ids=["T2"]), timeout=10).vehicles
    ]
    tram = trams[0].id
    status = execute(commands, [tram], commands_pb2.TRAM_HOLD, hold_seconds=600)
    assert status.targets[0].stage == commands_pb2.CONFIRMED, status
    held = wait_until(
        lambda: next(
            (
                v
                for v in transit.ListVehicles(
                    transit_pb2.ListVehiclesRequest(line_ids=["T2"]), timeout=10
                ).vehicles
                if v.id == tram and v.state == transit_pb2.TransitVehicle.HELD
            ),
            None,
        ),
        60,
        "the tram held at a station",
    )
    assert held.held_until.seconds > 0
    status = execute(commands, [tram], commands_pb2.TRAM_RELEASE)
    assert status.targets[0].stage == commands_pb2.CONFIRMED
    assert assets.GetAsset(assets_pb2.GetAssetRequest(id=tram), timeout=10).attributes["hold_s"] == "0"
    bus = transit.ListVehicles(transit_pb2.ListVehiclesRequest(line_ids=["L1"]), timeout=10).vehicles[0].id
    status = execute(commands, [bus], commands_pb2.TRAM_HOLD, hold_seconds=60)
    assert status.targets[0].stage == commands_pb2.FAILED and "is not a tram" in status.targets[0].detail
    status = execute(commands, [tram], commands_pb2.TRAM_SKIP_STATION, station_id="T1-03")
    assert status.targets[0].stage == commands_pb2.FAILED and "not on line T2" in status.targets[0].detail
    with pytest.raises(grpc.RpcError) as e:
        commands.Execute(
            commands_pb2.ExecuteRequest(
                idempotency_key=uuid.uuid4().hex,
                asset_ids=[tram],
                action=commands_pb2.TRAM_HOLD,
                params=commands_pb2.CommandParams(hold_seconds=5000),
            ),
            timeout=10,
        )
    assert (
        e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        and "hold_seconds must be 1..900" in e.value.details()
    )


def follower_of(vehicles, tram):
    """The tram behind `tram` on its line and direction (the nearest one behind)."""
    same = [
        v
        for v in vehicles
        if v.line_id == tram.line_id and v.id != tram.id and v.state != transit_pb2.TransitVehicle.LAYOVER
    ]
    ahead_of = [v for v in same if v.direction == tram.direction and v.distance_m != tram.distance_m]
    sign = 1 if tram.direction == 0 else -1
    behind = [v for v in ahead_of if sign * (tram.distance_m - v.distance_m) > 0]
    return min(behind, key=lambda v: abs(tram.distance_m - v.distance_m)) if behind else None


def bunching(alarms, asset_id: str) -> alarms_pb2.Alarm | None:
    got = alarms.ListAlarms(alarms_pb2.ListAlarmsRequest(asset_ids=[asset_id]), timeout=10).alarms
    return next((a for a in got if a.cause == "transit_bunching"), None)


def test_a_long_hold_raises_bunching_on_the_follower_and_holding_it_clears_the_alarm(stubs):
    transit, commands, _, alarms = stubs

    def pick():
        vs = transit.ListVehicles(transit_pb2.ListVehiclesRequest(line_ids=["T1"]), timeout=10).vehicles
        for v in vs:
            if v.state == transit_pb2.TransitVehicle.DWELLING and 3 <= int(v.next_stop_id[-2:]) <= 10:
                f = follower_of(vs, v)
                if f is not None and bunching(alarms, f.id) is None:
                    return v, f
        return None

    tram, follower = wait_until(pick, 60, "a T1 tram dwelling mid-line with a follower")
    execute(commands, [tram.id], commands_pb2.TRAM_HOLD, hold_seconds=320)
    # 320 s of a 360 s headway: the follower arrives right behind it at the next stations.
    alarm = wait_until(lambda: bunching(alarms, follower.id), 120, f"bunching alarm on {follower.id}")
    assert alarm.active and alarm.priority == 3 and alarm.asset_id == follower.id
    # The regulator spaces them again: the follower held for half a headway.
    execute(commands, [follower.id], commands_pb2.TRAM_HOLD, hold_seconds=200)
    cleared = wait_until(
        lambda: (a := bunching(alarms, follower.id)) is not None and not a.active and a,
        180,
        f"bunching on {follower.id} returned to normal",
    )
    assert cleared.cleared_at.seconds > 0


def test_preemption_along_a_route_forces_green_and_is_audited(city, stubs):
    transit, _, _, _ = stubs
    line = transit.ListLines(transit_pb2.ListLinesRequest(modes=[transit_pb2.BUS]), timeout=10).lines[0]
    # The route of a P1 dispatch down the first third of line 1's street path.
    route = list(line.path[: max(2, len(line.path) // 3)])
    expected = set(line.junction_ids)
    r = transit.RequestPreemption(
        transit_pb2.RequestPreemptionRequest(
            unit_id="veh-pol-01", incident_id="inc-1", route=route, duration_s=300, reason="P1 fire"
        ),
        timeout=10,
    )
    assert r.junction_ids and set(r.junction_ids) <= expected
    cfg = transit.GetTspConfig(transit_pb2.GetTspConfigRequest(junction_ids=list(r.junction_ids)), timeout=10)
    assert all(j.preempted for j in cfg.junctions)
    with pytest.raises(grpc.RpcError) as e:
        transit.RequestPreemption(
            transit_pb2.RequestPreemptionRequest(unit_id="u", route=route[:1]), timeout=10
        )
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "at least 2 points" in e.value.details()
    ch = open_channel(city.address, "supervisor")
    records = (
        audit_pb2_grpc.AuditServiceStub(ch)
        .ListAudit(audit_pb2.ListAuditRequest(action="transit.preempt", page_size=10), timeout=10)
        .records
    )
    ch.close()
    assert any(x.target == "veh-pol-01" and x.result == "ok" and x.reason == "P1 fire" for x in records)
