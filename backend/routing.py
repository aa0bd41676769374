"""Driving routes on the city's streets: the road graph, shortest travel times, nearest street.

The graph is built once from the device network's basemap (the MapService's "streets" and "ring"
GeoJSON layers: every vertex a node, every segment an edge), in local metres around the city's
mean latitude. Travel time follows the road class (`SPEED_KMH`); a feature with the property
`"oneway": true` is driven only in its drawing direction (the simulated city has none). A point
off the network is snapped onto the nearest segment (vectorised with numpy), so routes start and
end exactly where asked.

Shortest paths are networkx's Dijkstra. `precompute()` (seconds of CPU, once, in an executor)
fills an all-pairs table of junction-to-junction times with its predecessor table, after which a
recommendation is a table look-up: `search_to()` gives every junction's time to an incident,
`times_to()` times every unit at once, `route_from()` builds the winners' routes. Before the table
is there (or for a graph too big for it), `search_to()` is one single-source Dijkstra from the
incident on the reversed graph. The calls compute: run them in an executor, never on the event
loop. Searches are serialised by a lock (their temporary start node lives in the shared graph).
(The graph, its snapping index, the searches and the routes they build share their arrays: one
module, longer than most.)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

SPEED_KMH = {"street": 30.0, "avenue": 50.0, "ring": 70.0}
DEFAULT_KMH = 30.0
ROAD_LAYERS = ("streets", "ring")
M_PER_DEG_LAT = 111_320.0
_START = "start"  # the temporary node a search starts from
CELL_M = 100.0  # the snapping grid's cell (and the distance a candidate list is sure for)
MAX_TABLE_NODES = 3000  # all-pairs table up to this many junctions (3000: 108 MB)


@dataclass(frozen=True, slots=True)
class Route:
    """A drive along the streets: `points` (lat, lon) from start to end, the speed of each leg
    (m/s, one fewer than points), the distance and the driving time."""

    points: tuple[tuple[float, float], ...]
    leg_speeds: tuple[float, ...]
    distance_m: float
    time_s: float


@dataclass(frozen=True, slots=True)
class Snap:
    """A point's place on the network: on segment `seg` at fraction `t` from its first node."""

    seg: int
    t: float
    offset_m: float  # from the point to the segment


@dataclass(frozen=True, slots=True)
class Search:
    """What is known towards `destination`: its snap, every node's driving time to it (inf: no
    way) and `path(node)`, the nodes from there to the destination's segment in driving order."""

    destination: tuple[float, float]
    snap: Snap
    times: np.ndarray
    path: Callable[[int], list[int]]


class NoRoute(ValueError):
    """No drivable path (disconnected, or one-way streets forbid it)."""


class RoadGraph:
    def __init__(self, layers: dict[str, dict]) -> None:
        """`layers`: GeoJSON FeatureCollections by name (a DeviceNetwork's basemap)."""
        coords: list[tuple[float, float]] = []  # (lon, lat) of each node
        index: dict[tuple[float, float], int] = {}
        segs: list[tuple[int, int, float, str, bool]] = []  # u, v, speed m/s, name, one-way
        for layer in ROAD_LAYERS:
            for feat in layers.get(layer, {}).get("features", []):
                geom = feat.get("geometry") or {}
                if geom.get("type") != "LineString":
                    continue
                props = feat.get("properties") or {}
                speed = SPEED_KMH.get(props.get("class", ""), DEFAULT_KMH) / 3.6
                oneway = bool(props.get("oneway", False))
                ids = []
                for lon, lat in geom["coordinates"]:
                    key = (round(lon, 7), round(lat, 7))
                    if key not in index:
                        index[key] = len(coords)
                        coords.append(key)
                    ids.append(index[key])
                for u, v in zip(ids, ids[1:], strict=False):
                    if u != v:
                        segs.append((u, v, speed, str(props.get("name", "")), oneway))
        if not segs:
            raise ValueError("the basemap has no streets")
        lonlat = np.array(coords, dtype=float)
        self.lat0 = float(lonlat[:, 1].mean())
        self.lon0 = float(lonlat[:, 0].mean())
        self.m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(self.lat0))
        self.xy = np.column_stack(
            ((lonlat[:, 0] - self.lon0) * self.m_per_deg_lon, (lonlat[:, 1] - self.lat0) * M_PER_DEG_LAT)
        )
        self.lonlat = lonlat
        self.seg_u = np.array([s[0] for s in segs])
        self.seg_v = np.array([s[1] for s in segs])
        self.seg_speed = np.array([s[2] for s in segs])
        self.seg_name = [s[3] for s in segs]
        self.seg_oneway = np.array([s[4] for s in segs])
        a, b = self.xy[self.seg_u], self.xy[self.seg_v]
        self.seg_a = a
        self.seg_d = b - a
        self.seg_len = np.hypot(self.seg_d[:, 0], self.seg_d[:, 1])
        self._index_segments()
        self.graph = nx.DiGraph()  # edges u -> v with time (s) and length (m)
        self.reverse = nx.DiGraph()  # the same edges turned round: searches from a destination
        for k, (u, v, speed, _, oneway) in enumerate(segs):
            length = float(self.seg_len[k])
            dirs = [(u, v)] if oneway else [(u, v), (v, u)]
            for p, q in dirs:
                if self.graph.has_edge(p, q) and self.graph[p][q]["time"] <= length / speed:
                    continue
                self.graph.add_edge(p, q, time=length / speed, length=length, seg=k)
                self.reverse.add_edge(q, p, time=length / speed, length=length, seg=k)
        self._lock = threading.Lock()
        self._dist_table: np.ndarray | None = None  # [i, j]: seconds from node i to node j
        self._pred_table: np.ndarray | None = None  # [i, j]: the node before j on the way from i

    def precompute(self, max_nodes: int = MAX_TABLE_NODES) -> bool:
        """Fill the all-pairs table (one Dijkstra per junction; a few seconds, in an executor), so
        each recommendation is a table look-up. False (nothing done) for a graph too big for it."""
        n = len(self.lonlat)
        if n > max_nodes:
            return False
        dist = np.full((n, n), np.inf)
        pred = np.full((n, n), -1, dtype=np.int32)
        for i in range(n):
            tree, found = nx.dijkstra_predecessor_and_distance(self.graph, i, weight="time")
            dist[i, np.fromiter(found.keys(), int, len(found))] = np.fromiter(
                found.values(), float, len(found)
            )
            hops = [(j, p[0]) for j, p in tree.items() if p]
            if hops:
                cols, before = zip(*hops, strict=True)
                pred[i, list(cols)] = before
        self._pred_table = pred
        self._dist_table = dist  # last: searches use the table once both are there
        return True

    # --- geometry ---

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.m_per_deg_lon, (lat - self.lat0) * M_PER_DEG_LAT

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / M_PER_DEG_LAT, self.lon0 + x / self.m_per_deg_lon

    def node_latlon(self, n: int) -> tuple[float, float]:
        lon, lat = self.lonlat[n]
        return float(lat), float(lon)

    def _index_segments(self) -> None:
        """A grid of CELL_M cells listing every segment that passes within CELL_M of the cell, so
        a point is snapped against a few dozen candidates instead of every street."""
        x0, y0 = self.xy.min(axis=0) - CELL_M
        self._grid_origin = (float(x0), float(y0))
        lo = np.minimum(self.seg_a, self.seg_a + self.seg_d) - CELL_M
        hi = np.maximum(self.seg_a, self.seg_a + self.seg_d) + CELL_M
        c_lo = np.floor((lo - (x0, y0)) / CELL_M).astype(int)
        c_hi = np.floor((hi - (x0, y0)) / CELL_M).astype(int)
        self._grid_shape = (int(c_hi[:, 0].max()) + 1, int(c_hi[:, 1].max()) + 1)
        cells: dict[int, list[int]] = {}
        for k in range(len(self.seg_u)):
            for cx in range(c_lo[k, 0], c_hi[k, 0] + 1):
                for cy in range(c_lo[k, 1], c_hi[k, 1] + 1):
                    cells.setdefault(cx * self._grid_shape[1] + cy, []).append(k)
        width = max(len(v) for v in cells.values())
        table = np.full((self._grid_shape[0] * self._grid_shape[1], width), -1, dtype=np.int64)
        for c, ks in cells.items():
            table[c, : len(ks)] = ks
        self._grid = table

    def _candidates(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(points, width) candidate segments per point (-1: none; a point off the grid: none)."""
        cx = np.floor((x - self._grid_origin[0]) / CELL_M).astype(int)
        cy = np.floor((y - self._grid_origin[1]) / CELL_M).astype(int)
        inside = (cx >= 0) & (cy >= 0) & (cx < self._grid_shape[0]) & (cy < self._grid_shape[1])
        out = np.full((len(x), self._grid.shape[1]), -1, dtype=np.int64)
        out[inside] = self._grid[cx[inside] * self._grid_shape[1] + cy[inside]]
        return out

    def _project(self, x: np.ndarray, y: np.ndarray, segs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t, squared distance) of points (column vectors) onto segments (same rows; -1: inf)."""
        safe = np.maximum(segs, 0)
        ax, ay = self.seg_a[safe, 0], self.seg_a[safe, 1]
        dx, dy = self.seg_d[safe, 0], self.seg_d[safe, 1]
        rx, ry = x - ax, y - ay
        t = (rx * dx + ry * dy) / np.maximum(dx * dx + dy * dy, 1e-9)
        np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)
        ex, ey = rx - t * dx, ry - t * dy
        d2 = ex * ex + ey * ey
        d2[segs < 0] = np.inf
        return t, d2

    def snap(self, lat: float, lon: float) -> Snap:
        """The nearest point of the network."""
        return self.snap_many([(lat, lon)])[0]

    def snap_many(self, points: Sequence[tuple[float, float]]) -> list[Snap]:
        """The nearest point of the network for each (lat, lon): among the grid cell's
        candidates, or (a point farther than CELL_M from every street) among all segments."""
        if not points:
            return []
        pts = np.array(points, dtype=float)
        x = (pts[:, 1] - self.lon0) * self.m_per_deg_lon
        y = (pts[:, 0] - self.lat0) * M_PER_DEG_LAT
        segs = self._candidates(x, y)
        t, d2 = self._project(x[:, None], y[:, None], segs)
        best = np.argmin(d2, axis=1)
        rows = np.arange(len(points))
        out_seg, out_t, out_d2 = segs[rows, best], t[rows, best], d2[rows, best]
        far = out_d2 > CELL_M * CELL_M  # not sure to be the nearest: look at every segment
        if far.any():
            every = np.broadcast_to(np.arange(len(self.seg_u)), (int(far.sum()), len(self.seg_u)))
            t2, d22 = self._project(x[far][:, None], y[far][:, None], every)
            b2 = np.argmin(d22, axis=1)
            r2 = np.arange(len(b2))
            out_seg[far], out_t[far], out_d2[far] = every[r2, b2], t2[r2, b2], d22[r2, b2]
        return [
            Snap(int(k), float(tt), float(math.sqrt(dd)))
            for k, tt, dd in zip(out_seg, out_t, out_d2, strict=True)
        ]

    def street_at(self, lat: float, lon: float) -> str:
        """The name of the nearest street."""
        return self.seg_name[self.snap(lat, lon).seg]

    def snapped_latlon(self, s: Snap) -> tuple[float, float]:
        a = self.seg_a[s.seg] + s.t * self.seg_d[s.seg]
        return self.to_latlon(float(a[0]), float(a[1]))

    # --- searches ---

    def _exits(self, s: Snap) -> list[tuple[int, float, float]]:
        """(node, time, length) to drive from a snapped point to the ends of its segment."""
        k = s.seg
        length, speed = float(self.seg_len[k]), float(self.seg_speed[k])
        u, v = int(self.seg_u[k]), int(self.seg_v[k])
        out = [(v, (1 - s.t) * length / speed, (1 - s.t) * length)]
        if not self.seg_oneway[k] or s.t * length < 0.5:  # at its first junction already
            out.append((u, s.t * length / speed, s.t * length))
        return out

    def _entries(self, s: Snap) -> list[tuple[int, float, float]]:
        """(node, time, length) to drive from the ends of a segment to a snapped point on it."""
        k = s.seg
        length, speed = float(self.seg_len[k]), float(self.seg_speed[k])
        u, v = int(self.seg_u[k]), int(self.seg_v[k])
        out = [(u, s.t * length / speed, s.t * length)]
        if not self.seg_oneway[k] or (1 - s.t) * length < 0.5:  # at its last junction already
            out.append((v, (1 - s.t) * length / speed, (1 - s.t) * length))
        return out

    def _search(self, g: nx.DiGraph, starts: list[tuple[int, float, float]]) -> tuple[dict, dict]:
        """Dijkstra by time from a temporary node linked to `starts`: (predecessors, times)."""
        with self._lock:
            for n, t, length in starts:
                g.add_edge(_START, n, time=t, length=length, seg=-1)
            try:
                pred, times = nx.dijkstra_predecessor_and_distance(g, _START, weight="time")
            finally:
                g.remove_node(_START)
        return pred, times

    @staticmethod
    def _path(pred: dict, n: int) -> list[int]:
        """The nodes from the search's first real node to `n`."""
        out = [n]
        while True:
            p = pred[out[-1]]
            if not p or p[0] == _START:
                break
            out.append(p[0])
        out.reverse()
        return out

    def _same_segment(self, a: Snap, b: Snap) -> tuple[float, float] | None:
        """(time, length) driving straight from a to b along their common segment, if allowed."""
        if a.seg != b.seg or (self.seg_oneway[a.seg] and b.t < a.t):
            return None
        length = abs(b.t - a.t) * float(self.seg_len[a.seg])
        return length / float(self.seg_speed[a.seg]), length

    def route(self, origin: tuple[float, float], destination: tuple[float, float]) -> Route:
        """The fastest drive from `origin` to `destination` (lat, lon). Raises NoRoute."""
        route = self.route_from(origin, self.search_to(destination))
        if route is None:
            raise NoRoute("no drivable path between these points")
        return route

    def search_to(self, destination: tuple[float, float]) -> Search:
        """Every node's time to `destination`: read from the all-pairs table once `precompute`
        has filled it, else one Dijkstra on the reversed graph."""
        b = self.snap(*destination)
        entries = self._entries(b)
        dist, pred = self._dist_table, self._pred_table
        if dist is not None and pred is not None:
            by_entry = np.stack([dist[:, n] + t for n, t, _ in entries])
            choice = np.argmin(by_entry, axis=0)
            ends = [n for n, _, _ in entries]

            def table_path(n: int) -> list[int]:
                nodes = [ends[int(choice[n])]]
                while nodes[-1] != n:
                    nodes.append(int(pred[n, nodes[-1]]))
                nodes.reverse()
                return nodes

            return Search(destination, b, by_entry.min(axis=0), table_path)
        tree, found = self._search(self.reverse, entries)
        times = np.full(len(self.lonlat), np.inf)
        for n, t in found.items():
            if n != _START:
                times[n] = t
        # Paths in the reversed graph run destination -> node: read them backwards.
        return Search(destination, b, times, lambda n: list(reversed(self._path(tree, n))))

    def _best_exit(self, a: Snap, search: Search) -> tuple[float, int] | None:
        """(time, first node) of the fastest way from `a` to the search's destination; node -1:
        straight along the common segment; None: no way."""
        best: tuple[float, int] | None = None
        for n, t, _ in self._exits(a):
            total = float(search.times[n]) + t
            if math.isfinite(total) and (best is None or total < best[0]):
                best = (total, n)
        direct = self._same_segment(a, search.snap)
        if direct is not None and (best is None or direct[0] <= best[0]):
            best = (direct[0], -1)
        return best

    def times_to(self, origins: Sequence[tuple[float, float]], search: Search) -> list[float | None]:
        """Driving time from each origin to the search's destination (None: no way), with
        no route built: ranking many units costs one search and one vectorised snap."""
        b = search.snap
        off_b = b.offset_m / float(self.seg_speed[b.seg])
        out: list[float | None] = []
        for a in self.snap_many(origins):
            best = self._best_exit(a, search)
            # The same legs as the built route: onto the network, along it, off it.
            out.append(None if best is None else best[0] + a.offset_m / float(self.seg_speed[a.seg]) + off_b)
        return out

    def route_from(self, origin: tuple[float, float], search: Search) -> Route | None:
        """The fastest drive from `origin` to the search's destination (None: no way)."""
        a = self.snap(*origin)
        best = self._best_exit(a, search)
        if best is None:
            return None
        if best[1] == -1:
            return self._build(origin, search.destination, a, search.snap, [])
        return self._build(origin, search.destination, a, search.snap, search.path(best[1]))

    def _build(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        a: Snap,
        b: Snap,
        nodes: Sequence[int],
    ) -> Route:
        """The route's points and legs: origin, its snap, the nodes, the destination's snap,
        the destination (the short ways on and off the network at their segment's speed)."""
        pts = [
            origin,
            self.snapped_latlon(a),
            *(self.node_latlon(n) for n in nodes),
            self.snapped_latlon(b),
            destination,
        ]
        sa, sb = float(self.seg_speed[a.seg]), float(self.seg_speed[b.seg])
        if nodes:
            inner = [
                float(self.graph[p][q]["length"] / self.graph[p][q]["time"])
                for p, q in zip(nodes, nodes[1:], strict=False)
            ]
            speeds = [sa, sa, *inner, sb, sb]
        else:
            speeds = [sa, sa, sb]
        # Drop repeated points (a snap on a node) so no leg has zero length.
        out_pts: list[tuple[float, float]] = [pts[0]]
        out_speeds: list[float] = []
        for p, sp in zip(pts[1:], speeds, strict=True):
            if self._dist(out_pts[-1], p) < 0.01:
                if len(out_pts) > 1:
                    out_pts[-1] = p  # the same place: keep the later one (the destination itself)
                continue
            out_pts.append(p)
            out_speeds.append(sp)
        if len(out_pts) == 1:
            out_pts.append(pts[-1])
            out_speeds.append(speeds[-1])
        dist = sum(self._dist(p, q) for p, q in zip(out_pts, out_pts[1:], strict=False))
        time_s = sum(self._dist(p, q) / s for p, q, s in zip(out_pts, out_pts[1:], out_speeds, strict=False))
        return Route(tuple(out_pts), tuple(out_speeds), dist, time_s)

    def _dist(self, p: tuple[float, float], q: tuple[float, float]) -> float:
        (x0, y0), (x1, y1) = self.to_xy(*p), self.to_xy(*q)
        return math.hypot(x1 - x0, y1 - y0)


def districts_from(layers: dict[str, dict]) -> list[tuple[str, np.ndarray]]:
    """The basemap's district polygons: (name, (n, 2) lon/lat array of the outer ring)."""
    out = []
    for feat in layers.get("districts", {}).get("features", []):
        geom = feat.get("geometry") or {}
        if geom.get("type") == "Polygon" and geom.get("coordinates"):
            out.append(
                ((feat.get("properties") or {}).get("name", ""), np.array(geom["coordinates"][0], float))
            )
    return out


def district_at(districts: list[tuple[str, np.ndarray]], lat: float, lon: float) -> str:
    """The district containing the point (even-odd rule), "" when none does."""
    for name, ring in districts:
        x, y = ring[:, 0], ring[:, 1]
        x2, y2 = np.roll(x, -1), np.roll(y, -1)
        crosses = (y > lat) != (y2 > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = x + (lat - y) * (x2 - x) / (y2 - y)
        if int(np.count_nonzero(crosses & (lon < xi))) % 2 == 1:
            return str(name)
    return ""
