"""The dispatch units (the municipal fleet's vehicles) and their statuses (Qt-free, gRPC-free).

A unit is a vehicle asset seen by dispatch: a callsign, a fleet, capabilities and a status with the
time it entered it. Statuses change only along allowed transitions: by hand (a crew radios in:
`MANUAL`), by an assignment (AVAILABLE or RETURNING -> DISPATCHED) and by the system (the
simulated crews, releases: `SYSTEM`). Every change gets the next unit sequence and goes into a
`ChangeLog` that WatchUnits resumes from. Single-threaded: the asyncio loop's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.changelog import ChangeLog
from vigie.backend.domain.transit import TRANSIT_FLEETS


class UnitStatus(IntEnum):
    """Same numbers as vigie.v1.Unit.Status."""

    AVAILABLE = 1
    DISPATCHED = 2
    EN_ROUTE = 3
    ON_SCENE = 4
    RETURNING = 5
    OFF_DUTY = 6
    OUT_OF_SERVICE = 7


class Capability(IntEnum):
    """Same numbers as vigie.v1.Unit.Capability."""

    POLICE = 1
    LIGHTING = 2
    ROADS = 3
    WATER = 4
    SIGNALS = 5


S = UnitStatus
# What a dispatcher may set by hand (a crew's radio call). DISPATCHED only comes from Assign.
MANUAL: dict[UnitStatus, frozenset[UnitStatus]] = {
    S.AVAILABLE: frozenset({S.OFF_DUTY, S.OUT_OF_SERVICE}),
    S.DISPATCHED: frozenset({S.EN_ROUTE, S.AVAILABLE}),
    S.EN_ROUTE: frozenset({S.ON_SCENE, S.AVAILABLE}),
    S.ON_SCENE: frozenset({S.RETURNING, S.AVAILABLE}),
    S.RETURNING: frozenset({S.AVAILABLE, S.OFF_DUTY, S.OUT_OF_SERVICE}),
    S.OFF_DUTY: frozenset({S.AVAILABLE, S.OUT_OF_SERVICE}),
    S.OUT_OF_SERVICE: frozenset({S.AVAILABLE, S.OFF_DUTY}),
}
# Units that may be sent to an incident (RETURNING crews are free again).
ASSIGNABLE = frozenset({S.AVAILABLE, S.RETURNING})
# Units working for an incident.
ENGAGED = frozenset({S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE})
# What the system does besides the manual moves: assign, drive, arrive, clear, release.
SYSTEM: dict[UnitStatus, frozenset[UnitStatus]] = {
    s: MANUAL[s]
    | {
        S.AVAILABLE: frozenset({S.DISPATCHED}),
        S.DISPATCHED: frozenset({S.EN_ROUTE, S.RETURNING}),
        S.EN_ROUTE: frozenset({S.ON_SCENE, S.RETURNING}),
        S.ON_SCENE: frozenset({S.RETURNING}),
        S.RETURNING: frozenset({S.DISPATCHED}),
        S.OFF_DUTY: frozenset(),
        S.OUT_OF_SERVICE: frozenset(),
    }[s]
    for s in UnitStatus
}

# What each technical service can do (the simulated city's services, backend/adapters/simulator/city.py).
SERVICE_CAPABILITIES: dict[str, tuple[Capability, ...]] = {
    "Voirie": (Capability.ROADS, Capability.SIGNALS),
    "Éclairage": (Capability.LIGHTING, Capability.SIGNALS),
    "Propreté": (Capability.ROADS,),
    "Espaces verts": (Capability.ROADS,),
    "Eau": (Capability.WATER,),
}


@dataclass(slots=True)
class Unit:
    """One unit's dispatch state; times are unix seconds. Treat as immutable."""

    id: str
    callsign: str
    fleet: str
    service: str
    capabilities: tuple[Capability, ...]
    status: UnitStatus = UnitStatus.AVAILABLE
    status_since: float = 0.0
    incident_id: str = ""
    status_reason: str = ""
    updated_by: str = ""
    sequence: int = 0

    def can(self, capability: Capability | None) -> bool:
        return capability is None or capability in self.capabilities


class UnknownUnit(KeyError):
    pass


class TransitionRefused(ValueError):
    """A status change the rules do not allow; the message lists the allowed ones."""


def allowed_text(status: UnitStatus, table: dict[UnitStatus, frozenset[UnitStatus]]) -> str:
    names = sorted(s.name for s in table[status])
    return ", ".join(names) if names else "none"


def unit_from_vehicle(a: Asset) -> Unit | None:
    """The unit for a vehicle asset (None for any other asset)."""
    fleet = a.attributes.get("fleet", "police")
    if a.kind is not Kind.VEHICLE or fleet in TRANSIT_FLEETS:  # buses and trams are not dispatched
        return None
    callsign = a.attributes.get("callsign", a.name)
    if fleet == "police":
        return Unit(a.id, callsign, fleet, "", (Capability.POLICE,))
    service = callsign.rsplit(" ", 1)[0] if " " in callsign else callsign
    return Unit(a.id, callsign, fleet, service, SERVICE_CAPABILITIES.get(service, (Capability.ROADS,)))


class UnitBoard:
    """Every unit's state and the log of their changes. `listener` gets every committed batch."""

    def __init__(
        self,
        history: int = 20_000,
        sequence: int = 0,
        listener: Callable[[list[Unit]], None] | None = None,
    ) -> None:
        self._units: dict[str, Unit] = {}
        self._log: ChangeLog[Unit] = ChangeLog(history, last=sequence)
        self.listener = listener
        self.epoch = ""

    # --- the ChangeLog protocol (backend/services/resumable.py) ---

    @property
    def sequence(self) -> int:
        return self._log.last

    @property
    def oldest_available(self) -> int:
        return self._log.oldest_available

    def changes_after(self, sequence: int, limit: int | None = None) -> list[Unit]:
        return self._log.after(sequence, limit)

    async def wait_for_change(self, sequence: int, timeout: float) -> bool:
        return await self._log.wait_beyond(sequence, timeout)

    # --- state ---

    def restore(self, units: Iterable[Unit], log: list[Unit]) -> None:
        """Reload a previous run's units and log tail (before any change)."""
        for u in units:
            self._units[u.id] = u
        if (
            log
            and log[-1].sequence == self._log.last
            and all(b.sequence == a.sequence + 1 for a, b in zip(log, log[1:], strict=False))
        ):
            self._log.restore(log, self._log.last)

    def add_missing(self, units: Iterable[Unit], now: float) -> list[Unit]:
        """Units of the fleet not known yet (first start, a bigger fleet) join AVAILABLE."""
        new = [
            dataclasses.replace(u, status_since=now, updated_by="system")
            for u in units
            if u.id not in self._units
        ]
        return self._commit(new)

    def get(self, unit_id: str) -> Unit | None:
        return self._units.get(unit_id)

    def require(self, unit_id: str) -> Unit:
        u = self._units.get(unit_id)
        if u is None:
            raise UnknownUnit(unit_id)
        return u

    def units(self) -> list[Unit]:
        """Every unit, by callsign."""
        return sorted(self._units.values(), key=lambda u: (u.fleet != "police", u.callsign))

    def set_status(
        self,
        unit_id: str,
        status: UnitStatus,
        by: str,
        now: float,
        *,
        reason: str = "",
        incident_id: str | None = None,
        manual: bool = True,
    ) -> Unit:
        """Move a unit to `status` if the rules allow it (raises TransitionRefused otherwise).
        `incident_id` None keeps the unit's incident, except that AVAILABLE and the off states
        clear it."""
        u = self.require(unit_id)
        table = MANUAL if manual else SYSTEM
        if status not in table[u.status]:
            raise TransitionRefused(
                f"{u.callsign} is {u.status.name}: it can go to {allowed_text(u.status, table)}"
                f"{' by hand' if manual else ''}, not {status.name}"
            )
        if incident_id is None:
            incident_id = "" if status in (S.AVAILABLE, S.OFF_DUTY, S.OUT_OF_SERVICE) else u.incident_id
        changed = dataclasses.replace(
            u,
            status=status,
            status_since=now,
            incident_id=incident_id,
            status_reason=reason,
            updated_by=by,
        )
        return self._commit([changed])[0]

    def _commit(self, units: list[Unit]) -> list[Unit]:
        if not units:
            return []
        seq = self._log.last
        out = []
        for u in units:
            seq += 1
            stamped = dataclasses.replace(u, sequence=seq)
            self._units[u.id] = stamped
            out.append(stamped)
        self._log.append(out)
        if self.listener is not None:
            self.listener(out)
        return out
