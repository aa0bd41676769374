"""An incident on a wall: its content is bounded (routes and their points, so every wall's content
together stays far below a gRPC message), a long route is thinned keeping its ends, and the
content survives walls.json as it was pushed."""

from __future__ import annotations

import pytest

from vigie.backend.domain.walls import IncidentShot, InvalidContent, RouteShot, thin, validate
from vigie.backend.store.walls_json import shot_from_json, shot_to_json


def route(n: int, unit: str = "veh-01") -> RouteShot:
    return RouteShot(unit, "Police 01", tuple((47.3 + i * 1e-4, 5.0) for i in range(n)), 1_800_000_000.0)


def shot(*routes: RouteShot) -> IncidentShot:
    return IncidentShot(
        "inc-000001", 47.32, 5.04, ("cam-001",), "P1 · Road accident", 1, "road_accident", routes
    )


def test_routes_are_bounded_and_a_long_one_is_thinned_keeping_its_ends():
    validate(shot(route(500), route(2), route(2), route(2)))
    with pytest.raises(InvalidContent, match="incident.routes"):
        validate(shot(*(route(2, f"veh-{i}") for i in range(5))))
    with pytest.raises(InvalidContent, match="incident.routes"):
        validate(shot(route(501)))
    long = route(2000).points
    kept = thin(long)
    assert len(kept) == 500 and kept[0] == long[0] and kept[-1] == long[-1]
    assert thin(long[:30]) == long[:30]
    with pytest.raises(InvalidContent, match="incident_id"):
        validate(IncidentShot("", 47.32, 5.04, (), ""))


def test_an_incident_content_survives_the_walls_file():
    s = shot(route(3))
    assert shot_from_json(shot_to_json(s)) == s
