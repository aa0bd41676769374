"""The dispatch desk: incidents, units and routes together, as the services and the simulation use
them.

It owns the incident book and the unit board (restored from the incident store), the road graph
(built from the device network's basemap in an executor at start), and the rules that span both:
an assignment makes the unit DISPATCHED and the incident DISPATCHED; a unit's status goes into its
incident's timeline; an arrival moves the incident IN_PROGRESS; resolving or closing an incident
sends its units back (RETURNING); a unit stood down leaves its incident. Routing runs in the
desk's own thread pool: the event loop never searches a graph. Listeners (the simulated crews)
hear about assignments and unit changes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from vigie.backend.adapters.base import DeviceNetwork
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.incident_types import BY_CODE
from vigie.backend.domain.incidents import (
    Incident,
    IncidentBook,
    IncidentRefused,
    IncidentStatus,
    InvalidIncident,
    UnitRoute,
)
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.domain.units import (
    ASSIGNABLE,
    ENGAGED,
    Capability,
    Unit,
    UnitBoard,
    UnitStatus,
    unit_from_vehicle,
)
from vigie.backend.routing import RoadGraph, Route, district_at, districts_from
from vigie.backend.store.incidents_sqlite import IncidentStore

log = logging.getLogger(__name__)

MAX_K = 20
MAX_ROUTE_POINTS = 2000  # a route kept on its incident (streamed with it): bounded
SYSTEM_USER = "system"
# Alarm causes that mean the device itself is at fault: an incident linked to one resolves itself
# when the device reports OK again.
DEVICE_CAUSES = frozenset({"device_fault", "pressure_low"})


@dataclass(frozen=True, slots=True)
class Candidate:
    unit: Unit
    lat: float
    lon: float
    route: Route


def rank_units(
    graph: RoadGraph, pool: list[tuple[Unit, tuple[float, float]]], dest: tuple[float, float], k: int
) -> list[Candidate]:
    """The k fastest of `pool` (unit, position) to `dest`: one search from the destination on
    the reversed graph times every unit at once; only the k winners get their route built.
    Computes: call it in an executor."""
    search = graph.search_to(dest)
    times = graph.times_to([p for _, p in pool], search)
    order = sorted(
        (i for i, t in enumerate(times) if t is not None), key=lambda i: (times[i], pool[i][0].callsign)
    )
    out = []
    for i in order[:k]:
        route = graph.route_from(pool[i][1], search)
        if route is not None:
            out.append(Candidate(pool[i][0], pool[i][1][0], pool[i][1][1], route))
    return out


class RoutingUnavailable(RuntimeError):
    """The device network has no street map: no routes, no recommendations."""


class DispatchUnavailable(RuntimeError):
    """On a cluster: no replica leads at the moment (or it did not answer): nothing was done."""


class DispatchDesk:
    def __init__(
        self,
        assets: AssetStore,
        network: DeviceNetwork,
        store: IncidentStore,
        alarms: AlarmEngine | None = None,
        history: int = 20_000,
    ) -> None:
        """`alarms` tells which linked alarms are device faults."""
        self.assets = assets
        self.alarms = alarms
        self.network = network
        self.store = store
        self.history = history
        loaded = store.load(history, time.time())
        self.epoch = loaded.epoch
        self.book = IncidentBook(history, loaded.incident_seq, loaded.next_id, listener=store.queue_incidents)
        self.board = UnitBoard(history, loaded.unit_seq, listener=store.queue_units)
        self.book.epoch = self.board.epoch = loaded.epoch
        self.book.restore(loaded.live, loaded.incident_log)
        self.board.restore(loaded.units, loaded.unit_log)
        self.keys = loaded.keys
        self.graph: RoadGraph | None = None
        self._table: asyncio.Future[bool] | None = None
        self.districts: list = []
        self.pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="routing")
        self.on_created: list[Callable[[Incident], None]] = []
        self.on_assigned: list[Callable[[Unit, Incident, Route], None]] = []
        self.on_unit_changed: list[Callable[[Unit], None]] = []

    async def start(self, add_fleet: bool = True) -> None:
        """After the device network published its assets: the road graph and the fleet's units
        (`add_fleet` False on a cluster: only the leader adds them, `add_fleet()`)."""
        layers = self.network.basemap()
        if layers:
            loop = asyncio.get_running_loop()
            self.graph = await loop.run_in_executor(self.pool, RoadGraph, layers)
            self.districts = districts_from(layers)
        if add_fleet:
            self.add_fleet()
        self.store.start()

    def add_fleet(self) -> None:
        """Vehicles of the fleet that are not units yet join AVAILABLE."""
        fleet = [u for u in map(unit_from_vehicle, self.assets.assets()) if u is not None]
        self.board.add_missing(fleet, time.time())

    def reset(
        self, incidents: list[Incident], units: list[Unit], incident_seq: int, unit_seq: int, next_id: int
    ) -> None:
        """On a cluster (backend/bus/incidents.py): the book and the board start again from the
        incidents and units as the bus has them, numbering their changes after `incident_seq` and
        `unit_seq` and new incidents from `next_id` (a new leader takes over; a replica that stops
        leading mirrors the bus again). Listeners and epochs stay."""
        book = IncidentBook(self.history, incident_seq, next_id, listener=self.book.listener)
        board = UnitBoard(self.history, unit_seq, listener=self.board.listener)
        book.epoch, board.epoch = self.book.epoch, self.board.epoch
        book.restore(incidents, [])
        board.restore(units, [])
        self.book, self.board = book, board

    def mirror(self, incidents: list[Incident], units: list[Unit]) -> None:
        """A replica that does not lead: the bus's latest states, for what it reads (recommend,
        routes, walls)."""
        self.book.restore(incidents, [])
        self.board.restore(units, [])

    async def stop(self) -> None:
        await self.store.close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # --- places and routes ---

    def place(self, lat: float, lon: float) -> tuple[str, str]:
        """(nearest street, district) of a point; ("", "") without a street map."""
        if self.graph is None:
            return "", ""
        return self.graph.street_at(lat, lon), district_at(self.districts, lat, lon)

    def _graph(self) -> RoadGraph:
        if self.graph is None:
            raise RoutingUnavailable("this device network has no street map: routing is unavailable")
        return self.graph

    async def route(self, origin: tuple[float, float], destination: tuple[float, float]) -> Route:
        graph = self._graph()
        return await asyncio.get_running_loop().run_in_executor(self.pool, graph.route, origin, destination)

    def position(self, unit_id: str) -> tuple[float, float] | None:
        a = self.assets.get(unit_id)
        return None if a is None else (a.lat, a.lon)

    async def recommend(self, incident: Incident, k: int, capability: Capability | None) -> list[Candidate]:
        """The k assignable units with `capability` (None: the incident type's), fastest first."""
        graph = self._graph()
        if self._table is None:
            # The all-pairs table is built on first need (a backend that never dispatches never
            # pays its seconds of CPU); searches answer until it is there.
            self._table = asyncio.get_running_loop().run_in_executor(self.pool, graph.precompute)
        cap = capability or BY_CODE[incident.type].capability
        pool: list[tuple[Unit, tuple[float, float]]] = []
        for u in self.board.units():
            if u.status in ASSIGNABLE and u.can(cap):
                pos = self.position(u.id)
                if pos is not None:
                    pool.append((u, pos))
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, rank_units, graph, pool, (incident.lat, incident.lon), k
        )

    # --- incidents ---

    def create(
        self,
        type_code: str,
        priority: int,
        lat: float,
        lon: float,
        by: str,
        *,
        description: str = "",
        alarm_ids: list[str] | tuple[str, ...] = (),
        asset_ids: list[str] | tuple[str, ...] = (),
        camera_ids: list[str] | tuple[str, ...] = (),
        source: str = "operator",
        device_id: str = "",
    ) -> Incident:
        """A new incident at a point (its street and district looked up); linked to an open
        device-fault alarm, it follows that device (`device_id`)."""
        street, district = self.place(lat, lon)
        if not device_id and self.alarms is not None:
            for alarm_id in alarm_ids:
                al = self.alarms.get(alarm_id)
                if al is not None and al.active and al.cause in DEVICE_CAUSES:
                    device_id = al.asset_id
                    break
        inc = self.book.create(
            type_code,
            priority,
            lat,
            lon,
            by,
            time.time(),
            street=street,
            district=district,
            description=description,
            alarm_ids=alarm_ids,
            asset_ids=asset_ids,
            camera_ids=camera_ids,
            source=source,
            device_id=device_id,
        )
        for listener in self.on_created:
            listener(inc)
        return inc

    def set_incident_status(
        self,
        incident_id: str,
        status: IncidentStatus,
        by: str,
        *,
        reason: str = "",
        outcome: str = "",
        override: bool = False,
        manual: bool = True,
    ) -> Incident:
        """The lifecycle's change; RESOLVED and CLOSED send the incident's units back."""
        inc = self.book.set_status(
            incident_id,
            status,
            by,
            time.time(),
            reason=reason,
            outcome=outcome,
            override=override,
            manual=manual,
        )
        if status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
            for unit_id in inc.unit_ids:
                u = self.board.get(unit_id)
                if u is not None and u.status in ENGAGED and u.incident_id == inc.id:
                    self.set_unit_status(
                        unit_id, UnitStatus.RETURNING, by, reason="incident " + status.name, manual=False
                    )
            inc = self.book.require(incident_id)
        return inc

    # --- units ---

    async def assign(
        self, incident_id: str, unit_id: str, by: str, reason: str = "", replace_unit_id: str = ""
    ) -> tuple[Incident, Unit, bool, Route]:
        """Send a unit; an override (not the first recommendation) and a reassignment need a
        reason. Raises IncidentError subclasses, UnknownUnit, RoutingUnavailable."""
        inc = self.book.require(incident_id)
        unit = self.board.require(unit_id)
        self._check_assignable(inc, unit, replace_unit_id)
        cap = BY_CODE[inc.type].capability
        best = await self.recommend(inc, 1, cap)
        override = not best or best[0].unit.id != unit_id
        if override and not reason.strip():
            first = f" (the first recommendation is {best[0].unit.callsign})" if best else ""
            raise InvalidIncident(
                f"{unit.callsign} is not the first recommendation{first}: a reason is required"
            )
        if replace_unit_id and not reason.strip():
            raise InvalidIncident("a reassignment needs a reason")
        pos = self.position(unit_id)
        if pos is None:
            raise IncidentRefused(f"{unit.callsign} has no known position")
        route = best[0].route if best and not override else await self.route(pos, (inc.lat, inc.lon))
        # The world may have moved while the route was computed: check again, then act at once.
        inc = self.book.require(incident_id)
        unit = self.board.require(unit_id)
        self._check_assignable(inc, unit, replace_unit_id)
        now = time.time()
        if replace_unit_id:
            old = self.board.require(replace_unit_id)
            if old.status in ENGAGED:
                self.board.set_status(
                    old.id, UnitStatus.AVAILABLE, by, now, reason=f"replaced by {unit.callsign}"
                )
                self._unit_changed(self.board.require(old.id))
            self.book.unit_released(
                inc.id, old.id, old.callsign, by, now, f"replaced by {unit.callsign}: {reason}"
            )
        why = reason if (override or replace_unit_id) else ""
        unit = self.board.set_status(
            unit_id, UnitStatus.DISPATCHED, by, now, incident_id=inc.id, manual=False
        )
        drive = UnitRoute(
            unit_id,
            unit.callsign,
            tuple(route.points[:MAX_ROUTE_POINTS]),
            route.distance_m,
            now + route.time_s,
        )
        inc = self.book.unit_assigned(inc.id, unit_id, unit.callsign, by, now, why, drive)
        inc = self.book.unit_status(inc.id, unit_id, unit.callsign, UnitStatus.DISPATCHED, by, now) or inc
        self._unit_changed(unit)
        for listener in self.on_assigned:
            listener(unit, inc, route)
        return inc, unit, override, route

    def _check_assignable(self, inc: Incident, unit: Unit, replace_unit_id: str) -> None:
        if inc.status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
            raise IncidentRefused(f"{inc.id} is {inc.status.name}: no unit can be sent")
        if unit.status not in ASSIGNABLE:
            raise IncidentRefused(
                f"{unit.callsign} is {unit.status.name}"
                + (f" for {unit.incident_id}" if unit.incident_id else "")
                + ": only AVAILABLE or RETURNING units can be assigned"
            )
        if replace_unit_id:
            if replace_unit_id == unit.id:
                raise InvalidIncident("a unit cannot replace itself")
            if replace_unit_id not in inc.unit_ids:
                raise IncidentRefused(f"{replace_unit_id[:64]} is not assigned to {inc.id}")

    def set_unit_status(
        self, unit_id: str, status: UnitStatus, by: str, *, reason: str = "", manual: bool = True
    ) -> Unit:
        """A unit's status (raises TransitionRefused, UnknownUnit); its incident hears of it, and
        a unit that is free again leaves it."""
        before = self.board.require(unit_id)
        now = time.time()
        unit = self.board.set_status(unit_id, status, by, now, reason=reason, manual=manual)
        incident_id = before.incident_id
        if incident_id:
            self.book.unit_status(incident_id, unit_id, unit.callsign, status, by, now)
            if status not in ENGAGED:
                self.book.unit_released(incident_id, unit_id, unit.callsign, by, now, reason or status.name)
        self._unit_changed(unit)
        return unit

    def _unit_changed(self, unit: Unit) -> None:
        for listener in self.on_unit_changed:
            try:
                listener(unit)
            except Exception:  # a listener's bug must not undo a committed change
                log.exception("unit listener failed for %s", unit.id)
