"""The simulated city's own incidents: about `rate_per_day` of them (Poisson), some from the open
alarms (device faults, forced doors, low pressure, blocked bus lanes), the rest at random street
points; a new city starts with the last half hour's. The city dispatches its own incidents after a
short while with the first recommendation (retrying while no unit is free) and closes them a few
minutes after they are resolved. Incidents that people create are left to people.
(backend/dispatch_sim.py drives the crews; `speedup` divides every delay here too.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.dispatch import DispatchDesk
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Kind
from vigie.backend.domain.incident_types import BY_CODE, TYPE_FOR_CAUSE, TYPE_FOR_DEVICE
from vigie.backend.domain.incidents import Incident, IncidentError, IncidentStatus

log = logging.getLogger(__name__)

SIM_USER = "simulation"
TICK_S = 0.25
DISPATCH_DELAY_S = (15.0, 90.0)  # the simulated dispatcher's reaction to its own incidents
CLOSE_AFTER_S = 300.0  # the simulated supervisor closes the city's resolved incidents
BACKLOG_S, BACKLOG_MAX = 1800.0, 20  # incidents already open when a new city starts
FROM_ALARMS = 0.4  # share of generated incidents taken from open alarms
RANDOM_TYPES = (
    ("road_accident", 3),
    ("assistance_person", 3),
    ("public_order", 3),
    ("bus_lane_obstruction", 2),
    ("road_obstruction", 2),
    ("door_forced", 1),
)


class CityIncidents:
    def __init__(
        self,
        desk: DispatchDesk,
        alarms: AlarmEngine | None,
        rate_per_day: float = 500.0,
        speedup: float = 1.0,
        seed: int = 1,
    ) -> None:
        self.desk = desk
        self.alarms = alarms
        self.rate_per_day = max(0.0, rate_per_day)
        self.speedup = max(0.01, speedup)
        self.rng = random.Random(seed * 6_361 + 11)
        self._own_dispatch: dict[str, float] = {}  # the city's incident id -> when to dispatch it
        self._task: asyncio.Task[None] | None = None
        self._spawned: set[asyncio.Task[None]] = set()  # simulated dispatches under way

    def _s(self, span: tuple[float, float]) -> float:
        return self.rng.uniform(*span) / self.speedup

    async def start(self) -> None:
        now = time.monotonic()
        for inc in self.desk.book.open_incidents():
            if inc.source != "operator" and inc.status is IncidentStatus.NEW:
                self._own_dispatch[inc.id] = now + self._s(DISPATCH_DELAY_S)
        if self.rate_per_day > 0 and self.desk.book.next_id == 1:
            # A new city is not an idle one: the last half hour's incidents are open already.
            for _ in range(min(BACKLOG_MAX, round(self.rate_per_day * BACKLOG_S / 86_400))):
                self._generate()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="city-incidents")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._spawned) if t is not None]
        await cancel_and_wait(*tasks)
        self._task = None

    async def _run(self) -> None:
        next_incident = time.monotonic() + self._next_gap()
        while True:
            await asyncio.sleep(TICK_S)
            try:
                now = time.monotonic()
                self._dispatch_own(now)
                self._close_resolved()
                while now >= next_incident:
                    self._generate()
                    next_incident += self._next_gap()
            except Exception:  # one bad step must not stop the city
                log.exception("city incident step failed")

    def _next_gap(self) -> float:
        if self.rate_per_day <= 0:
            return math.inf
        return self.rng.expovariate(self.rate_per_day / 86_400.0)

    def _generate(self) -> None:
        inc = self._from_alarm() if self.rng.random() < FROM_ALARMS else None
        if inc is None:
            inc = self._random_incident()
        if inc is not None:
            self._own_dispatch[inc.id] = time.monotonic() + self._s(DISPATCH_DELAY_S)

    def _from_alarm(self) -> Incident | None:
        if self.alarms is None:
            return None
        linked = {a for i in self.desk.book.open_incidents() for a in i.alarm_ids}
        devices = {i.device_id for i in self.desk.book.open_incidents() if i.device_id}
        pool = []
        for al in self.alarms.open_alarms():
            if al.id in linked or al.asset_id in devices or not al.active:
                continue
            code = TYPE_FOR_CAUSE.get(al.cause)
            if code is None and al.cause == "device_fault":
                code = TYPE_FOR_DEVICE.get(al.asset_kind)
            if code is not None:
                pool.append((al, code))
        if not pool:
            return None
        al, code = self.rng.choice(pool)
        device = (
            al.asset_id
            if al.cause in ("device_fault", "pressure_low") and al.asset_kind is not Kind.VEHICLE
            else ""
        )
        return self.desk.create(
            code,
            min(al.priority + 1, 4) if code not in ("door_forced",) else al.priority,
            al.lat,
            al.lon,
            SIM_USER,
            description=f"{al.message} ({al.asset_name})",
            alarm_ids=[al.id],
            asset_ids=[al.asset_id],
            camera_ids=list(al.camera_ids),
            source="alarm",
            device_id=device,
        )

    def _random_incident(self) -> Incident | None:
        graph = self.desk.graph
        if graph is None:
            return None
        codes, weights = zip(*RANDOM_TYPES, strict=True)
        code = self.rng.choices(codes, weights)[0]
        n = self.rng.randrange(len(graph.lonlat))
        lat, lon = graph.node_latlon(n)
        return self.desk.create(
            code,
            0,
            lat,
            lon,
            SIM_USER,
            description=f"{BY_CODE[code].name} reported by a caller",
            source="simulation",
        )

    def _dispatch_own(self, now: float) -> None:
        due = [i for i, t in self._own_dispatch.items() if t <= now]
        for incident_id in due:
            inc = self.desk.book.get(incident_id)
            if inc is None or inc.status is not IncidentStatus.NEW:
                self._own_dispatch.pop(incident_id, None)
                continue
            self._own_dispatch[incident_id] = now + 30.0 / self.speedup  # retried if no unit is free
            task = asyncio.get_running_loop().create_task(self._auto_assign(incident_id))
            self._spawned.add(task)
            task.add_done_callback(self._spawned.discard)

    async def _auto_assign(self, incident_id: str) -> None:
        inc = self.desk.book.get(incident_id)
        if inc is None:
            return
        try:
            best = await self.desk.recommend(inc, 1, None)
            if best:
                await self.desk.assign(incident_id, best[0].unit.id, SIM_USER)
        except (IncidentError, KeyError, ValueError) as exc:
            log.debug("simulated dispatch of %s failed: %s", incident_id, exc)

    def _close_resolved(self) -> None:
        now = time.time()
        for inc in self.desk.book.live(now):
            if (
                inc.status is IncidentStatus.RESOLVED
                and inc.source != "operator"
                and now - inc.resolved_at >= CLOSE_AFTER_S / self.speedup
            ):
                with contextlib.suppress(IncidentError):
                    self.desk.set_incident_status(inc.id, IncidentStatus.CLOSED, SIM_USER, manual=False)
