"""Routes agree with an independent shortest path over the same streets.

The reference is built here from the basemap's GeoJSON (what MapService serves) with networkx's
plain `Graph` and the haversine length, and the road-class speeds written out in this test; it
shares no code with backend/routing.py. Distances and times must agree within 1%."""

from __future__ import annotations

import math
import random

import networkx as nx
import pytest

from vigie.backend.adapters.simulator.city import generate_city
from vigie.backend.routing import NoRoute, RoadGraph

KMH = {"street": 30.0, "avenue": 50.0, "ring": 70.0}  # the speeds the routing documents


def haversine_m(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    r = 6_371_008.8
    p0, p1 = math.radians(lat0), math.radians(lat1)
    dp, dl = p1 - p0, math.radians(lon1 - lon0)
    a = math.sin(dp / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def reference_graph(layers: dict) -> nx.Graph:
    """Nodes are (lat, lon) of the GeoJSON vertices; edges carry metres and seconds."""
    g = nx.Graph()
    for name in ("streets", "ring"):
        for f in layers[name]["features"]:
            coords = f["geometry"]["coordinates"]
            speed = KMH[f["properties"]["class"]] / 3.6
            for (lon0, lat0), (lon1, lat1) in zip(coords, coords[1:], strict=False):
                a, b = (lat0, lon0), (lat1, lon1)
                d = haversine_m(lat0, lon0, lat1, lon1)
                if a != b and (not g.has_edge(a, b) or g[a][b]["s"] > d / speed):
                    g.add_edge(a, b, m=d, s=d / speed)
    return g


@pytest.fixture(scope="module", params=["search", "table"])
def city(request):
    """The product's graph answering by one Dijkstra per query, and from its all-pairs table."""
    c = generate_city(seed=4, lights=0, vehicles=60)
    layers = c.geojson_layers()
    product = RoadGraph(layers)
    if request.param == "table":
        assert product.precompute()
    return layers, product, reference_graph(layers)


def reference(g: nx.Graph, a, b) -> tuple[float, float]:
    """(seconds, metres) of the fastest path between two nodes."""
    path = nx.dijkstra_path(g, a, b, weight="s")
    secs = sum(g[p][q]["s"] for p, q in zip(path, path[1:], strict=False))
    metres = sum(g[p][q]["m"] for p, q in zip(path, path[1:], strict=False))
    return secs, metres


def test_junction_to_junction_agrees_within_one_percent(city):
    _, product, ref = city
    nodes = sorted(ref.nodes)
    largest = max(nx.connected_components(ref), key=len)
    rng = random.Random(11)
    pairs = [tuple(rng.sample(sorted(largest), 2)) for _ in range(40)]
    for a, b in pairs:
        secs, metres = reference(ref, a, b)
        r = product.route(a, b)
        assert r.distance_m == pytest.approx(metres, rel=0.01), (a, b)
        assert r.time_s == pytest.approx(secs, rel=0.01), (a, b)
        assert r.points[0] == a and r.points[-1] == b
    assert len(nodes) > 500  # the whole city, not a toy graph


def test_points_in_the_middle_of_streets_agree(city):
    """A point on a street (not a junction): the reference splits that street there."""
    layers, product, ref = city
    feats = [f for f in layers["streets"]["features"] if len(f["geometry"]["coordinates"]) == 2]
    rng = random.Random(5)
    for _ in range(15):
        ends = []
        g = ref.copy()
        for f in rng.sample(feats, 2):
            (lon0, lat0), (lon1, lat1) = f["geometry"]["coordinates"]
            t = rng.uniform(0.2, 0.8)
            mid = (lat0 + t * (lat1 - lat0), lon0 + t * (lon1 - lon0))
            speed = KMH[f["properties"]["class"]] / 3.6
            for end in ((lat0, lon0), (lat1, lon1)):
                d = haversine_m(*mid, *end)
                g.add_edge(mid, end, m=d, s=d / speed)
            ends.append(mid)
        a, b = ends
        if not nx.has_path(g, a, b):
            continue
        secs, metres = reference(g, a, b)
        r = product.route(a, b)
        assert r.distance_m == pytest.approx(metres, rel=0.01)
        assert r.time_s == pytest.approx(secs, rel=0.01)


def test_one_search_ranks_many_origins_like_single_routes(city):
    """times_to (one search from the destination) equals each origin's own route time."""
    _, product, ref = city
    rng = random.Random(3)
    nodes = sorted(max(nx.connected_components(ref), key=len))
    dest = rng.choice(nodes)
    origins = [
        (lat + rng.uniform(-1e-4, 1e-4), lon + rng.uniform(-1e-4, 1e-4)) for lat, lon in rng.sample(nodes, 60)
    ]
    search = product.search_to(dest)
    times = product.times_to(origins, search)
    for o, t in zip(origins, times, strict=True):
        own = product.route(o, dest)
        assert t == pytest.approx(own.time_s, rel=1e-4)
        built = product.route_from(o, search)
        assert built is not None and built.time_s == pytest.approx(own.time_s, rel=1e-4)
        assert built.distance_m == pytest.approx(own.distance_m, rel=1e-4)


def test_a_faster_road_class_is_preferred_and_one_way_streets_are_respected():
    """A tiny network: a long ring road beats a short street; a one-way street is driven one way."""

    def line(a, b, cls, oneway=False):
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(a), list(b)]},
            "properties": {"name": cls, "class": cls, "oneway": oneway},
        }

    # (lon, lat): A -> B directly by a street (1 km), or A -> C -> B by the ring (2 x 0.8 km).
    a, b, c = (5.0, 47.0), (5.0, 47.009), (5.008, 47.0045)
    layers = {
        "streets": {"features": [line(a, b, "street", oneway=True)]},
        "ring": {"features": [line(a, c, "ring"), line(c, b, "ring")]},
    }
    g = RoadGraph(layers)
    forward = g.route((a[1], a[0]), (b[1], b[0]))
    ring = haversine_m(a[1], a[0], c[1], c[0]) + haversine_m(c[1], c[0], b[1], b[0])
    street = haversine_m(a[1], a[0], b[1], b[0])
    assert ring / (70 / 3.6) < street / (30 / 3.6)  # the setup: the ring is faster
    assert forward.distance_m == pytest.approx(ring, rel=0.01)
    # Only the ring road links them both ways; remove it and the one-way street goes one way only.
    only_street = RoadGraph({"streets": {"features": [line(a, b, "street", oneway=True)]}})
    assert only_street.route((a[1], a[0]), (b[1], b[0])).distance_m == pytest.approx(street, rel=0.01)
    with pytest.raises(NoRoute):
        only_street.route((b[1], b[0]), (a[1], a[0]))
