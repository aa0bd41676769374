"""The simulated city's side of dispatch: crews that drive, arrive, work and clear; devices that
resolve their incidents. With backend/incident_flow.py, the demo dispatches with nobody typing.

- An assigned unit leaves after a short turnout, EN_ROUTE, and the simulator drives its vehicle
  along the route at road speed (backend/adapters/simulator/steering.py): its position moves on
  WatchAssets like any vehicle's.
- Arrival is read from the vehicle's published position (the asset store), not from the route:
  within ARRIVAL_M of the incident, the unit is ON_SCENE.
- The crew works a simulated time, then clears (RETURNING, back on patrol) and is AVAILABLE again
  a little later. A technical crew at a faulty device repairs it.
- An incident about a device (`device_id`) resolves itself once the device publishes an OK state
  after the incident was opened (as commands are confirmed, backend/command_dispatch.py); it
  never resolves on an older state.
- The city's own flow of incidents, dispatched and closed by itself, is backend/incident_flow.py
  (started and stopped with the crews). Incidents that people created are left to people,
  except that the crews still drive, arrive and clear.

`speedup` divides every simulated duration and multiplies the crews' road speed (tests, demos).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass

from vigie.backend.adapters.base import DeviceNetwork
from vigie.backend.adapters.composite import CompositeNetwork
from vigie.backend.adapters.simulator.simulator import CitySimulator
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.dispatch import SYSTEM_USER, DispatchDesk
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.changelog import HistoryExpired
from vigie.backend.domain.incidents import Incident, IncidentError, IncidentStatus
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.domain.units import TransitionRefused, Unit, UnitStatus, unit_from_vehicle
from vigie.backend.incident_flow import SIM_USER, CityIncidents
from vigie.backend.routing import Route

log = logging.getLogger(__name__)

ARRIVAL_M = 30.0
TICK_S = 0.25
TURNOUT_S = (5.0, 20.0)  # from DISPATCHED to EN_ROUTE
WORK_S = {"police": (240.0, 900.0), "technical": (300.0, 1200.0)}
RETURN_S = (60.0, 240.0)  # from RETURNING to AVAILABLE


def find_simulator(network: DeviceNetwork) -> CitySimulator | None:
    """The simulator that drives the crews, behind a wrapper if there is one (`inner`: on the
    bus, the command relay of backend/bus/commands.py wraps the replica's network)."""
    inner = getattr(network, "inner", None)
    if inner is not None:
        return find_simulator(inner)
    if isinstance(network, CitySimulator):
        return network
    if isinstance(network, CompositeNetwork):
        return next((n for n in network.networks if isinstance(n, CitySimulator)), None)
    return None


@dataclass(slots=True)
class _Crew:
    unit_id: str
    incident_id: str
    due: float  # monotonic time of the crew's next step
    route: Route | None = None


class CrewSimulation:
    def __init__(
        self,
        desk: DispatchDesk,
        assets: AssetStore,
        network: DeviceNetwork,
        alarms: AlarmEngine | None,
        rate_per_day: float = 500.0,
        speedup: float = 1.0,
        seed: int = 1,
    ) -> None:
        self.desk = desk
        self.assets = assets
        self.sim = find_simulator(network)
        self.speedup = max(0.01, speedup)
        self.rng = random.Random(seed * 7_717 + 5)
        self.flow = CityIncidents(desk, alarms, rate_per_day, speedup, seed)
        self._crews: dict[str, _Crew] = {}  # unit id -> its pending step
        self._watched: dict[str, tuple[str, int]] = {}  # device id -> (incident id, revision at opening)
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()  # routing and simulated dispatches under way
        desk.on_created.append(self.watch_device)
        desk.on_assigned.append(self._assigned)
        desk.on_unit_changed.append(self._unit_changed)

    def _s(self, span: tuple[float, float]) -> float:
        return self.rng.uniform(*span) / self.speedup

    async def start(self) -> None:
        """Pick up what the previous run left: device incidents to watch, crews under way."""
        rev = self.assets.revision
        now = time.monotonic()
        for inc in self.desk.book.open_incidents():
            if inc.device_id:
                device = self.assets.get(inc.device_id)
                if device is not None and device.status is Status.OK:
                    self._device_ok(device, inc.id)  # it reported OK in this run already
                else:
                    self._watched[inc.device_id] = (inc.id, rev)
        for u in self.desk.board.units():
            if u.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE):
                self._crews[u.id] = _Crew(u.id, u.incident_id, now)
                if u.status is UnitStatus.EN_ROUTE:  # drive again from where it is
                    self._unit_changed(u)
            elif u.status in (UnitStatus.ON_SCENE, UnitStatus.RETURNING):
                self._crews[u.id] = _Crew(u.id, u.incident_id, now + self._s(RETURN_S))
        await self.flow.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(), name="dispatch-crews"),
            loop.create_task(self._follow_devices(), name="dispatch-devices"),
        ]

    async def stop(self) -> None:
        await self.flow.stop()
        await cancel_and_wait(*self._tasks, *self._spawned)
        self._tasks = []

    # --- hooks from the desk ---

    def _assigned(self, unit: Unit, incident: Incident, route: Route) -> None:
        self._crews[unit.id] = _Crew(unit.id, incident.id, time.monotonic() + self._s(TURNOUT_S), route)

    def _unit_changed(self, unit: Unit) -> None:
        """Hand-made changes too: a unit stood down stops driving; one set ON_SCENE works."""
        crew = self._crews.get(unit.id)
        if unit.status in (UnitStatus.AVAILABLE, UnitStatus.OFF_DUTY, UnitStatus.OUT_OF_SERVICE):
            self._crews.pop(unit.id, None)
            self._release(unit.id)
        elif unit.status is UnitStatus.EN_ROUTE:
            if crew is None:
                crew = self._crews[unit.id] = _Crew(unit.id, unit.incident_id, math.inf)
            crew.due = math.inf  # until it arrives
            self._drive(unit, crew.route)
            crew.route = None  # a later drive (restart, hand-made change) starts from where it is
        elif unit.status is UnitStatus.ON_SCENE and crew is not None and crew.due == math.inf:
            crew.due = time.monotonic() + self._s(WORK_S.get(unit.fleet, WORK_S["police"]))
        elif unit.status is UnitStatus.RETURNING:
            self._release(unit.id)
            self._crews[unit.id] = _Crew(unit.id, unit.incident_id, time.monotonic() + self._s(RETURN_S))

    # --- the crews ---

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self._step_crews(time.monotonic())
            except Exception:  # one bad step must not stop the city
                log.exception("crew simulation step failed")

    def _set(self, unit_id: str, status: UnitStatus, reason: str = "") -> bool:
        try:
            self.desk.set_unit_status(unit_id, status, SIM_USER, reason=reason, manual=False)
            return True
        except (TransitionRefused, KeyError) as exc:
            log.debug("simulation could not set %s %s: %s", unit_id, status.name, exc)
            self._crews.pop(unit_id, None)
            return False

    def _step_crews(self, now: float) -> None:
        for crew in list(self._crews.values()):
            unit = self.desk.board.get(crew.unit_id)
            if unit is None:
                self._crews.pop(crew.unit_id, None)
                continue
            if unit.status is UnitStatus.EN_ROUTE:
                self._check_arrival(unit, crew)
            elif now < crew.due:
                continue
            elif unit.status is UnitStatus.DISPATCHED:
                self._set(unit.id, UnitStatus.EN_ROUTE)  # _unit_changed starts the drive
            elif unit.status is UnitStatus.ON_SCENE:
                self._finish_work(unit, crew)
            elif unit.status is UnitStatus.RETURNING:
                self._crews.pop(unit.id, None)
                self._set(unit.id, UnitStatus.AVAILABLE, "back on patrol")

    def _drive(self, unit: Unit, route: Route | None = None) -> None:
        """Steer the vehicle to its incident (the route computed in the desk's pool if needed)."""
        inc = self.desk.book.get(unit.incident_id)
        if self.sim is None or inc is None:
            return
        if route is not None:
            self.sim.steer(unit.id, list(route.points), list(route.leg_speeds), self.speedup)
            return
        pos = self.desk.position(unit.id)
        if pos is not None and self.desk.graph is not None:
            task = asyncio.get_running_loop().create_task(
                self._route_and_drive(unit.id, pos, (inc.lat, inc.lon))
            )
            self._spawned.add(task)
            task.add_done_callback(self._spawned.discard)

    async def _route_and_drive(
        self, unit_id: str, origin: tuple[float, float], destination: tuple[float, float]
    ) -> None:
        try:
            route = await self.desk.route(origin, destination)
        except ValueError as exc:
            log.warning("no route for %s: %s", unit_id, exc)
            return
        unit = self.desk.board.get(unit_id)
        if self.sim is not None and unit is not None and unit.status is UnitStatus.EN_ROUTE:
            self.sim.steer(unit_id, list(route.points), list(route.leg_speeds), self.speedup)

    def _check_arrival(self, unit: Unit, crew: _Crew) -> None:
        """ON_SCENE once the vehicle's published position is within ARRIVAL_M of the incident."""
        inc = self.desk.book.get(unit.incident_id)
        a = self.assets.get(unit.id)
        if inc is None or a is None:
            return
        if distance_m(a.lat, a.lon, inc.lat, inc.lon) <= ARRIVAL_M:
            self._set(unit.id, UnitStatus.ON_SCENE, "arrived")  # _unit_changed starts the work

    def _release(self, unit_id: str) -> None:
        if self.sim is not None:
            self.sim.release(unit_id)

    def _finish_work(self, unit: Unit, crew: _Crew) -> None:
        inc = self.desk.book.get(unit.incident_id)
        if inc is not None and inc.open:
            if inc.device_id and unit.fleet == "technical" and self.sim is not None:
                device = self.assets.get(inc.device_id)
                if device is not None and device.status is not Status.OK:
                    self.sim.repair(inc.device_id)  # the device's OK report resolves the incident
            if inc.source != "operator":
                self._tick_steps(inc)
                if not inc.device_id:
                    with contextlib.suppress(IncidentError):
                        self.desk.set_incident_status(
                            inc.id,
                            IncidentStatus.RESOLVED,
                            SIM_USER,
                            outcome=f"{unit.callsign}: done",
                            manual=False,
                        )
            else:
                with contextlib.suppress(IncidentError):
                    self.desk.book.add_note(
                        inc.id, f"{unit.callsign} reports the job done", SIM_USER, time.time()
                    )
        unit = self.desk.board.get(unit.id) or unit
        if unit.status is UnitStatus.ON_SCENE:
            self._set(unit.id, UnitStatus.RETURNING, "cleared")

    def _tick_steps(self, inc: Incident) -> None:
        for s in inc.steps:
            if not s.done:
                with contextlib.suppress(IncidentError):
                    self.desk.book.set_step(inc.id, s.id, True, SIM_USER, time.time())

    # --- devices resolve their incidents ---

    def watch_device(self, incident: Incident) -> None:
        """Resolve `incident` once its device publishes OK after now."""
        if incident.device_id:
            self._watched[incident.device_id] = (incident.id, self.assets.revision)

    async def _follow_devices(self) -> None:
        """Devices that report OK resolve their incidents; vehicles not on the board yet join the
        fleet (on the bus, the first leader's city reaches its store only after the desk started)."""
        seen = self.assets.revision
        while True:
            await self.assets.wait_for_change(seen, 5.0)
            now_rev = self.assets.revision
            try:
                changes = self.assets.changes_after(seen)
            except HistoryExpired:
                changes = self.assets.assets()
            seen = now_rev
            board = self.desk.board
            fleet = [
                u
                for a in changes
                if a.kind is Kind.VEHICLE and board.get(a.id) is None
                for u in (unit_from_vehicle(a),)
                if u is not None
            ]
            if fleet:
                board.add_missing(fleet, time.time())
            for a in changes:
                watched = self._watched.get(a.id)
                if watched is not None and a.status is Status.OK and a.revision > watched[1]:
                    self._device_ok(a, watched[0])

    def _device_ok(self, device: Asset, incident_id: str) -> None:
        self._watched.pop(device.id, None)
        inc = self.desk.book.get(incident_id)
        if inc is None or not inc.open:
            return
        with contextlib.suppress(IncidentError):
            self.desk.set_incident_status(
                inc.id,
                IncidentStatus.RESOLVED,
                SYSTEM_USER,
                outcome=f"{device.name} reports OK again",
                manual=False,
            )


def distance_m(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    """Equirectangular distance: exact enough within a city."""
    dy = (lat1 - lat0) * 111_320.0
    dx = (lon1 - lon0) * 111_320.0 * math.cos(math.radians((lat0 + lat1) / 2))
    return math.hypot(dx, dy)
