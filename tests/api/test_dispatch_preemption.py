"""Dispatch and emergency preemption against a real backend: assigning a unit to a P1 incident
preempts the TSP junctions along its route (TransitService reports them preempted, WatchPriority
reports the starts, the incident's timeline says so) until the unit is on scene; a P2 assignment
preempts nothing. The junctions expected are found by the test itself: those within a few metres
of the route the Assign answer carries (flat-earth metres, no product code)."""

from __future__ import annotations

import math
import time

import pytest

from tests.api.incident_helpers import UNIT, Stubs
from vigie.v1 import transit_pb2, transit_pb2_grpc

M_PER_DEG = 111_320.0
SURE_M, NEVER_M = 22.0, 40.0  # the backend preempts within 30 m: these are clear of the edge


def metres(lat0: float, lat: float, lon: float) -> tuple[float, float]:
    return lon * M_PER_DEG * math.cos(math.radians(lat0)), lat * M_PER_DEG


def distance_to_route(p: tuple[float, float], route: list[tuple[float, float]]) -> float:
    best = math.inf
    for (x0, y0), (x1, y1) in zip(route, route[1:], strict=False):
        dx, dy = x1 - x0, y1 - y0
        seg2 = dx * dx + dy * dy
        f = 0.0 if seg2 == 0 else max(0.0, min(1.0, ((p[0] - x0) * dx + (p[1] - y0) * dy) / seg2))
        best = min(best, math.hypot(x0 + f * dx - p[0], y0 + f * dy - p[1]))
    return best


@pytest.fixture(scope="module")
def city(request):
    from tests.conftest import BackendProcess

    b = BackendProcess(
        "--seed", "7", "--lights", "0", "--incident-rate", "0", "--transit-speed", "1",
        "--command-failure-rate", "0",
    ).start()  # fmt: skip
    yield b
    b.stop()


def junctions(transit) -> dict[str, transit_pb2.JunctionTsp]:
    got = transit.GetTspConfig(transit_pb2.GetTspConfigRequest(), timeout=10).junctions
    return {j.junction_id: j for j in got}


def wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout_s} s")
        time.sleep(0.1)  # polling a remote state with a deadline, not synchronising on time


def route_split(transit, resp) -> tuple[set[str], set[str]]:
    """(junctions certainly on the route, junctions that may be) by the test's own geometry."""
    lat0 = resp.route.route[0].lat
    route = [metres(lat0, p.lat, p.lon) for p in resp.route.route]
    near = {
        jid: distance_to_route(metres(lat0, j.position.lat, j.position.lon), route)
        for jid, j in junctions(transit).items()
    }
    return {j for j, d in near.items() if d <= SURE_M}, {j for j, d in near.items() if d <= NEVER_M}


def test_a_p1_assignment_preempts_the_junctions_on_its_route_until_arrival(city):
    sup = Stubs(city.address, "supervisor")
    transit = transit_pb2_grpc.TransitServiceStub(sup.channel)
    watch = transit.WatchPriority(transit_pb2.WatchPriorityRequest(), timeout=120)
    target = sorted(junctions(transit).values(), key=lambda j: j.junction_id)[5]
    # The incident at a junction of a line: the route ends there, so it crosses at least that one.
    inc = sup.create(target.position.lat, target.position.lon, "road_accident", priority=1)
    assert inc.priority == 1
    best = sup.recommend(inc.id, k=1)[0]
    resp = sup.assign(inc.id, best.unit.id)
    sure, maybe = route_split(transit, resp)
    assert target.junction_id in sure and sure, (target.junction_id, sure)

    def preempted() -> set[str]:
        return {jid for jid, j in junctions(transit).items() if j.preempted}

    got = wait_for(lambda: preempted() if sure <= preempted() else set())
    assert sure <= got <= maybe, (sure, got, maybe)
    starts: set[str] = set()
    for msg in watch:  # the priority watch reports each start (the map's white rings)
        for e in msg.events.events if msg.HasField("events") else ():
            if e.kind == transit_pb2.PriorityEvent.PREEMPTION_START and e.vehicle_id == best.unit.id:
                starts.add(e.junction_id)
        if starts >= got:
            break
    watch.cancel()

    # Arrival ends it: the junctions go back to their plans, and the timeline says both ends.
    sup.set_unit(best.unit.id, UNIT.EN_ROUTE)
    sup.set_unit(best.unit.id, UNIT.ON_SCENE)
    wait_for(lambda: not (preempted() & got))
    texts = [t.text for t in incident(sup, inc.id).timeline]
    assert any("emergency preemption for" in t and target.junction_id in t for t in texts), texts
    assert any("emergency preemption ended" in t and "arrived" in t for t in texts), texts
    sup.close()


def test_a_p2_assignment_preempts_nothing(city):
    sup = Stubs(city.address, "supervisor")
    transit = transit_pb2_grpc.TransitServiceStub(sup.channel)
    target = sorted(junctions(transit).values(), key=lambda j: j.junction_id)[9]
    inc = sup.create(target.position.lat, target.position.lon, "road_accident", priority=2)
    best = sup.recommend(inc.id, k=1)[0]
    resp = sup.assign(inc.id, best.unit.id)
    sure, _ = route_split(transit, resp)
    assert target.junction_id in sure  # a route that a P1 would have preempted
    # Absence needs a window: the P1 path acts within a fraction of a second; watch P2 for 3 s.
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert not any(junctions(transit)[j].preempted for j in sure)
        time.sleep(0.2)
    texts = [t.text for t in incident(sup, inc.id).timeline]
    assert not any("preemption" in t for t in texts), texts
    sup.close()


def incident(sup: Stubs, incident_id: str):
    from vigie.v1 import incidents_pb2

    listed = sup.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(page_size=200), timeout=10)
    return next(i for i in listed.incidents if i.id == incident_id)
