"""The simulated city device network: publishes a generated Dijon and keeps it alive.

One asyncio task ticks every `tick_s`: vehicles drive along the road graph, devices fail and
recover (Poisson arrivals, kind-specific reasons), bays fill and empty, and a trickle of
periodic reports refreshes `last_seen`. Event decisions depend only on the seed and the tick
number (timestamps are wall clock), so a seed replays the same story. Anomalies are recorded
so telemetry shows them (a "pressure low" sensor really loses pressure from that moment).
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vigie.backend.adapters.base import (
    CameraInfo,
    DeviceAnswer,
    DeviceCommand,
    DeviceNetwork,
    PtzAction,
    PtzCommand,
    PtzError,
    PtzState,
    Series,
    VideoSource,
)
from vigie.backend.adapters.simulator import telemetry
from vigie.backend.adapters.simulator.actuators import Actuators
from vigie.backend.adapters.simulator.city import (
    City,
    bearing_deg,
    district_index,
    district_names,
    generate_city,
    pick_reason,
    to_latlon,
    to_xy,
)
from vigie.backend.adapters.simulator.people import BadgeTraffic, generate_people
from vigie.backend.adapters.simulator.ptz import PtzHead
from vigie.backend.adapters.simulator.steering import Steering
from vigie.backend.adapters.simulator.telemetry import Anomaly, asset_seed
from vigie.backend.adapters.simulator.transit.feed import TransitFeed
from vigie.backend.adapters.simulator.video import SyntheticCamera
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.access import Cardholder
from vigie.backend.domain.assets import Asset, Kind, MetricInfo, Status
from vigie.backend.domain.revlog import AssetStore

log = logging.getLogger(__name__)

FAULTS_PER_MIN = 3.0  # city-wide at the default size (~5,800 devices); scales with the device count
DEFAULT_SIZE = 5800
BOLLARD_MOVES_PER_MIN = 2.0
LOCK_CHANGES_PER_MIN = 1.0
REPORT_SHARE = 0.005  # share of online devices whose periodic report lands in each tick
SUBTICK_S = 0.05
MEAN_DURATION_S = {
    Status.OFFLINE: 240.0,
    Status.WARNING: 360.0,
    Status.FAULT: 900.0,
    Status.MAINTENANCE: 1200.0,
}
ANOMALY_HISTORY = 20  # past episodes kept per asset, so history charts still show them


@dataclass(slots=True)
class _Vehicle:
    index: int  # into CitySimulator._current
    seed: int
    fleet: str
    rng: random.Random
    node_from: int
    node_to: int
    edge: int
    travelled_m: float


class CitySimulator(DeviceNetwork):
    """A deterministic (per seed) city of ~5,800 devices; `change_rate` adds benchmark churn.

    `events=False` keeps the devices still (no spontaneous faults, recoveries, bollard or door
    operation, periodic reports): they change only when commanded, which tests need.
    `command_failure_rate` is the seeded share of commands the devices fail (actuators.py)."""

    name = "simulator"

    def __init__(
        self,
        seed: int = 1,
        lights: int = 5000,
        change_rate: float = 0.0,
        tick_s: float = 1.0,
        vehicles: int = 60,
        churn_status: bool = False,
        events: bool = True,
        command_failure_rate: float = 0.03,
        badge_rate: float = 0.5,
        transit: bool = False,
        transit_speed: float = 1.0,
    ) -> None:
        """`badge_rate`: badges presented at doors per second city-wide (people.py); `transit`
        runs buses, trams and health shuttles (transit/), `transit_speed` simulated seconds of
        transit per real second."""
        self.churn_status = churn_status
        self.events = events
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        self.seed = seed
        self.lights = lights
        self.change_rate = max(0.0, float(change_rate))
        self.tick_s = float(tick_s)
        self.city: City = generate_city(seed, lights, vehicles)
        self._current: list[Asset] = list(self.city.assets)
        self._index: dict[str, int] = {a.id: i for i, a in enumerate(self._current)}
        self._seeds: dict[str, int] = {}
        self._anomalies: dict[str, list[Anomaly]] = {}
        self._recoveries: list[tuple[int, int, str]] = []  # (tick number, sequence, asset id)
        self._rng = random.Random(seed * 1_000_003 + 17)
        self._churn_rng = random.Random(seed * 7_919 + 3)
        self._candidates = [i for i, a in enumerate(self._current) if a.kind is not Kind.VEHICLE]
        self._by_kind: dict[Kind, list[int]] = {}
        for i, a in enumerate(self._current):
            self._by_kind.setdefault(a.kind, []).append(i)
        self._vehicles: list[_Vehicle] = []
        self._store: AssetStore | None = None
        self._task: asyncio.Task | None = None
        self._tick_no = 0
        self._seq = 0
        self._last_tick: float | None = None
        self._bay_block = -1
        self.published_changes = 0  # every asset state published since start (for benchmarks)
        self._ptz: dict[str, PtzHead] = {}  # per PTZ camera, created on first use, shared by viewers
        self.actuators = Actuators(self, seed, command_failure_rate)
        self.badges = BadgeTraffic(generate_people(seed), seed, badge_rate)
        self.steering: dict[str, Steering] = {}  # vehicles driven to an incident (dispatch)
        # Buses, trams and shuttles: their own assets after the city's (never patrolling units).
        self.transit: TransitFeed | None = None
        self._transit_index: list[int] = []
        if transit:
            self.transit = TransitFeed(self.city, seed, transit_speed, time.time())
            self.transit.tag_junctions(self._current)
            for a in self.transit.initial_assets():
                self._index[a.id] = len(self._current)
                self._transit_index.append(len(self._current))
                self._current.append(a)

    # --- DeviceNetwork ------------------------------------------------------------------------------

    async def start(self, store: AssetStore) -> None:
        self.begin(store, time.time())
        self._task = asyncio.get_running_loop().create_task(self._run(), name="city-simulator")
        self.badges.start(lambda: [self._current[i] for i in self._by_kind.get(Kind.ACCESS_POINT, [])])

    def cardholders(self) -> list[Cardholder]:
        return list(self.badges.people)

    def on_badge(self, listener: Callable[[str, str, float], None] | None) -> None:
        self.badges.listener = listener

    def basemap(self) -> dict[str, dict]:
        return self.city.geojson_layers()

    async def stop(self) -> None:
        self.actuators.stop()
        await self.badges.stop()
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    def metrics(self, asset_id: str) -> list[MetricInfo]:
        i = self._index.get(asset_id)
        return [] if i is None else telemetry.metrics_for(self._current[i].kind)

    def telemetry(
        self, asset_id: str, metric: str, start: float, end: float, max_points: int
    ) -> list[Series]:
        i = self._index.get(asset_id)
        if i is None or end < start:
            return []
        a = self._current[i]
        return telemetry.series(
            a.kind,
            self._seed(asset_id),
            metric,
            start,
            end,
            max_points,
            a.attributes,
            self._anomalies.get(asset_id, ()),
        )

    def open_video(self, camera_id: str, width: int, height: int, max_fps: float) -> VideoSource | None:
        i = self._index.get(camera_id)
        if i is None or self._current[i].kind is not Kind.CAMERA:
            return None
        a = self._current[i]
        return SyntheticCamera(camera_id, a.name, width, height, max_fps, ptz=self._head(camera_id))

    def camera_info(self, camera_id: str) -> CameraInfo | None:
        i = self._index.get(camera_id)
        if i is None or self._current[i].kind is not Kind.CAMERA:
            return None
        head = self._head(camera_id)
        return CameraInfo("simulated", presets=head.presets if head is not None else ())

    def ptz(self, camera_id: str, command: PtzCommand) -> tuple[PtzState, str]:
        i = self._index.get(camera_id)
        if i is None or self._current[i].kind is not Kind.CAMERA:
            raise PtzError("not_found", f"no camera with id {camera_id!r}")
        head = self._head(camera_id)
        if head is None:
            raise PtzError("failed_precondition", f"camera {camera_id!r} is a fixed camera (no PTZ)")
        result = head.apply(command)
        # The camera reports the preset it is at; moving by hand leaves it.
        attrs = self._current[i].attributes
        if command.action is PtzAction.GOTO_PRESET:
            if attrs.get("preset") != str(command.preset):
                self.update_device(camera_id, attributes=dict(attrs, preset=str(command.preset)))
        elif command.action is PtzAction.MOVE and "preset" in attrs:
            self.update_device(camera_id, attributes={k: v for k, v in attrs.items() if k != "preset"})
        return result

    def knows(self, asset_id: str) -> bool:
        return asset_id in self._index

    async def command(self, command: DeviceCommand) -> DeviceAnswer:
        return await self.actuators.command(command)

    def _head(self, camera_id: str) -> PtzHead | None:
        """The camera's shared PTZ head (None for fixed cameras)."""
        head = self._ptz.get(camera_id)
        if head is None:
            a = self._current[self._index[camera_id]]
            if a.attributes.get("ptz") != "true":
                return None
            head = self._ptz[camera_id] = PtzHead(a.heading_deg)
        return head

    # --- public helpers -----------------------------------------------------------------------------

    def device(self, asset_id: str) -> Asset | None:
        """A device's current state (None: not one of ours)."""
        i = self._index.get(asset_id)
        return None if i is None else self._current[i]

    def ptz_head(self, camera_id: str) -> PtzHead | None:
        return self._head(camera_id) if self.device(camera_id) is not None else None

    def update_device(self, asset_id: str, **changes) -> Asset:
        """The device reports a new state (published at once)."""
        i = self._index[asset_id]
        out: list[Asset] = []
        b = self._set(i, _copy(self._current[i], **changes), out)
        self._publish(out)
        return b

    def transit_report(self, asset_id: str, attributes: dict[str, str]) -> None:
        """A junction or transit vehicle reports the state a command gave it (vehicles report
        their whole state from the transit simulation)."""
        a = self.device(asset_id)
        if a is None:
            return
        if a.kind is Kind.VEHICLE and self.transit is not None:
            self.update_device(asset_id, attributes=self.transit.asset_of(asset_id, time.time()).attributes)
            return
        self.update_device(asset_id, last_seen=time.time(), attributes=dict(a.attributes, **attributes))

    def fault_device(self, asset_id: str, reason: str, attributes: dict[str, str]) -> None:
        """The device reports a fault (recorded for telemetry; it recovers like any other)."""
        now = time.time()
        self._record(asset_id, Anomaly(now, None, Status.FAULT, reason))
        self._schedule_recovery(asset_id, Status.FAULT)
        self.update_device(
            asset_id, status=Status.FAULT, status_reason=reason, last_seen=now, attributes=attributes
        )

    def steer(
        self,
        vehicle_id: str,
        points: list[tuple[float, float]],
        speeds_mps: list[float],
        speedup: float = 1.0,
    ) -> None:
        """Drive a vehicle along a route ((lat, lon) points, a speed per leg) instead of its
        patrol, until `release` (backend/dispatch_sim.py sends crews this way)."""
        self.steering[vehicle_id] = Steering([to_xy(lat, lon) for lat, lon in points], speeds_mps, speedup)

    def release(self, vehicle_id: str) -> None:
        """Back to its patrol, from the junction nearest to where it is."""
        if self.steering.pop(vehicle_id, None) is None:
            return
        i = self._index[vehicle_id]
        for k, v in enumerate(self._vehicles):
            if v.index == i:
                self._vehicles[k] = self._init_vehicle(i)

    def repair(self, asset_id: str) -> bool:
        """A crew repaired the device: it reports OK now (False: it was not faulty)."""
        i = self._index.get(asset_id)
        if i is None or self._current[i].status is Status.OK:
            return False
        now = time.time()
        self._close_anomaly(asset_id, now)
        self.update_device(asset_id, status=Status.OK, status_reason="", last_seen=now)
        return True

    def anomalies(self, asset_id: str) -> list[Anomaly]:
        """The asset's recorded status episodes (most recent last)."""
        return list(self._anomalies.get(asset_id, ()))

    def begin(self, store: AssetStore, now: float) -> None:
        """Publish the initial city at `now` (start() without the ticking task; used by tests)."""
        self._store = store
        rng = self._rng
        bay_block = math.floor(now / telemetry.BAY_BLOCK_S)
        self._bay_block = bay_block
        initial: list[Asset] = []
        for i, a in enumerate(self._current):
            attrs = a.attributes
            if a.kind is Kind.DELIVERY_BAY:
                attrs = dict(attrs, occupied=_bool(telemetry.bay_occupied(self._seed(a.id), now)))
            seen = now - rng.uniform(0, 300)
            if a.status is not Status.OK:
                started = now - rng.uniform(300, 7200)
                self._anomalies[a.id] = [Anomaly(started, None, a.status, a.status_reason)]
                self._schedule_recovery(a.id, a.status)
                if a.status is Status.OFFLINE:
                    seen = started
            b = _copy(a, last_seen=seen, attributes=attrs)
            self._current[i] = b
            initial.append(b)
        self._vehicles = [self._init_vehicle(i) for i in self._by_kind.get(Kind.VEHICLE, [])]
        if self.transit is not None:
            self.transit.sim.start = now
        self._last_tick = now
        self._publish(initial)

    def tick(self, now: float) -> None:
        """One simulation step at wall-clock time `now`; what happens depends on the tick number."""
        self._tick_no += 1
        dt = min(5.0, max(0.0, now - self._last_tick)) if self._last_tick is not None else self.tick_s
        self._last_tick = now
        out: list[Asset] = []
        self._move_vehicles(now, dt, out)
        if self.transit is not None:
            self.transit.advance(dt, self.device)
            for i, a in zip(self._transit_index, self.transit.assets(now), strict=True):
                self._set(i, a, out)
        if self.events:
            self._recover_due(now, out)
            self._random_events(now, out)
        self._update_bays(now, out)
        if self.events:
            self._reports(now, out)
        self._publish(out)

    def churn(self, n: int, now: float) -> None:
        """Benchmark load: refresh last_seen of n random devices (or, with churn_status, flip them
        between OK and WARNING, as flapping sensors do). Kept to ~1 µs of Python each."""
        flip = self.churn_status
        cur = self._current
        pool = self._candidates
        m = len(pool)
        rnd = self._churn_rng.random
        out = []
        append = out.append
        for _ in range(n):
            i = pool[int(rnd() * m)]
            a = cur[i]
            b = Asset(
                a.id,
                a.kind,
                a.name,
                a.district,
                a.lat,
                a.lon,
                (Status.WARNING if a.status is Status.OK else Status.OK) if flip else a.status,
                ("benchmark: flapping" if a.status is Status.OK else "") if flip else a.status_reason,
                now,
                a.heading_deg,
                a.attributes,
                0,
            )
            cur[i] = b
            append(b)
        if out and self._store is not None:
            self._store.publish(out)
            self.published_changes += len(out)

    # --- the loop -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.tick_s
        last = loop.time()
        owed = 0.0
        while True:
            now_l = loop.time()
            wake = min(next_tick, now_l + SUBTICK_S) if self.change_rate > 0 else next_tick
            await asyncio.sleep(max(0.0, wake - now_l))
            now_l = loop.time()
            try:
                if self.change_rate > 0:
                    owed += self.change_rate * (now_l - last)
                    last = now_l
                    n = min(int(owed), int(self.change_rate * 0.5) + 1)  # never burst more than 0.5 s
                    owed = min(owed - n, self.change_rate)
                    if n > 0:
                        self.churn(n, time.time())
                if now_l >= next_tick:
                    self.tick(time.time())
                    next_tick += self.tick_s
                    if next_tick < now_l:
                        next_tick = now_l + self.tick_s
            except Exception:  # keep the city alive: one bad tick must not stop the simulation
                log.exception("simulator tick failed")

    # --- internals ----------------------------------------------------------------------------------

    def _seed(self, asset_id: str) -> int:
        s = self._seeds.get(asset_id)
        if s is None:
            s = self._seeds[asset_id] = asset_seed(self.seed, asset_id)
        return s

    def _publish(self, assets: list[Asset]) -> None:
        if assets and self._store is not None:
            self._store.publish(assets)
            self.published_changes += len(assets)

    def _set(self, i: int, asset: Asset, out: list[Asset]) -> Asset:
        self._current[i] = asset
        out.append(asset)
        return asset

    def _schedule_recovery(self, asset_id: str, status: Status) -> None:
        duration = self._rng.expovariate(1.0 / MEAN_DURATION_S.get(status, 600.0))
        due = self._tick_no + max(1, round(duration / self.tick_s))
        self._seq += 1
        heapq.heappush(self._recoveries, (due, self._seq, asset_id))

    def _record(self, asset_id: str, anomaly: Anomaly) -> None:
        history = self._anomalies.setdefault(asset_id, [])
        history.append(anomaly)
        if len(history) > ANOMALY_HISTORY:
            del history[0]

    def _close_anomaly(self, asset_id: str, now: float) -> None:
        history = self._anomalies.get(asset_id)
        if history and history[-1].end is None:
            history[-1] = dataclasses.replace(history[-1], end=now)

    def _recover_due(self, now: float, out: list[Asset]) -> None:
        while self._recoveries and self._recoveries[0][0] <= self._tick_no:
            _, _, asset_id = heapq.heappop(self._recoveries)
            i = self._index[asset_id]
            a = self._current[i]
            if a.status is Status.OK:
                continue
            self._close_anomaly(asset_id, now)
            attrs = a.attributes
            if a.kind is Kind.BOLLARD and "stuck" in a.status_reason:
                attrs = dict(attrs, position="raised")
            self._set(i, _copy(a, status=Status.OK, status_reason="", last_seen=now, attributes=attrs), out)

    def _random_events(self, now: float, out: list[Asset]) -> None:
        rng = self._rng
        scale = len(self._candidates) / DEFAULT_SIZE
        for _ in range(_poisson(rng, FAULTS_PER_MIN / 60.0 * scale * self.tick_s)):
            i = self._candidates[rng.randrange(len(self._candidates))]
            a = self._current[i]
            if a.status is not Status.OK:
                continue
            status, reason = pick_reason(rng, a.kind)
            self._record(a.id, Anomaly(now, None, status, reason))
            self._schedule_recovery(a.id, status)
            attrs = a.attributes
            if reason == "bollard stuck in raised position":
                attrs = dict(attrs, position="raised")
            elif reason == "bollard stuck in lowered position":
                attrs = dict(attrs, position="lowered")
            seen = a.last_seen if status is Status.OFFLINE else now
            self._set(i, _copy(a, status=status, status_reason=reason, last_seen=seen, attributes=attrs), out)
        self._toggle(Kind.BOLLARD, "position", ("raised", "lowered"), BOLLARD_MOVES_PER_MIN, now, out)
        self._toggle(Kind.ACCESS_POINT, "lock", ("locked", "unlocked"), LOCK_CHANGES_PER_MIN, now, out)

    def _toggle(
        self, kind: Kind, attr: str, values: tuple[str, str], per_min: float, now: float, out: list[Asset]
    ) -> None:
        """Ordinary operation of healthy devices (bollards rising/lowering, doors locking)."""
        pool = self._by_kind.get(kind)
        if not pool:
            return
        for _ in range(_poisson(self._rng, per_min / 60.0 * self.tick_s)):
            i = pool[self._rng.randrange(len(pool))]
            a = self._current[i]
            if a.status is not Status.OK or a.id in self.actuators.controlled:
                continue
            value = values[1] if a.attributes.get(attr) == values[0] else values[0]
            self._set(i, _copy(a, last_seen=now, attributes=dict(a.attributes, **{attr: value})), out)

    def _update_bays(self, now: float, out: list[Asset]) -> None:
        """Bays follow the telemetry model's 5-minute occupancy blocks, so map and chart agree."""
        block = math.floor(now / telemetry.BAY_BLOCK_S)
        if block == self._bay_block:
            return
        self._bay_block = block
        for i in self._by_kind.get(Kind.DELIVERY_BAY, []):
            a = self._current[i]
            if a.status is Status.OFFLINE:
                continue
            occupied = _bool(telemetry.bay_occupied(self._seed(a.id), now))
            if a.attributes.get("occupied") != occupied:
                self._set(i, _copy(a, last_seen=now, attributes=dict(a.attributes, occupied=occupied)), out)

    def _reports(self, now: float, out: list[Asset]) -> None:
        n = max(1, round(REPORT_SHARE * len(self._candidates) * self.tick_s))
        rng = self._rng
        for _ in range(n):
            i = self._candidates[rng.randrange(len(self._candidates))]
            a = self._current[i]
            if a.status is not Status.OFFLINE:
                self._set(i, _copy(a, last_seen=now), out)

    # --- vehicles -----------------------------------------------------------------------------------

    def _init_vehicle(self, i: int) -> _Vehicle:
        a = self._current[i]
        city = self.city
        xy = to_xy(a.lat, a.lon)
        d = (city.nodes[:, 0] - xy[0]) ** 2 + (city.nodes[:, 1] - xy[1]) ** 2
        node = int(np.argmin(d))
        seed = self._seed(a.id)
        rng = random.Random(seed)
        edge = rng.choice(city.adjacency[node])
        s = city.streets[edge]
        return _Vehicle(
            i, seed, a.attributes.get("fleet", "police"), rng, node, s.v if s.u == node else s.u, edge, 0.0
        )

    def _move_vehicles(self, now: float, dt: float, out: list[Asset]) -> None:
        if not self._vehicles:
            return
        city = self.city
        nodes = city.nodes
        speeds = telemetry.vehicle_speeds(
            [v.seed for v in self._vehicles], [v.fleet for v in self._vehicles], now
        )
        moved: list[tuple[_Vehicle, Asset, float, float, float, float]] = []
        for v, speed in zip(self._vehicles, speeds.tolist(), strict=True):
            a = self._current[v.index]
            if a.status is Status.OFFLINE:
                continue
            steer = self.steering.get(a.id)
            if steer is not None:  # dispatched: on its route, not on patrol
                moved.append((v, a, *steer.advance(dt)))
                continue
            v.travelled_m += speed / 3.6 * dt
            length = city.streets[v.edge].length_m
            while v.travelled_m >= length:
                v.travelled_m -= length
                options = city.adjacency[v.node_to]
                onward = [e for e in options if e != v.edge] or options
                v.edge = v.rng.choice(onward)
                s = city.streets[v.edge]
                v.node_from, v.node_to = v.node_to, (s.v if s.u == v.node_to else s.u)
                length = s.length_m
            x0, y0 = nodes[v.node_from]
            x1, y1 = nodes[v.node_to]
            f = v.travelled_m / length if length > 0 else 0.0
            x, y = float(x0 + (x1 - x0) * f), float(y0 + (y1 - y0) * f)
            moved.append((v, a, x, y, bearing_deg(float(x0), float(y0), float(x1), float(y1)), speed))
        if not moved:
            return
        districts = district_names()
        idx = district_index(np.array([m[2] for m in moved]), np.array([m[3] for m in moved])).tolist()
        for (v, a, x, y, heading, speed), d in zip(moved, idx, strict=True):
            lat, lon = to_latlon(x, y)
            attrs = {
                "fleet": v.fleet,
                "callsign": a.attributes.get("callsign", a.name),
                "speed_kmh": f"{speed:.0f}",
            }
            b = Asset(
                a.id,
                a.kind,
                a.name,
                districts[d],
                lat,
                lon,
                a.status,
                a.status_reason,
                now,
                round(heading, 1),
                attrs,
                0,
            )
            self._set(v.index, b, out)


def _copy(a: Asset, **changes) -> Asset:
    """A new unpublished state (revision 0 so the store stamps it without another copy)."""
    return dataclasses.replace(a, revision=0, **changes)


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: lam is small here (events per tick)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


__all__ = ["CitySimulator"]
