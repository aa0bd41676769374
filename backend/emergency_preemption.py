"""Emergency preemption for P1 dispatches (docs/transport.md): a unit assigned to a priority-1
incident gets green along its route at every TSP junction the route crosses, until it arrives
(or is stood down); both ends are written in the incident's timeline and reported by
TransitService.WatchPriority (the map's white rings).

The search along the route runs in the dispatch desk's thread pool (a route may have 2,000
points); only the junctions' switch happens on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time

from vigie.backend.adapters.simulator.city import to_xy
from vigie.backend.adapters.simulator.transit.engine import TransitSim
from vigie.backend.dispatch import SYSTEM_USER, DispatchDesk
from vigie.backend.domain.incidents import Incident, IncidentError
from vigie.backend.domain.units import ENGAGED, Unit, UnitStatus
from vigie.backend.routing import Route

log = logging.getLogger(__name__)

PREEMPT_PRIORITY = 1  # only P1 incidents preempt: P2 and below wait like everyone else
MARGIN_S = 60.0  # beyond the route's driving time, in case the drive is slower
MAX_PREEMPT_S = 600.0  # TransitService's bound: a junction is never held longer


class EmergencyPreemption:
    def __init__(self, desk: DispatchDesk, sim: TransitSim, speed: float = 1.0) -> None:
        """`speed`: the transit clock's simulated seconds per real second (units drive in real time)."""
        self.desk, self.sim, self.speed = desk, sim, speed
        self._tasks: set[asyncio.Task[None]] = set()
        desk.on_assigned.append(self._on_assigned)
        desk.on_unit_changed.append(self._on_unit_changed)

    def _on_assigned(self, unit: Unit, incident: Incident, route: Route) -> None:
        if incident.priority != PREEMPT_PRIORITY or len(route.points) < 2:
            return
        task = asyncio.get_running_loop().create_task(self._preempt(unit, incident, route))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _preempt(self, unit: Unit, incident: Incident, route: Route) -> None:
        xy = [to_xy(lat, lon) for lat, lon in route.points]
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self.desk.pool, self.sim.junctions_along, xy)
        now = self.desk.board.get(unit.id)
        if now is None or now.status not in ENGAGED or now.incident_id != incident.id:
            return  # stood down or arrived while the route was searched
        # In the transit clock's seconds, which may run faster than the units' drive.
        duration = min(MAX_PREEMPT_S, (route.time_s + MARGIN_S) * self.speed)
        ids = self.sim.preempt_junctions(found, duration, unit.id, incident.id)
        text = (
            f"emergency preemption for {unit.callsign}: {len(ids)} junction(s) green along the route "
            f"({', '.join(ids)})"
            if ids
            else f"emergency preemption for {unit.callsign}: no signalised junction on the route"
        )
        self._note(incident.id, text)

    def _on_unit_changed(self, unit: Unit) -> None:
        if unit.status in ENGAGED and unit.status is not UnitStatus.ON_SCENE:
            return
        ids = self.sim.end_preemption(unit.id)
        if ids and unit.incident_id:
            why = "arrived" if unit.status is UnitStatus.ON_SCENE else unit.status.name.lower()
            self._note(
                unit.incident_id, f"emergency preemption ended ({unit.callsign} {why}): {', '.join(ids)}"
            )

    def _note(self, incident_id: str, text: str) -> None:
        try:
            self.desk.book.add_note(incident_id, text, SYSTEM_USER, time.time())
        except IncidentError as exc:  # closed meanwhile, or its timeline is full: the junctions act anyway
            log.info("preemption note not added to %s: %s", incident_id, exc)
