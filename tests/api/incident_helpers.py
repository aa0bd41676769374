"""Shared by the incident API tests: stubs, an independent road reference built from MapService's
streets (networkx, no product code), and a stream checker for WatchIncidents / WatchUnits that
reuses the alarms' etcd-style checker (tests/api/test_alarms_service.py)."""

from __future__ import annotations

import json
import math
import uuid

import grpc
import networkx as nx

from tests.api.test_alarms_service import StreamChecker
from tests.conftest import open_channel
from tests.unit.test_routing import reference_graph
from vigie.v1 import (
    assets_pb2,
    assets_pb2_grpc,
    incidents_pb2,
    incidents_pb2_grpc,
    map_pb2,
    map_pb2_grpc,
)

INC = incidents_pb2.Incident
UNIT = incidents_pb2.Unit
M_PER_DEG = 111_320.0


class Stubs:
    def __init__(self, address: str, user: str) -> None:
        self.channel = open_channel(address, user=user)
        self.incidents = incidents_pb2_grpc.IncidentServiceStub(self.channel)
        self.units = incidents_pb2_grpc.UnitServiceStub(self.channel)
        self.assets = assets_pb2_grpc.AssetServiceStub(self.channel)

    def create(
        self, lat: float, lon: float, type_code: str = "road_accident", **kw
    ) -> incidents_pb2.Incident:
        return self.incidents.CreateIncident(
            incidents_pb2.CreateIncidentRequest(
                idempotency_key=uuid.uuid4().hex, type=type_code, position={"lat": lat, "lon": lon}, **kw
            ),
            timeout=10,
        )

    def assign(self, incident_id: str, unit_id: str, reason: str = "", replace: str = "", key: str = ""):
        return self.incidents.Assign(
            incidents_pb2.AssignRequest(
                idempotency_key=key or uuid.uuid4().hex,
                incident_id=incident_id,
                unit_id=unit_id,
                reason=reason,
                replace_unit_id=replace,
            ),
            timeout=10,
        )

    def recommend(self, incident_id: str, k: int = 5, capability: int = 0) -> list[incidents_pb2.Candidate]:
        return list(
            self.incidents.Recommend(
                incidents_pb2.RecommendRequest(incident_id=incident_id, k=k, capability=capability),
                timeout=10,
            ).candidates
        )

    def unit(self, unit_id: str) -> incidents_pb2.Unit:
        return next(
            u
            for u in self.units.ListUnits(incidents_pb2.ListUnitsRequest(), timeout=10).units
            if u.id == unit_id
        )

    def set_unit(self, unit_id: str, status: int, reason: str = "") -> incidents_pb2.Unit:
        return self.units.SetUnitStatus(
            incidents_pb2.SetUnitStatusRequest(unit_id=unit_id, status=status, reason=reason), timeout=10
        )

    def close(self) -> None:
        self.channel.close()


def code_of(fn) -> grpc.StatusCode:
    try:
        fn()
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


class Streets:
    """The independent reference: MapService's street layers as a networkx graph, with its own
    snapping of a point onto the nearest segment (local equirectangular metres)."""

    def __init__(self, address: str) -> None:
        with open_channel(address, user="viewer") as ch:
            basemap = map_pb2_grpc.MapServiceStub(ch).GetBasemap(map_pb2.GetBasemapRequest(), timeout=30)
        self.layers = {layer.name: json.loads(layer.geojson) for layer in basemap.layers}
        self.graph = reference_graph(self.layers)
        self.lat0 = basemap.center.lat
        self.kx = M_PER_DEG * math.cos(math.radians(self.lat0))

    def junction_near(self, lat: float, lon: float) -> tuple[float, float]:
        """The street junction (a graph node of degree 3 or more) nearest a point."""
        best = min(
            (n for n in self.graph.nodes if self.graph.degree(n) >= 3),
            key=lambda n: ((n[0] - lat) * M_PER_DEG) ** 2 + ((n[1] - lon) * self.kx) ** 2,
        )
        return best

    def graph_path(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        """(seconds, metres) of the fastest path between two junctions."""
        path = nx.dijkstra_path(self.graph, a, b, weight="s")
        legs = list(zip(path, path[1:], strict=False))
        return sum(self.graph[p][q]["s"] for p, q in legs), sum(self.graph[p][q]["m"] for p, q in legs)

    def _xy(self, p: tuple[float, float]) -> tuple[float, float]:
        return (p[1] * self.kx, p[0] * M_PER_DEG)

    def time_from(self, lat: float, lon: float, dest: tuple[float, float]) -> float:
        """Driving seconds from a point (put on its nearest segment) to a junction."""
        px, py = self._xy((lat, lon))
        best = None
        for a, b in self.graph.edges:
            (ax, ay), (bx, by) = self._xy(a), self._xy(b)
            dx, dy = bx - ax, by - ay
            t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-9)))
            d = math.hypot(ax + t * dx - px, ay + t * dy - py)
            if best is None or d < best[0]:
                best = (d, a, b, t)
        _, a, b, t = best
        speed = self.graph[a][b]["m"] / self.graph[a][b]["s"]
        g = self.graph.copy()
        start = ("start",)
        g.add_edge(start, a, s=t * self.graph[a][b]["s"], m=0.0)
        g.add_edge(start, b, s=(1 - t) * self.graph[a][b]["s"], m=0.0)
        return nx.dijkstra_path_length(g, start, dest, weight="s") + best[0] / speed


def distance_m(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    dy = (lat1 - lat0) * M_PER_DEG
    dx = (lon1 - lon0) * M_PER_DEG * math.cos(math.radians(lat0))
    return math.hypot(dx, dy)


class IncidentChecker(StreamChecker):
    """The alarms' checker applied to WatchIncidents (or WatchUnits with `field="unit"`): order,
    uniqueness, no gap, one epoch."""

    def __init__(self, field: str = "incident") -> None:
        super().__init__()
        self.field = field
        self.items: dict[str, object] = {}

    def feed(self, msg) -> None:
        kind = msg.WhichOneof("event")
        assert kind != "resync_needed", msg.resync_needed.reason
        if self.epoch:
            assert msg.epoch == self.epoch
        self.epoch = msg.epoch
        if kind == "snapshot":
            for item in getattr(msg.snapshot, self.field + "s"):
                assert item.sequence <= msg.sequence
                self.items[item.id] = item
            self.sequence = msg.sequence
        elif kind == "changes":
            for c in msg.changes.changes:
                assert c.sequence == self.sequence + 1, (c.sequence, self.sequence)
                item = getattr(c, self.field)
                assert item.sequence == c.sequence
                self.sequence = c.sequence
                self.items[item.id] = item
                self.changes.append(c)
            assert msg.sequence == self.sequence
        else:
            assert msg.sequence == self.sequence


def vehicle_positions(address: str) -> dict[str, tuple[float, float]]:
    with open_channel(address, user="viewer") as ch:
        resp = assets_pb2_grpc.AssetServiceStub(ch).ListAssets(
            assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.VEHICLE]), timeout=10
        )
    return {a.id: (a.position.lat, a.position.lon) for a in resp.assets}
