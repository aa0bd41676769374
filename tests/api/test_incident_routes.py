"""An incident carries the route and ETA of each unit driving to it (so a console draws the drive
of a unit another console sent without asking for the route again), kept across a clean restart
and gone once the unit is on scene; ListIncidentTypes serves the cause -> type tables the
console proposes a type with."""

from __future__ import annotations

import tempfile
import time

import grpc
import pytest

from tests.api.incident_helpers import UNIT, Stubs
from vigie.v1 import incidents_pb2, wall_pb2, wall_pb2_grpc


def incident_content(incident_id: str) -> wall_pb2.WallContent:
    return wall_pb2.WallContent(incident=wall_pb2.IncidentContent(incident_id=incident_id))


def test_an_assigned_units_route_rides_on_its_incident_until_it_is_on_scene(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-routes-")
    b = make_backend(
        "--seed", "7", "--quiet-city", "--incident-rate", "0", "--data-dir", data, "--wall", "wall-r=user:viewer"
    ).start()  # fmt: skip
    sup = Stubs(b.address, "supervisor")
    inc = sup.create(47.322, 5.041, "road_accident")
    assert not inc.routes
    best = sup.recommend(inc.id, k=1)[0]
    sent_at = time.time()
    resp = sup.assign(inc.id, best.unit.id)
    got = resp.incident
    assert len(got.routes) == 1
    r = got.routes[0]
    assert (r.unit_id, r.callsign) == (best.unit.id, best.unit.callsign)
    assert [(p.lat, p.lon) for p in r.polyline] == [(p.lat, p.lon) for p in resp.route.route]
    assert (r.destination.lat, r.destination.lon) == (inc.position.lat, inc.position.lon)
    assert abs(r.distance_m - resp.route.distance_m) < 1e-6
    eta_s = resp.route.eta.seconds + resp.route.eta.nanos / 1e9
    assert sent_at - 1 <= r.eta_at.ToNanoseconds() / 1e9 - eta_s <= time.time() + 1

    # Another console sees it in the list (and the watch: same conversion).
    listed = sup.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(page_size=50), timeout=10)
    assert next(i for i in listed.incidents if i.id == inc.id).routes == got.routes

    # "Send to wall": an incident id alone; the backend adds its place, title and the route.
    walls = wall_pb2_grpc.WallServiceStub(sup.channel)
    with pytest.raises(grpc.RpcError) as unknown:
        walls.Push(wall_pb2.PushRequest(wall="wall-r", content=incident_content("inc-999999")), timeout=10)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND and "inc-999999" in unknown.value.details()
    pushed = walls.Push(wall_pb2.PushRequest(wall="wall-r", content=incident_content(inc.id)), timeout=10)
    shown = pushed.wall.content.incident
    assert (shown.position.lat, shown.position.lon) == (inc.position.lat, inc.position.lon)
    assert shown.priority == inc.priority and shown.type == "road_accident" and shown.title
    assert [r.unit_id for r in shown.routes] == [best.unit.id]
    assert [(p.lat, p.lon) for p in shown.routes[0].polyline] == [(p.lat, p.lon) for p in r.polyline]
    sup.close()

    # A clean restart keeps it (the store holds it with the incident).
    b.stop()
    b.start()
    sup = Stubs(b.address, "supervisor")
    listed = sup.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(page_size=50), timeout=10)
    assert next(i for i in listed.incidents if i.id == inc.id).routes == got.routes
    kept = wall_pb2_grpc.WallServiceStub(sup.channel).ListWalls(wall_pb2.ListWallsRequest(), timeout=10)
    assert next(w for w in kept.walls if w.name == "wall-r").content.incident == shown  # walls.json

    # The crew radios in: en route, then on scene: the route goes.
    if sup.unit(best.unit.id).status == UNIT.DISPATCHED:  # the simulated crew may have set off already
        sup.set_unit(best.unit.id, UNIT.EN_ROUTE)
    assert sup.unit(best.unit.id).status == UNIT.EN_ROUTE
    listed = sup.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(page_size=50), timeout=10)
    assert len(next(i for i in listed.incidents if i.id == inc.id).routes) == 1
    sup.set_unit(best.unit.id, UNIT.ON_SCENE)
    listed = sup.incidents.ListIncidents(incidents_pb2.ListIncidentsRequest(page_size=50), timeout=10)
    after = next(i for i in listed.incidents if i.id == inc.id)
    assert after.status == incidents_pb2.Incident.IN_PROGRESS and not after.routes

    # The alarm cause -> incident type tables, as the catalogue says.
    types = sup.incidents.ListIncidentTypes(incidents_pb2.ListIncidentTypesRequest(), timeout=10)
    assert types.type_for_cause["door_forced"] == "door_forced"
    assert types.type_for_cause["pressure_low"] == "water_leak"
    assert types.type_for_device_kind["street_light"] == "lighting_failure"
    assert types.type_for_device_kind["traffic_signal"] == "signal_failure"
    codes = {t.code for t in types.types}
    assert set(types.type_for_cause.values()) <= codes and set(types.type_for_device_kind.values()) <= codes
    sup.close()
