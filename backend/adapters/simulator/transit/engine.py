"""The transit simulation: vehicles running their timetables, waiting at red lights, dwelling at
stops, asking junctions for priority (check-in on approach, check-out on clearing), obeying the
tram regulator (hold, release, skip), and the figures and events all that produces.

It runs on its own clock (`t`, simulation seconds) in 1 s steps, so it is deterministic for a
seed whatever the wall clock does; the city simulator advances it by its tick times the speed
flag. Lateness comes from traffic (a seeded congestion per line that varies over the day, and
each trip's own pace) and signal waits; dwell grows with the time since the vehicle ahead left
(passengers pile up), so late vehicles get later and bunch, as in real networks.

Past 400 lines because one vehicle's step (running, stops, junctions and their check-in/out) and
the regulator's instructions act on the same per-vehicle state; the rules, the plan and the
statistics live in signals.py and stats.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from vigie.backend.adapters.simulator.transit.network import LineDef, TransitNetwork
from vigie.backend.adapters.simulator.transit.signals import Junction, phase_of
from vigie.backend.adapters.simulator.transit.stats import CorridorStats
from vigie.backend.domain.changelog import ChangeLog
from vigie.backend.domain.transit import (
    MODE_CLASS,
    EventKind,
    Mode,
    PriorityEvent,
    Strategy,
    VehicleClass,
)

CHECK_IN_M = 150.0  # the request generator checks in this far before the stop line
DT = 1.0
BUNCH_RATIO, BUNCH_CLEAR = 0.25, 0.5  # of the planned headway
GAP_RATIO, GAP_CLEAR = 2.5, 2.0
PAX_PER_S = {Mode.BUS: 1 / 90, Mode.TRAM: 1 / 25, Mode.SHUTTLE: 1 / 600}
BOARD_S = {Mode.BUS: 2.5, Mode.TRAM: 0.8, Mode.SHUTTLE: 20.0}
BASE_DWELL_S = {Mode.BUS: 8.0, Mode.TRAM: 15.0, Mode.SHUTTLE: 30.0}
MIN_LAYOVER_S = 60.0
MAX_HOLD_S = 900
PRIORITY_HISTORY = 50_000


class RegulationError(ValueError):
    """A regulation instruction the vehicle cannot follow (the message says why)."""


@dataclass
class Vehicle:
    id: str
    name: str
    line: LineDef
    cls: VehicleClass
    rng: random.Random
    direction: int = 0
    s: float = 0.0  # distance along the current trip
    state: str = "running"  # running, dwelling, waiting_signal, held, layover
    trip_start: float = 0.0  # the trip's scheduled departure (simulation seconds)
    next_departure: float = 0.0  # layover: when it leaves
    stop_i: int = 0  # next stop (index in the trip's order)
    junc_i: int = 0  # next junction (index in the trip's order)
    leave_at: float = 0.0  # dwelling: when boarding ends
    hold_until: float = 0.0  # held by the regulator until
    hold_pending_s: int = 0  # to hold at the next station
    hold_s: int = 0  # the hold instruction in force (attribute), 0: none
    skip_k: int = -1  # a stop (trip order) to pass without stopping
    checked_in: str = ""  # the junction it checked in at
    grant: tuple[str, float, Strategy] | None = None  # (junction, red predicted without, strategy)
    wait_here: float = 0.0  # seconds waited at the current junction
    signal_delay: float = 0.0  # this trip
    pace: float = 1.0  # this trip's own pace
    deviation: float = 0.0
    headway_ahead: float = 0.0
    alarm: str = ""  # "", "bunching" or "service gap"
    x: float = 0.0
    y: float = 0.0
    heading: float = 0.0
    speed: float = 0.0

    @property
    def mode(self) -> Mode:
        return self.line.mode


def _trip_junctions(line: LineDef, direction: int) -> list[tuple[float, str, str]]:
    """(distance along the trip, junction id, approach phase) in the order the trip meets them."""
    if direction == 0:
        return [(j.distance_m, j.junction_id, j.phases[0]) for j in line.junctions]
    return [(line.length - j.distance_m, j.junction_id, j.phases[1]) for j in reversed(line.junctions)]


@dataclass
class TransitSim:
    """Every line's vehicles and every junction, stepped together. `start` is the unix time of
    simulation second 0 (events and statistics are stamped start + t)."""

    network: TransitNetwork
    seed: int
    start: float
    t: float = 0.0
    vehicles: list[Vehicle] = field(default_factory=list)
    log: ChangeLog[PriorityEvent] = field(default_factory=lambda: ChangeLog(PRIORITY_HISTORY))
    stats: CorridorStats = field(default_factory=CorridorStats)
    active: dict[str, PriorityEvent] = field(default_factory=dict)  # vehicle -> latest request event
    listener: Callable[[list[PriorityEvent]], None] | None = None
    _trip_j: dict[tuple[str, int], list[tuple[float, str, str]]] = field(default_factory=dict)
    _dists: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    _last_pass: dict[tuple[str, int, int], float] = field(default_factory=dict)
    _congestion: dict[str, list[float]] = field(default_factory=dict)
    _preempted: dict[str, tuple[str, str]] = field(default_factory=dict)  # junction -> (unit, incident)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed * 31_337 + 5)
        for line in self.network.lines.values():
            for d in (0, 1):
                self._trip_j[(line.id, d)] = _trip_junctions(line, d)
                self._dists[(line.id, d)] = line.stop_distances(d)
            # Congestion knots every 15 minutes over a day: the line's speed factor.
            lr = random.Random(f"{self.seed}:{line.id}")
            self._congestion[line.id] = [lr.uniform(0.72, 1.04) for _ in range(97)]
            prefix = {Mode.BUS: "bus", Mode.TRAM: "tram", Mode.SHUTTLE: "shu"}[line.mode]
            label = {Mode.BUS: "Bus", Mode.TRAM: "Tram", Mode.SHUTTLE: "Navette santé"}[line.mode]
            for k in range(line.vehicles):
                v = Vehicle(
                    f"{prefix}-{line.id}-{k + 1:02d}",
                    f"{label} {line.id} {k + 1:02d}",
                    line,
                    MODE_CLASS[line.mode],
                    random.Random(rng.getrandbits(63)),
                )
                self._place(v, (k * line.headway_s) % line.cycle_s)
                self.vehicles.append(v)
        self.by_id = {v.id: v for v in self.vehicles}

    # --- set-up -----------------------------------------------------------------------------------

    def _place(self, v: Vehicle, p: float) -> None:
        """Put the vehicle where its timetable has it at cycle position p (at t = 0)."""
        line = v.line
        half = line.one_way_s + line.layover_s
        v.direction = 0 if p < half else 1
        q = p - v.direction * half
        v.trip_start = -q
        if q >= line.one_way_s:  # in its layover at the far end
            v.direction = 1 - v.direction
            v.state = "layover"
            v.trip_start = v.next_departure = half - q
            v.s = 0.0
        else:
            dists = self._dists[(line.id, v.direction)]
            offs = line.offsets[v.direction]
            k = max((i for i in range(len(offs)) if offs[i] <= q), default=0)
            v.s = dists[k]
            if k + 1 < len(dists):
                span = offs[k + 1] - offs[k]
                f = min(1.0, max(0.0, (q - offs[k]) / span)) if span > 0 else 0.0
                v.s += (dists[k + 1] - dists[k]) * f * 0.9
            v.stop_i = k + 1 if v.s > dists[k] else k
            v.junc_i = sum(1 for jd, _, _ in self._trip_j[(line.id, v.direction)] if jd <= v.s)
        v.pace = v.rng.gauss(1.0, 0.05)
        self._locate(v)

    # --- time -------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Run `seconds` of simulation (whole steps; the remainder waits for the next call)."""
        steps = int((self.t + seconds) // DT - self.t // DT)
        for _ in range(max(0, steps)):
            self.step()

    def step(self) -> None:
        t = self.t
        for jid, j in self.network.junctions.items():
            was = j.preempt_phase
            j.step(t, DT)
            if was and not j.preempt_phase:
                unit, _ = self._preempted.pop(jid, ("", ""))
                self._emit(EventKind.PREEMPTION_END, j, unit, "", VehicleClass.EMERGENCY)
        for v in self.vehicles:
            self._move(v)
        self.t = t + DT

    def now(self) -> float:
        return self.start + self.t

    def _speed(self, v: Vehicle) -> float:
        line = v.line
        knots = self._congestion[line.id]
        h = (self.t / 900.0) % 96
        i = int(h)
        c = knots[i] + (knots[i + 1] - knots[i]) * (h - i)
        if v.mode is Mode.TRAM:
            c = 0.95 + 0.05 * c  # own track: little traffic
        x = v.s if v.direction == 0 else line.length - v.s
        return line.speeds[line.leg_at(x)] * c * v.pace

    def _move(self, v: Vehicle) -> None:
        t = self.t
        line = v.line
        if v.state == "layover":
            if t < v.next_departure:
                v.deviation = 0.0  # waiting for its departure: on time until then
                return
            v.state, v.s, v.stop_i, v.junc_i = "running", 0.0, 1, 0
            v.signal_delay = 0.0
            v.pace = max(0.8, min(1.2, v.rng.gauss(1.0, 0.06)))
        if v.state in ("dwelling", "held"):
            if t < max(v.leave_at, v.hold_until):
                v.state = "held" if v.hold_until > v.leave_at and t >= v.leave_at else v.state
                self._deviation(v)
                return
            if v.hold_s and v.hold_until > 0:
                v.hold_s, v.hold_until = 0, 0.0
            v.state = "running"
        dists = self._dists[(line.id, v.direction)]
        juncs = self._trip_j[(line.id, v.direction)]
        speed = self._speed(v)
        target = v.s + speed * DT
        v.speed = speed
        while True:
            jd = juncs[v.junc_i][0] if v.junc_i < len(juncs) else math.inf
            sd = dists[v.stop_i] if v.stop_i < len(dists) else math.inf
            if jd < math.inf and not v.checked_in and jd - v.s <= CHECK_IN_M:
                self._check_in(v, juncs[v.junc_i], speed, sd)
            if target < min(jd, sd):
                v.s = target
                v.state = "running"
                break
            if jd <= sd:
                _, jid, phase = juncs[v.junc_i]
                if self.network.junctions[jid].is_green(phase):
                    self._clear(v, jid)
                    v.junc_i += 1
                    continue
                v.s = jd
                v.state = "waiting_signal"
                v.wait_here += DT
                v.signal_delay += DT
                v.speed = 0.0
                break
            v.s = sd
            self._arrive(v)
            break
        if v.state != "layover":
            self._deviation(v)
        self._locate(v)

    def _deviation(self, v: Vehicle) -> None:
        v.deviation = (self.t - v.trip_start) - v.line.scheduled_offset(v.direction, v.s)

    def _locate(self, v: Vehicle) -> None:
        v.x, v.y, v.heading = v.line.position(v.direction, v.s)

    def _arrive(self, v: Vehicle) -> None:
        """At stop v.stop_i: headway, boarding, a hold, a skip, or the end of the trip."""
        line, t = v.line, self.t
        k = v.stop_i
        self._deviation(v)
        key = (line.id, v.direction, k)
        last = self._last_pass.get(key)
        self._last_pass[key] = t
        if last is not None:
            v.headway_ahead = t - last
            self._bunching(v)
        self.stats.stop_passed(self.now(), line.id, v.cls, v.deviation)
        v.stop_i += 1
        if k == len(self._dists[(line.id, v.direction)]) - 1:  # the terminus
            v.state = "layover"
            v.direction = 1 - v.direction
            v.s, v.stop_i, v.junc_i = 0.0, 0, 0
            scheduled = v.trip_start + line.one_way_s + line.layover_s
            v.next_departure = max(scheduled, t + MIN_LAYOVER_S)  # a late arrival leaves late
            v.trip_start = scheduled
            v.skip_k = -1
            return
        if k == v.skip_k:
            v.skip_k = -1
            return
        waiting = v.headway_ahead if last is not None else line.headway_s
        pax = _poisson(v.rng, PAX_PER_S[line.mode] * min(waiting, 3 * line.headway_s))
        v.leave_at = t + BASE_DWELL_S[line.mode] + BOARD_S[line.mode] * pax
        v.state = "dwelling"
        if v.hold_pending_s:
            v.hold_until = t + v.hold_pending_s
            v.hold_pending_s = 0

    def _bunching(self, v: Vehicle) -> None:
        if v.mode is Mode.SHUTTLE:
            return
        h, planned = v.headway_ahead, v.line.headway_s
        if h < BUNCH_RATIO * planned:
            v.alarm = "bunching"
        elif h > GAP_RATIO * planned:
            v.alarm = "service gap"
        elif (
            v.alarm == "bunching"
            and h >= BUNCH_CLEAR * planned
            or v.alarm == "service gap"
            and h <= GAP_CLEAR * planned
        ):
            v.alarm = ""

    # --- priority ---------------------------------------------------------------------------------

    def _check_in(self, v: Vehicle, junc: tuple[float, str, str], speed: float, next_stop: float) -> None:
        jd, jid, phase = junc
        j = self.network.junctions[jid]
        v.checked_in = jid
        v.wait_here = 0.0
        v.grant = None
        if not j.enabled or v.cls not in (VehicleClass.BUS, VehicleClass.SHUTTLE):
            return
        eta = (jd - v.s) / max(speed, 1.0)
        if next_stop < jd:
            eta += BASE_DWELL_S[v.mode] + 10.0  # a near-side stop first
        late = round(v.deviation)
        self._emit(EventKind.CHECK_IN, j, v.id, v.line.id, v.cls, lateness_s=late)
        self.stats.request(self.now(), v.line.id, v.cls)
        predicted = j.plan.wait_at(phase, j.clock + eta)
        d = j.decide(self.t, v.id, phase, eta, v.line.id, v.cls, v.deviation)
        if not d.granted:
            self._emit(EventKind.DENIED, j, v.id, v.line.id, v.cls, reason=d.reason, lateness_s=late)
            self.stats.denial(self.now(), v.line.id, v.cls, jid)
            return
        if not d.needed:
            return
        v.grant = (jid, predicted, d.strategy)
        self._emit(
            EventKind.GRANTED,
            j,
            v.id,
            v.line.id,
            v.cls,
            strategy=d.strategy,
            lateness_s=late,
            cross=d.cross_delay_s,
        )
        self.stats.grant(self.now(), v.line.id, v.cls, jid, d.cross_delay_s)

    def _clear(self, v: Vehicle, jid: str) -> None:
        """Past the stop line: check out (the junction ends an extension held for it)."""
        j = self.network.junctions[jid]
        self.stats.signal_wait(self.now(), v.line.id, v.cls, v.wait_here)
        if v.checked_in == jid and j.enabled and v.cls in (VehicleClass.BUS, VehicleClass.SHUTTLE):
            saved = 0.0
            if v.grant is not None and v.grant[0] == jid:
                saved = max(0.0, v.grant[1] - v.wait_here)
                self.stats.saved(self.now(), v.line.id, v.cls, saved)
            j.check_out(v.id)
            self._emit(
                EventKind.CHECK_OUT, j, v.id, v.line.id, v.cls, saved=saved, lateness_s=round(v.deviation)
            )
        v.checked_in = ""
        v.grant = None
        v.wait_here = 0.0

    def _emit(
        self,
        kind: EventKind,
        j: Junction,
        vehicle: str,
        line: str,
        cls: VehicleClass,
        strategy: Strategy = Strategy.NONE,
        reason: str = "",
        lateness_s: int = 0,
        saved: float = 0.0,
        cross: float = 0.0,
    ) -> None:
        e = PriorityEvent(
            self.log.last + 1,
            kind,
            self.now(),
            j.id,
            vehicle,
            line,
            cls,
            strategy,
            reason,
            lateness_s,
            round(saved, 1),
            round(cross, 1),
            j.lat,
            j.lon,
        )
        self.log.append([e])
        if kind in (EventKind.CHECK_OUT, EventKind.PREEMPTION_END):
            self.active.pop(vehicle or j.id, None)
        else:
            self.active[vehicle or j.id] = e
        if self.listener is not None:
            self.listener([e])

    # --- preemption and regulation ----------------------------------------------------------------

    def preempt(
        self,
        route: list[tuple[float, float]],
        duration_s: float,
        unit: str,
        incident: str,
        near_m: float = 30.0,
    ) -> list[str]:
        """Force green along a route (local metres) for every junction within near_m of it."""
        return self.preempt_junctions(self.junctions_along(route, near_m), duration_s, unit, incident)

    def junctions_along(
        self, route: list[tuple[float, float]], near_m: float = 30.0
    ) -> list[tuple[str, str]]:
        """(junction, the route's phase there) in route order, for every junction within near_m
        of the route. Reads only the junctions' fixed positions: may run in a worker thread."""
        found: list[tuple[float, str, str]] = []
        along = 0.0
        for (x0, y0), (x1, y1) in zip(route, route[1:], strict=False):
            seg = math.hypot(x1 - x0, y1 - y0)
            for jid, j in self.network.junctions.items():
                jx, jy = self._xy_of(j)
                f = (
                    0.0
                    if seg == 0
                    else max(0.0, min(1.0, ((jx - x0) * (x1 - x0) + (jy - y0) * (y1 - y0)) / seg**2))
                )
                near = math.hypot(x0 + f * (x1 - x0) - jx, y0 + f * (y1 - y0) - jy) <= near_m
                if near and all(jid != g[1] for g in found):
                    found.append((along + f * seg, jid, phase_of(x1 - x0, y1 - y0)))
            along += seg
        found.sort()
        return [(jid, phase) for _, jid, phase in found]

    def preempt_junctions(
        self, found: list[tuple[str, str]], duration_s: float, unit: str, incident: str
    ) -> list[str]:
        """Hold each (junction, phase) green for duration_s, for `unit` (of `incident`)."""
        for jid, phase in found:
            j = self.network.junctions[jid]
            j.preempt(phase, self.t + duration_s)
            self._preempted[jid] = (unit, incident)
            self._emit(
                EventKind.PREEMPTION_START,
                j,
                unit,
                "",
                VehicleClass.EMERGENCY,
                strategy=Strategy.PREEMPTION,
                reason=f"incident {incident}" if incident else "",
            )
        return [jid for jid, _ in found]

    def end_preemption(self, unit: str) -> list[str]:
        """End `unit`'s preemptions now (it has arrived): the next step gives the junctions back
        to their plans and reports each end."""
        ids = [jid for jid, (u, _) in self._preempted.items() if u == unit]
        for jid in ids:
            self.network.junctions[jid].preempt_until = self.t
        return ids

    def preempted_by(self, unit: str) -> list[str]:
        return [jid for jid, (u, _) in self._preempted.items() if u == unit]

    def _xy_of(self, j: Junction) -> tuple[float, float]:
        from vigie.backend.adapters.simulator.city import to_xy

        return to_xy(j.lat, j.lon)

    def _tram(self, vehicle_id: str) -> Vehicle:
        v = self.by_id.get(vehicle_id)
        if v is None:
            raise RegulationError(f"no transit vehicle {vehicle_id!r}")
        if v.mode is not Mode.TRAM:
            raise RegulationError(f"{vehicle_id} is not a tram: regulation is for trams")
        return v

    def hold(self, vehicle_id: str, seconds: int) -> str:
        """Hold at the station it is at, or at the next one, for `seconds`."""
        v = self._tram(vehicle_id)
        if not 1 <= seconds <= MAX_HOLD_S:
            raise RegulationError(f"a hold is 1..{MAX_HOLD_S} s (got {seconds})")
        v.hold_s = seconds
        if v.state in ("dwelling", "held"):
            v.hold_until = self.t + seconds
            return f"held {seconds} s at {v.line.stop_in(v.direction, v.stop_i - 1).name}"
        v.hold_pending_s = seconds
        if v.state == "layover":
            return f"will be held {seconds} s at its first station"
        return f"will be held {seconds} s at {v.line.stop_in(v.direction, v.stop_i).name}"

    def release(self, vehicle_id: str) -> str:
        v = self._tram(vehicle_id)
        v.hold_until, v.hold_pending_s, v.hold_s = 0.0, 0, 0
        return "released"

    def skip(self, vehicle_id: str, stop_id: str) -> str:
        v = self._tram(vehicle_id)
        n = len(v.line.stops)
        for k in range(v.stop_i, n - 1):
            if v.line.stop_in(v.direction, k).id == stop_id:
                v.skip_k = k
                return f"will pass {v.line.stop_in(v.direction, k).name} without stopping"
        ahead = [v.line.stop_in(v.direction, k).id for k in range(v.stop_i, n - 1)]
        raise RegulationError(
            f"station {stop_id[:40]!r} is not ahead of {vehicle_id} on this trip"
            + (f" (ahead: {', '.join(ahead[:6])})" if ahead else " (it is at its last stations)")
        )

    def stations_ahead(self, v: Vehicle) -> list[str]:
        """A tram's stations it may still skip on this trip (what `skip` accepts), in order."""
        if v.mode is not Mode.TRAM:
            return []
        return [v.line.stop_in(v.direction, k).id for k in range(v.stop_i, len(v.line.stops) - 1)]

    def skip_stop_id(self, v: Vehicle) -> str:
        return v.line.stop_in(v.direction, v.skip_k).id if v.skip_k >= 0 else ""


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
