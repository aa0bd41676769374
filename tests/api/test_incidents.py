"""IncidentService and UnitService on real backend processes: routes against an independent shortest
path, recommendation (availability, capability, ETA order), assignment (override and reassignment
need a reason, idempotency), transitions and roles, bounds, audit. The city is quiet (devices
change only when commanded; vehicles still drive) and opens no incidents of its own."""

from __future__ import annotations

import uuid

import grpc
import pytest

from tests.api.incident_helpers import INC, UNIT, Streets, Stubs, code_of, vehicle_positions
from tests.conftest import BackendProcess, open_channel
from vigie.v1 import audit_pb2, audit_pb2_grpc, incidents_pb2

INV = grpc.StatusCode.INVALID_ARGUMENT
FAILED = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED


@pytest.fixture(scope="module")
def quiet():
    b = BackendProcess("--seed", "7", "--quiet-city", "--incident-rate", "0").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def streets(quiet):
    return Streets(quiet.address)


@pytest.fixture
def sup(quiet):
    s = Stubs(quiet.address, "supervisor")
    yield s
    s.close()


@pytest.fixture
def op(quiet):
    s = Stubs(quiet.address, "operator")
    yield s
    s.close()


def test_route_agrees_with_an_independent_shortest_path(quiet, streets, sup):
    pairs = [
        ((47.318, 5.02), (47.33, 5.07)),
        ((47.305, 5.05), (47.335, 5.03)),
        ((47.322, 5.041), (47.31, 5.09)),
    ]
    for a, b in pairs:
        ja, jb = streets.junction_near(*a), streets.junction_near(*b)
        resp = sup.units.Route(
            incidents_pb2.RouteRequest(
                origin={"lat": ja[0], "lon": ja[1]}, destination={"lat": jb[0], "lon": jb[1]}
            ),
            timeout=10,
        )
        secs, metres = streets.graph_path(ja, jb)
        assert resp.distance_m == pytest.approx(metres, rel=0.01)
        assert resp.eta.ToMilliseconds() / 1000 == pytest.approx(secs, rel=0.01)
        first, last = resp.polyline[0], resp.polyline[-1]
        assert (first.lat, first.lon) == pytest.approx(ja) and (last.lat, last.lon) == pytest.approx(jb)
    assert (
        code_of(
            lambda: sup.units.Route(incidents_pb2.RouteRequest(origin={"lat": 47.32, "lon": 5.04}), timeout=5)
        )
        == INV
    )
    far = incidents_pb2.RouteRequest(
        origin={"lat": 48.0, "lon": 5.04}, destination={"lat": 47.32, "lon": 5.04}
    )
    assert code_of(lambda: sup.units.Route(far, timeout=5)) == INV


def test_recommend_respects_availability_and_capability_and_ranks_by_eta(quiet, streets, sup, op):
    spot = streets.junction_near(47.326, 5.035)
    inc = op.create(*spot, "road_accident")
    first = sup.recommend(inc.id, k=5)
    assert len(first) == 5
    etas = [c.eta.ToMilliseconds() for c in first]
    assert etas == sorted(etas)
    for c in first:
        assert c.unit.status in (UNIT.AVAILABLE, UNIT.RETURNING)
        assert UNIT.POLICE in c.unit.capabilities and c.unit.fleet == "police"
        # Each ETA is the independent shortest time from where the unit was.
        ref = streets.time_from(c.position.lat, c.position.lon, spot)
        assert c.eta.ToMilliseconds() / 1000 == pytest.approx(ref, rel=0.01, abs=1.0)
        assert (c.route[0].lat, c.route[0].lon) == pytest.approx((c.position.lat, c.position.lon))
        assert (c.route[-1].lat, c.route[-1].lon) == pytest.approx(spot)
    # No available police unit left out is faster than the first (units drive between the calls:
    # a few seconds of slack).
    police = {
        u.id
        for u in sup.units.ListUnits(
            incidents_pb2.ListUnitsRequest(capabilities=[UNIT.POLICE]), timeout=10
        ).units
    }
    positions = vehicle_positions(quiet.address)
    fastest = min(streets.time_from(*positions[u], spot) for u in police)
    assert first[0].eta.ToMilliseconds() / 1000 <= fastest * 1.02 + 5
    # Units taken off duty, or out of service, are no longer recommended.
    a, b = first[0].unit.id, first[1].unit.id
    op.set_unit(a, UNIT.OFF_DUTY, "end of shift")
    op.set_unit(b, UNIT.OUT_OF_SERVICE, "flat tyre")
    try:
        again = [c.unit.id for c in sup.recommend(inc.id, k=5)]
        assert a not in again and b not in again and len(again) == 5
        # Another capability: lighting crews only.
        lighting = sup.recommend(inc.id, k=20, capability=UNIT.LIGHTING)
        assert lighting and all(UNIT.LIGHTING in c.unit.capabilities for c in lighting)
        assert all(c.unit.fleet == "technical" for c in lighting)
    finally:
        op.set_unit(a, UNIT.AVAILABLE)
        op.set_unit(b, UNIT.AVAILABLE)


def test_assign_override_needs_a_reason_reassign_and_idempotency(quiet, streets, sup, op):
    spot = streets.junction_near(47.315, 5.055)
    inc = op.create(*spot, "public_order", description="crowd")
    cands = sup.recommend(inc.id, k=3)
    second = cands[1].unit
    # Not the first recommendation, no reason: refused, nothing changes.
    with pytest.raises(grpc.RpcError) as err:
        sup.assign(inc.id, second.id)
    assert err.value.code() == INV and "reason" in err.value.details()
    assert sup.unit(second.id).status == UNIT.AVAILABLE
    # Operators do not assign.
    assert code_of(lambda: op.assign(inc.id, cands[0].unit.id)) == DENIED
    key = uuid.uuid4().hex
    got = sup.assign(inc.id, second.id, reason="knows the area", key=key)
    assert got.override and got.unit.status == UNIT.DISPATCHED and got.unit.incident_id == inc.id
    assert got.incident.status == INC.DISPATCHED and list(got.incident.unit_ids) == [second.id]
    assigned = [e for e in got.incident.timeline if e.kind == incidents_pb2.TimelineEntry.ASSIGNED]
    assert assigned and "knows the area" in assigned[-1].text and assigned[-1].user == "supervisor"
    assert got.route.eta.ToMilliseconds() > 0 and len(got.route.route) >= 2
    # A retry with the same key is the same answer, not a second assignment.
    assert sup.assign(inc.id, second.id, reason="knows the area", key=key) == got
    assert code_of(lambda: sup.assign(inc.id, cands[2].unit.id, reason="x", key=key)) == INV
    # A dispatched unit cannot be assigned elsewhere.
    other = op.create(*streets.junction_near(47.33, 5.02), "road_accident")
    assert code_of(lambda: sup.assign(other.id, second.id, reason="x")) == FAILED
    # Reassignment: needs a reason; the replaced unit is free again.
    third = cands[2].unit
    assert code_of(lambda: sup.assign(inc.id, third.id, replace=second.id)) == INV
    re = sup.assign(inc.id, third.id, reason="closer now", replace=second.id)
    assert list(re.incident.unit_ids) == [third.id]
    assert sup.unit(second.id).status == UNIT.AVAILABLE
    kinds = [e.kind for e in re.incident.timeline]
    assert incidents_pb2.TimelineEntry.RELEASED in kinds


def test_transitions_and_roles(quiet, streets, sup, op):
    inc = op.create(*streets.junction_near(47.31, 5.03), "road_accident")
    upd = incidents_pb2.UpdateIncidentRequest
    # Units: only allowed transitions, with the allowed ones named.
    unit = sup.recommend(inc.id, k=1)[0].unit
    with pytest.raises(grpc.RpcError) as err:
        op.set_unit(unit.id, UNIT.ON_SCENE)
    assert err.value.code() == FAILED and "OFF_DUTY" in err.value.details()
    assert code_of(lambda: op.set_unit(unit.id, UNIT.DISPATCHED)) == FAILED  # only Assign dispatches
    assert code_of(lambda: op.set_unit("veh-nope", UNIT.OFF_DUTY)) == grpc.StatusCode.NOT_FOUND
    # Incidents: a lifecycle, and supervisors' moves.
    assert (
        code_of(lambda: sup.incidents.UpdateIncident(upd(incident_id=inc.id, status=INC.CLOSED), timeout=5))
        == FAILED
    )
    assert (
        code_of(lambda: op.incidents.UpdateIncident(upd(incident_id=inc.id, status=INC.CLOSED), timeout=5))
        == DENIED
    )
    assert (
        code_of(lambda: op.incidents.UpdateIncident(upd(incident_id=inc.id, status=INC.ON_HOLD), timeout=5))
        == INV
    )
    held = op.incidents.UpdateIncident(
        upd(incident_id=inc.id, status=INC.ON_HOLD, reason="caller unreachable"), timeout=5
    )
    assert held.status == INC.ON_HOLD and held.hold_reason == "caller unreachable"
    resolve = upd(incident_id=inc.id, status=INC.RESOLVED, outcome="false alarm")
    with pytest.raises(grpc.RpcError) as err:
        op.incidents.UpdateIncident(resolve, timeout=5)
    assert err.value.code() == FAILED and "required steps open" in err.value.details()
    override = upd(incident_id=inc.id, status=INC.RESOLVED, outcome="false alarm", override=True)
    assert code_of(lambda: op.incidents.UpdateIncident(override, timeout=5)) == DENIED
    assert code_of(lambda: sup.incidents.UpdateIncident(override, timeout=5)) == INV  # no reason
    override.reason = "the caller withdrew"
    done = sup.incidents.UpdateIncident(override, timeout=5)
    assert done.status == INC.RESOLVED and done.outcome == "false alarm"
    assert any(e.kind == incidents_pb2.TimelineEntry.OVERRIDE and "withdrew" in e.text for e in done.timeline)
    closed = sup.incidents.UpdateIncident(upd(incident_id=inc.id, status=INC.CLOSED), timeout=5)
    assert closed.status == INC.CLOSED and closed.closed_at.seconds > 0
    note = incidents_pb2.AddNoteRequest(incident_id=inc.id, text="late")
    assert code_of(lambda: op.incidents.AddNote(note, timeout=5)) == FAILED


def test_steps_notes_and_a_refused_update_changes_nothing(quiet, streets, op):
    inc = op.create(*streets.junction_near(47.325, 5.06), "water_leak")
    step = inc.steps[0].id
    ticked = op.incidents.SetStep(
        incidents_pb2.SetStepRequest(incident_id=inc.id, step_id=step, done=True), timeout=5
    )
    assert ticked.steps[0].done and ticked.steps[0].done_by == "operator"
    noted = op.incidents.AddNote(
        incidents_pb2.AddNoteRequest(incident_id=inc.id, text="smell of gas"), timeout=5
    )
    assert noted.timeline[-1].text == "smell of gas" and noted.timeline[-1].user == "operator"
    # A status the lifecycle refuses: the priority given with it is not applied either.
    bad = incidents_pb2.UpdateIncidentRequest(incident_id=inc.id, status=INC.IN_PROGRESS, priority=1)
    assert code_of(lambda: op.incidents.UpdateIncident(bad, timeout=5)) == FAILED
    listed = op.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(text="smell of gas"), timeout=5)
    assert [i.id for i in listed.incidents] == [inc.id] and listed.incidents[0].priority == inc.priority
    assert (
        code_of(
            lambda: op.incidents.SetStep(
                incidents_pb2.SetStepRequest(incident_id=inc.id, step_id="nope"), timeout=5
            )
        )
        == INV
    )


def test_create_is_idempotent_and_bounded(quiet, streets, op):
    spot = streets.junction_near(47.32, 5.045)
    req = incidents_pb2.CreateIncidentRequest(
        idempotency_key="same-intent",
        type="door_forced",
        position={"lat": spot[0], "lon": spot[1]},
        description="d",
    )
    a = op.incidents.CreateIncident(req, timeout=5)
    b = op.incidents.CreateIncident(req, timeout=5)
    assert a.id == b.id and a.street and a.district
    req.description = "another"
    assert code_of(lambda: op.incidents.CreateIncident(req, timeout=5)) == INV
    for bad in (
        incidents_pb2.CreateIncidentRequest(
            idempotency_key="k2",
            type="door_forced",
            position={"lat": spot[0], "lon": spot[1]},
            description="x" * 1001,
        ),
        incidents_pb2.CreateIncidentRequest(
            idempotency_key="k3", type="nope", position={"lat": spot[0], "lon": spot[1]}
        ),
        incidents_pb2.CreateIncidentRequest(
            idempotency_key="k4", type="door_forced", position={"lat": 40.0, "lon": 5.0}
        ),
        incidents_pb2.CreateIncidentRequest(idempotency_key="k5", type="door_forced"),
        incidents_pb2.CreateIncidentRequest(
            idempotency_key="k6",
            type="door_forced",
            position={"lat": spot[0], "lon": spot[1]},
            camera_ids=["c"] * 101,
        ),
        incidents_pb2.CreateIncidentRequest(type="door_forced", position={"lat": spot[0], "lon": spot[1]}),
    ):
        assert code_of(lambda r=bad: op.incidents.CreateIncident(r, timeout=5)) == INV, bad
    listed = op.incidents.ListIncidents(
        incidents_pb2.ListIncidentsRequest(types=["door_forced"], page_size=1000), timeout=5
    )
    assert [i.id for i in listed.incidents].count(a.id) == 1 and listed.total_size == len(listed.incidents)


def test_every_action_is_audited(quiet, streets, sup, op):
    inc = op.create(*streets.junction_near(47.335, 5.05), "assistance_person")
    op.incidents.AddNote(incidents_pb2.AddNoteRequest(incident_id=inc.id, text="audited note"), timeout=5)
    unit = sup.recommend(inc.id, k=1)[0].unit
    sup.assign(inc.id, unit.id)
    op.set_unit(unit.id, UNIT.EN_ROUTE, "radio")
    with open_channel(quiet.address, user="supervisor") as ch:
        audit = audit_pb2_grpc.AuditServiceStub(ch)
        records = audit.ListAudit(audit_pb2.ListAuditRequest(page_size=500), timeout=10).records
    seen = {
        (r.action, r.user, r.result)
        for r in records
        if inc.id in r.target or unit.id in r.target or r.detail.startswith(inc.id)
    }
    for want in (
        ("incident.create", "operator", "ok"),
        ("incident.note", "operator", "ok"),
        ("incident.assign", "supervisor", "ok"),
        ("unit.status", "operator", "ok"),
    ):
        assert want in seen, (want, seen)
