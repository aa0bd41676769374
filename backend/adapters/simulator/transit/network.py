"""The transit network of the simulated city: ten bus lines on the roads between real places, the
two tram lines on their stations, and health shuttles between hospitals and care homes; their
stops, timetables and the signalised junctions they cross (with each junction's fixed plan).

Bus and shuttle paths are the fastest drive through a via point (backend/routing.py on the
basemap's streets), so lines cross the centre instead of running round the ring. Stops every
~400 m (named after their street), trams at their stations. A timetable runs each direction at a
planned speed below the road's (signals and traffic are in it) plus a nominal dwell per stop; the
line's vehicles are spread one headway apart round the out-and-back cycle.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

from vigie.backend.adapters.simulator.city import TRAM_LINES, City, to_latlon, to_xy
from vigie.backend.adapters.simulator.transit.signals import Junction, Plan, phase_of
from vigie.backend.domain.assets import Kind
from vigie.backend.domain.transit import Mode
from vigie.backend.routing import NoRoute, RoadGraph

# Places in the city's local metres (x east, y north), after the real neighbourhoods.
PLACES: dict[str, tuple[float, float]] = {
    "Dijon Gare": (-1300, 50),
    "Darcy": (-600, 130),
    "République": (250, 450),
    "Fontaine d'Ouche": (-2500, -700),
    "Talant": (-2700, 1000),
    "Plombières": (-3200, 200),
    "Toison d'Or": (350, 1750),
    "Valmy": (200, 2450),
    "Quetigny Centre": (3300, 350),
    "Saint-Apollinaire": (2700, 1500),
    "Chenôve Centre": (-550, -2350),
    "Marsannay": (-1600, -2300),
    "Longvic": (1500, -2300),
    "Université": (1900, -300),
    "Grésilles": (1500, 1100),
    "Chevreul": (900, -1200),
    # hospitals and care homes (the health shuttles' ends)
    "CHU Dijon Bourgogne": (150, 2050),
    "Hôpital privé Dijon Bourgogne": (-1500, -900),
    "Centre Georges-François Leclerc": (1750, -500),
    "EHPAD Les Rosiers": (-2300, 1200),
    "EHPAD Champmaillot": (1200, 900),
    "EHPAD Les Vergers": (-900, -2000),
    "EHPAD Bellevue": (2600, -1200),
}
# id, from, via, to, headway (s), colour
BUS_LINES = [
    ("L1", "Dijon Gare", "République", "Quetigny Centre", 360, "#e74c3c"),
    ("L2", "Chenôve Centre", "Darcy", "Valmy", 360, "#e67e22"),
    ("L3", "Fontaine d'Ouche", "Darcy", "Grésilles", 420, "#f1c40f"),
    ("L4", "Talant", "République", "Longvic", 420, "#2ecc71"),
    ("L5", "Plombières", "Darcy", "Université", 480, "#1abc9c"),
    ("L6", "Toison d'Or", "République", "Chevreul", 480, "#3498db"),
    ("L7", "Saint-Apollinaire", "République", "Marsannay", 540, "#9b59b6"),
    ("L8", "Dijon Gare", "Toison d'Or", "Saint-Apollinaire", 600, "#34495e"),
    ("L9", "Longvic", "Université", "Grésilles", 600, "#d35400"),
    ("L10", "Talant", "Dijon Gare", "Chenôve Centre", 600, "#7f8c8d"),
]
SHUTTLES = [
    ("S1", "CHU Dijon Bourgogne", "EHPAD Les Rosiers", 900),
    ("S2", "Hôpital privé Dijon Bourgogne", "EHPAD Les Vergers", 600),
    ("S3", "Centre Georges-François Leclerc", "EHPAD Bellevue", 600),
    ("S4", "CHU Dijon Bourgogne", "EHPAD Champmaillot", 900),
]
TRAM_HEADWAY_S = {"T1": 360, "T2": 360}
TRAM_COLORS = {"T1": "#8e44ad", "T2": "#c0392b"}
SHUTTLE_COLOR = "#16a085"

STOP_SPACING_M = 400.0
JUNCTION_SNAP_M = 6.0
RUNNING_FACTOR = {Mode.BUS: 0.7, Mode.SHUTTLE: 0.8, Mode.TRAM: 1.0}  # of the road's speed
TRAM_SPEED_MPS = 8.5
PLANNED_SIGNAL_S = 12.0  # the timetable's allowance per junction
PLANNED_DWELL_S = {Mode.BUS: 20.0, Mode.SHUTTLE: 60.0, Mode.TRAM: 25.0}
PLANNED_SPEED = 0.93  # of the running speed: the timetable's traffic allowance
LAYOVER_S = {Mode.BUS: 240.0, Mode.SHUTTLE: 300.0, Mode.TRAM: 180.0}


@dataclass(frozen=True, slots=True)
class StopDef:
    id: str
    name: str
    distance_m: float  # from the first stop, direction 0
    station_asset: str = ""


@dataclass(frozen=True, slots=True)
class JunctionOnLine:
    junction_id: str
    distance_m: float  # direction 0
    phases: tuple[str, str]  # the approach's phase in direction 0 and in direction 1


@dataclass
class LineDef:
    id: str
    name: str
    mode: Mode
    color: str
    xy: list[tuple[float, float]]
    cum: list[float]  # distance at each point
    speeds: list[float]  # running speed of each leg (m/s)
    stops: list[StopDef]
    junctions: list[JunctionOnLine]
    headway_s: float = 0.0
    vehicles: int = 0
    one_way_s: float = 0.0
    layover_s: float = 0.0
    offsets: tuple[list[float], list[float]] = field(
        default_factory=lambda: ([], [])
    )  # per direction, per stop

    @property
    def length(self) -> float:
        return self.cum[-1]

    @property
    def cycle_s(self) -> float:
        return 2 * (self.one_way_s + self.layover_s)

    def leg_at(self, s: float) -> int:
        return max(0, min(len(self.speeds) - 1, bisect.bisect_right(self.cum, s) - 1))

    def point_at(self, s: float) -> tuple[float, float, float]:
        """(x, y, bearing) at distance s along direction 0."""
        i = self.leg_at(s)
        (x0, y0), (x1, y1) = self.xy[i], self.xy[i + 1]
        seg = self.cum[i + 1] - self.cum[i]
        f = 0.0 if seg <= 0 else (s - self.cum[i]) / seg
        f = min(1.0, max(0.0, f))
        return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360

    def stop_distances(self, direction: int) -> list[float]:
        """The stops' distances along the trip's own direction, in the order it serves them."""
        if direction == 0:
            return [st.distance_m for st in self.stops]
        return [self.length - st.distance_m for st in reversed(self.stops)]

    def stop_in(self, direction: int, k: int) -> StopDef:
        return self.stops[k] if direction == 0 else self.stops[len(self.stops) - 1 - k]

    def scheduled_offset(self, direction: int, x: float) -> float:
        """The timetable's time from the trip's start to distance x along the trip."""
        dists = self.stop_distances(direction)
        offs = self.offsets[direction]
        k = bisect.bisect_right(dists, x) - 1
        if k < 0:
            return offs[0]
        if k >= len(dists) - 1:
            return offs[-1]
        span = dists[k + 1] - dists[k]
        f = 0.0 if span <= 0 else (x - dists[k]) / span
        return offs[k] + (offs[k + 1] - offs[k]) * f

    def position(self, direction: int, x: float) -> tuple[float, float, float]:
        """(x, y, bearing) at distance x along a trip in `direction`."""
        if direction == 0:
            return self.point_at(x)
        px, py, b = self.point_at(self.length - x)
        return px, py, (b + 180.0) % 360.0


@dataclass
class TransitNetwork:
    lines: dict[str, LineDef]
    junctions: dict[str, Junction]


def build_network(city: City, seed: int) -> TransitNetwork:
    """Every line, stop, timetable and junction plan for `city` (deterministic for the seed)."""
    rng = random.Random(seed * 92_821 + 7)
    graph = RoadGraph(city.geojson_layers())
    signals = [a for a in city.assets if a.kind is Kind.TRAFFIC_SIGNAL]
    sig_xy = [(a, *to_xy(a.lat, a.lon)) for a in signals]
    lines: dict[str, LineDef] = {}
    for lid, a, via, b, headway, color in BUS_LINES:
        xy, speeds = _road_path(graph, [PLACES[a], PLACES[via], PLACES[b]])
        line = _line(lid, f"Liane {lid[1:]} — {a} ↔ {b}", Mode.BUS, color, xy, speeds, graph, a, b)
        lines[lid] = _schedule(line, headway, sig_xy)
    for lid, a, b, headway in SHUTTLES:
        xy, speeds = _road_path(graph, [PLACES[a], PLACES[b]])
        line = _line(
            lid, f"Navette santé {lid} — {a} ↔ {b}", Mode.SHUTTLE, SHUTTLE_COLOR, xy, speeds, graph, a, b
        )
        lines[lid] = _schedule(line, headway, sig_xy)
    for lid, stations in TRAM_LINES.items():
        xy = [(float(x), float(y)) for _, x, y in stations]
        cum = _cumulative(xy)
        stops = [
            StopDef(f"{lid}-{k:02d}", name, cum[k - 1], f"trm-{lid}-{k:02d}")
            for k, (name, _, _) in enumerate(stations, 1)
        ]
        line = LineDef(
            lid,
            f"Tram {lid} — {stations[0][0]} ↔ {stations[-1][0]}",
            Mode.TRAM,
            TRAM_COLORS[lid],
            xy,
            cum,
            [TRAM_SPEED_MPS] * (len(xy) - 1),
            stops,
            [],
        )
        lines[lid] = _schedule(line, TRAM_HEADWAY_S[lid], [])
    junctions: dict[str, Junction] = {}
    for line in lines.values():
        for j in line.junctions:
            if j.junction_id not in junctions:
                a = next(s for s in signals if s.id == j.junction_id)
                junctions[j.junction_id] = Junction(a.id, a.name, a.lat, a.lon, _plan(rng))
            junctions[j.junction_id].line_ids.append(line.id)
    return TransitNetwork(lines, junctions)


def _plan(rng: random.Random) -> Plan:
    cycle = rng.choice((60, 72, 80, 90))
    inter = 4
    green = cycle - 2 * inter
    a = round(green * rng.uniform(0.45, 0.62))
    return Plan(cycle, a, green - a, rng.randrange(cycle), inter)


def _road_path(
    graph: RoadGraph, places: list[tuple[float, float]]
) -> tuple[list[tuple[float, float]], list[float]]:
    xy: list[tuple[float, float]] = []
    speeds: list[float] = []
    for p, q in zip(places, places[1:], strict=False):
        try:
            r = graph.route(to_latlon(*p), to_latlon(*q))
        except NoRoute:
            r = None
        pts = [to_xy(lat, lon) for lat, lon in r.points] if r else [p, q]
        legs = list(r.leg_speeds) if r else [30 / 3.6]
        if xy:
            pts, legs = pts[1:], legs
        for k, pt in enumerate(pts):
            if xy and math.hypot(pt[0] - xy[-1][0], pt[1] - xy[-1][1]) < 0.5:
                continue
            if xy:
                speeds.append(legs[min(k, len(legs) - 1)])
            xy.append(pt)
    return xy, speeds


def _cumulative(xy: list[tuple[float, float]]) -> list[float]:
    cum = [0.0]
    for (x0, y0), (x1, y1) in zip(xy, xy[1:], strict=False):
        cum.append(cum[-1] + math.hypot(x1 - x0, y1 - y0))
    return cum


def _line(
    lid: str,
    name: str,
    mode: Mode,
    color: str,
    xy: list[tuple[float, float]],
    speeds: list[float],
    graph: RoadGraph,
    first: str,
    last: str,
) -> LineDef:
    cum = _cumulative(xy)
    length = cum[-1]
    n = max(1, round(length / STOP_SPACING_M)) if mode is Mode.BUS else 1
    stops: list[StopDef] = []
    for k in range(n + 1):
        d = length * k / n
        if k == 0:
            label = first
        elif k == n:
            label = last
        else:
            line = LineDef(lid, name, mode, color, xy, cum, speeds, [], [])
            x, y, _ = line.point_at(d)
            label = graph.street_at(*to_latlon(x, y))
        stops.append(StopDef(f"{lid}-{k + 1:02d}", label, d))
    factor = RUNNING_FACTOR[mode]
    return LineDef(lid, name, mode, color, xy, cum, [s * factor for s in speeds], stops, [])


def _schedule(line: LineDef, headway: float, sig_xy: list) -> LineDef:
    """Junctions on the path, the timetable's offsets, the vehicle count and the real headway."""
    juncs: list[JunctionOnLine] = []
    for a, sx, sy in sig_xy:
        for i in range(1, len(line.xy) - 1):
            x, y = line.xy[i]
            if abs(x - sx) < JUNCTION_SNAP_M and abs(y - sy) < JUNCTION_SNAP_M:
                if 30 < line.cum[i] < line.length - 30:
                    (px, py), (nx, ny) = line.xy[i - 1], line.xy[i + 1]
                    juncs.append(
                        JunctionOnLine(
                            a.id, line.cum[i], (phase_of(x - px, y - py), phase_of(x - nx, y - ny))
                        )
                    )
                break
    juncs.sort(key=lambda j: j.distance_m)
    line.junctions = juncs
    dwell = PLANNED_DWELL_S[line.mode]
    jd = [j.distance_m for j in juncs]
    both: list[list[float]] = []
    for direction in (0, 1):
        offsets: list[float] = []
        t, prev = 0.0, 0.0
        dists = line.stop_distances(direction)
        for k, x in enumerate(dists):
            a0, b0 = (prev, x) if direction == 0 else (line.length - x, line.length - prev)
            t += _run_time(line, a0, b0) / PLANNED_SPEED
            t += PLANNED_SIGNAL_S * (bisect.bisect_left(jd, b0) - bisect.bisect_left(jd, a0))
            offsets.append(t)
            if 0 < k < len(dists) - 1:
                t += dwell
            prev = x
        both.append(offsets)
    line.offsets = (both[0], both[1])
    line.one_way_s = max(both[0][-1], both[1][-1])
    line.layover_s = LAYOVER_S[line.mode]
    line.vehicles = max(1, math.ceil(line.cycle_s / headway))
    line.layover_s += (line.vehicles * headway - line.cycle_s) / 2  # an exact multiple of the headway
    line.headway_s = line.cycle_s / line.vehicles
    return line


def _run_time(line: LineDef, a: float, b: float) -> float:
    """Seconds at running speed from distance a to b (direction 0)."""
    t = 0.0
    for i in range(line.leg_at(a), len(line.speeds)):
        lo, hi = max(a, line.cum[i]), min(b, line.cum[i + 1])
        if hi > lo:
            t += (hi - lo) / line.speeds[i]
        if line.cum[i + 1] >= b:
            break
    return t
