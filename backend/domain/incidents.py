"""Incidents: lifecycle, checklist, timeline and timers (Qt-free, gRPC-free).

Lifecycle: NEW -> DISPATCHED (a unit assigned) -> IN_PROGRESS (a unit on scene) -> ON_HOLD (a
reason) -> RESOLVED (an outcome) -> CLOSED. `MANUAL` is what a user may ask; the system also moves
NEW -> DISPATCHED on an assignment, DISPATCHED -> IN_PROGRESS on an arrival and back to NEW when
its last unit is stood down. RESOLVED with required steps open needs an override with a reason
(the service asks SUPERVISOR for it). Every change gets the next incident sequence, appends to the
timeline (who, what, when) and goes into the `ChangeLog` WatchIncidents resumes from. The book
keeps open incidents and those closed in the last `RECENT_S` in memory (the watch's snapshot);
older ones live only in the store. Single-threaded: the asyncio loop's. (One aggregate: status,
checklist, units and timeline change together under the same checks, hence the length.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

from vigie.backend.domain.changelog import ChangeLog
from vigie.backend.domain.incident_types import BY_CODE, THRESHOLDS, IncidentType
from vigie.backend.domain.units import UnitStatus

RECENT_S = 8 * 3600.0  # closed incidents stay in the watch's snapshot this long
MAX_TIMELINE = 1000  # entries per incident; notes are refused past NOTE_ROOM
NOTE_ROOM = 900
MAX_LINKS = 100  # alarm, asset or camera ids per incident (each list)


class IncidentStatus(IntEnum):
    """Same numbers as vigie.v1.Incident.Status."""

    NEW = 1
    DISPATCHED = 2
    IN_PROGRESS = 3
    ON_HOLD = 4
    RESOLVED = 5
    CLOSED = 6


class EntryKind(IntEnum):
    """Same numbers as vigie.v1.TimelineEntry.Kind."""

    CREATED = 1
    STATUS = 2
    NOTE = 3
    STEP = 4
    ASSIGNED = 5
    RELEASED = 6
    UNIT_STATUS = 7
    UPDATED = 8
    OVERRIDE = 9


IS = IncidentStatus
MANUAL: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IS.NEW: frozenset({IS.ON_HOLD, IS.RESOLVED}),
    IS.DISPATCHED: frozenset({IS.IN_PROGRESS, IS.ON_HOLD, IS.RESOLVED}),
    IS.IN_PROGRESS: frozenset({IS.ON_HOLD, IS.RESOLVED}),
    IS.ON_HOLD: frozenset({IS.NEW, IS.DISPATCHED, IS.IN_PROGRESS, IS.RESOLVED}),
    IS.RESOLVED: frozenset({IS.CLOSED, IS.IN_PROGRESS}),
    IS.CLOSED: frozenset(),
}
OPEN = frozenset({IS.NEW, IS.DISPATCHED, IS.IN_PROGRESS, IS.ON_HOLD})
# A unit in these statuses is still on its way: its route stays on the incident.
DRIVING_THERE = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE})


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    text: str
    required: bool
    done: bool = False
    done_by: str = ""
    done_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Entry:
    time: float
    user: str
    kind: EntryKind
    text: str
    unit_id: str = ""
    unit_status: int = 0  # a UnitStatus for UNIT_STATUS entries


@dataclass(frozen=True, slots=True)
class UnitRoute:
    """An assigned unit's drive to the incident, as computed when it was sent (the console draws
    it and counts its ETA down without asking for the route again)."""

    unit_id: str
    callsign: str
    points: tuple[tuple[float, float], ...]  # (lat, lon) from the unit to the incident
    distance_m: float
    eta_at: float  # unix s: the send time plus the driving time at road speed


@dataclass(slots=True)
class Incident:
    """One incident; times are unix seconds, 0.0 meaning unset. Treat as immutable."""

    id: str
    type: str
    priority: int
    lat: float
    lon: float
    status: IncidentStatus = IncidentStatus.NEW
    street: str = ""
    district: str = ""
    description: str = ""
    alarm_ids: tuple[str, ...] = ()
    asset_ids: tuple[str, ...] = ()
    camera_ids: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    unit_ids: tuple[str, ...] = ()
    timeline: tuple[Entry, ...] = ()
    hold_reason: str = ""
    outcome: str = ""
    created_by: str = ""
    source: str = "operator"
    device_id: str = ""
    created_at: float = 0.0
    dispatched_at: float = 0.0
    on_scene_at: float = 0.0
    resolved_at: float = 0.0
    closed_at: float = 0.0
    updated_at: float = 0.0
    sequence: int = 0
    units_ever: tuple[str, ...] = ()  # every unit ever assigned (ListIncidents' unit filter)
    routes: tuple[UnitRoute, ...] = ()  # the assigned units still driving there

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def open_required_steps(self) -> list[Step]:
        return [s for s in self.steps if s.required and not s.done]


class IncidentError(Exception):
    """Base of the book's refusals; `code` maps to a gRPC status in the service."""

    code = "failed_precondition"


class UnknownIncident(IncidentError):
    code = "not_found"


class InvalidIncident(IncidentError):
    code = "invalid_argument"


class IncidentRefused(IncidentError):
    code = "failed_precondition"


def allowed_text(status: IncidentStatus) -> str:
    names = sorted(s.name for s in MANUAL[status])
    return ", ".join(names) if names else "none (closed)"


def timer_levels(inc: Incident, now: float) -> tuple[str, str]:
    """("ok" | "amber" | "red") for the time without dispatch and the time open, by priority."""
    t = THRESHOLDS[inc.priority]

    def level(elapsed: float, amber: float, red: float) -> str:
        return "red" if elapsed >= red else "amber" if elapsed >= amber else "ok"

    waiting = (inc.dispatched_at or now) - inc.created_at
    opened = (inc.resolved_at or now) - inc.created_at
    return level(waiting, t.not_dispatched_amber, t.not_dispatched_red), level(
        opened, t.open_amber, t.open_red
    )


def check_type_and_priority(type_code: str, priority: int) -> IncidentType:
    t = BY_CODE.get(type_code)
    if t is None:
        raise InvalidIncident(
            f"type {type_code[:64]!r} is not in the catalogue ({', '.join(sorted(BY_CODE))})"
        )
    if priority and not 1 <= priority <= 4:
        raise InvalidIncident(f"priority must be 1..4 (0: the type's default), not {priority}")
    return t


class IncidentBook:
    """Open (and recently closed) incidents and the log of their changes."""

    def __init__(
        self,
        history: int = 20_000,
        sequence: int = 0,
        next_id: int = 1,
        listener: Callable[[list[Incident]], None] | None = None,
    ) -> None:
        self._live: dict[str, Incident] = {}
        self._log: ChangeLog[Incident] = ChangeLog(history, last=sequence)
        self.next_id = next_id
        self.listener = listener
        self.epoch = ""

    # --- the ChangeLog protocol (backend/services/resumable.py) ---

    @property
    def sequence(self) -> int:
        return self._log.last

    @property
    def oldest_available(self) -> int:
        return self._log.oldest_available

    def changes_after(self, sequence: int, limit: int | None = None) -> list[Incident]:
        return self._log.after(sequence, limit)

    async def wait_for_change(self, sequence: int, timeout: float) -> bool:
        return await self._log.wait_beyond(sequence, timeout)

    # --- reading ---

    def restore(self, live: Iterable[Incident], log: list[Incident]) -> None:
        """Reload a previous run's open and recent incidents and its log tail (before any change)."""
        for inc in live:
            self._live[inc.id] = inc
        if (
            log
            and log[-1].sequence == self._log.last
            and all(b.sequence == a.sequence + 1 for a, b in zip(log, log[1:], strict=False))
        ):
            self._log.restore(log, self._log.last)

    def get(self, incident_id: str) -> Incident | None:
        return self._live.get(incident_id)

    def live(self, now: float) -> list[Incident]:
        """Open incidents and those closed in the last RECENT_S, oldest first."""
        self._forget_old(now)
        return sorted(self._live.values(), key=lambda i: (i.created_at, i.id))

    def open_incidents(self) -> list[Incident]:
        return [i for i in self._live.values() if i.open]

    def _forget_old(self, now: float) -> None:
        old = [k for k, i in self._live.items() if i.status is IS.CLOSED and now - i.closed_at > RECENT_S]
        for k in old:
            del self._live[k]

    # --- changes ---

    def create(
        self,
        type_code: str,
        priority: int,
        lat: float,
        lon: float,
        by: str,
        now: float,
        *,
        street: str = "",
        district: str = "",
        description: str = "",
        alarm_ids: Iterable[str] = (),
        asset_ids: Iterable[str] = (),
        camera_ids: Iterable[str] = (),
        source: str = "operator",
        device_id: str = "",
    ) -> Incident:
        t = check_type_and_priority(type_code, priority)
        links = {
            "alarm_ids": tuple(alarm_ids),
            "asset_ids": tuple(asset_ids),
            "camera_ids": tuple(camera_ids),
        }
        for name, ids in links.items():
            if len(ids) > MAX_LINKS:
                raise InvalidIncident(f"{name} has {len(ids)} entries (at most {MAX_LINKS})")
        inc_id = f"inc-{self.next_id:06d}"
        self.next_id += 1
        prio = priority or t.default_priority
        where = f" on {street}" if street else ""
        inc = Incident(
            inc_id,
            t.code,
            prio,
            lat,
            lon,
            street=street,
            district=district,
            description=description,
            steps=tuple(Step(s.id, s.text, s.required) for s in t.steps),
            created_by=by,
            source=source,
            device_id=device_id,
            created_at=now,
            timeline=(Entry(now, by, EntryKind.CREATED, f"{t.name}, P{prio}{where}"),),
            alarm_ids=tuple(dict.fromkeys(links["alarm_ids"])),
            asset_ids=tuple(dict.fromkeys(links["asset_ids"])),
            camera_ids=tuple(dict.fromkeys(links["camera_ids"])),
        )
        return self._commit(inc, now)

    def require(self, incident_id: str) -> Incident:
        inc = self._live.get(incident_id)
        if inc is None:
            raise UnknownIncident(f"no open or recent incident with id {incident_id[:64]!r}")
        return inc

    def _editable(self, incident_id: str) -> Incident:
        inc = self.require(incident_id)
        if inc.status is IS.CLOSED:
            raise IncidentRefused(f"{inc.id} is CLOSED: it cannot change")
        return inc

    def set_status(
        self,
        incident_id: str,
        status: IncidentStatus,
        by: str,
        now: float,
        *,
        reason: str = "",
        outcome: str = "",
        override: bool = False,
        manual: bool = True,
    ) -> Incident:
        """A status change along the lifecycle; `manual` False is the system's (arrivals,
        releases, a device's own OK), which may also resolve with steps open."""
        inc = self._editable(incident_id)
        if status is inc.status:
            return inc
        self.check_status(inc, status, reason=reason, outcome=outcome, override=override, manual=manual)
        entries: list[Entry] = []
        changes: dict[str, object] = {"status": status}
        if status is IS.ON_HOLD:
            changes["hold_reason"] = reason
        if status is IS.RESOLVED:
            open_steps = inc.open_required_steps()
            if open_steps and manual:
                entries.append(
                    Entry(
                        now,
                        by,
                        EntryKind.OVERRIDE,
                        f"resolved with {len(open_steps)} required step(s) open: {reason}",
                    )
                )
            changes["outcome"] = outcome
            changes["resolved_at"] = now
        if status is IS.CLOSED:
            changes["closed_at"] = now
        if inc.status is IS.RESOLVED and status in OPEN:
            changes.update(resolved_at=0.0, outcome="")  # reopened
        if status is IS.IN_PROGRESS and not inc.on_scene_at:
            changes["on_scene_at"] = now
        text = {
            IS.ON_HOLD: f"ON_HOLD: {reason}",
            IS.RESOLVED: f"RESOLVED: {outcome}",
        }.get(status, status.name + (f": {reason}" if reason else ""))
        entries.insert(0, Entry(now, by, EntryKind.STATUS, text))
        return self._change(inc, now, entries, **changes)

    @staticmethod
    def check_status(
        inc: Incident,
        status: IncidentStatus,
        *,
        reason: str = "",
        outcome: str = "",
        override: bool = False,
        manual: bool = True,
    ) -> None:
        """Raise why `inc` cannot go to `status` with these words (nothing when it can)."""
        if inc.status is IS.CLOSED:
            raise IncidentRefused(f"{inc.id} is CLOSED: it cannot change")
        if status is inc.status:
            return
        if manual and status not in MANUAL[inc.status]:
            raise IncidentRefused(
                f"{inc.id} is {inc.status.name}: it can go to {allowed_text(inc.status)}, not {status.name}"
            )
        if status is IS.ON_HOLD and not reason.strip():
            raise InvalidIncident("ON_HOLD needs a reason")
        if status is IS.RESOLVED:
            if not outcome.strip():
                raise InvalidIncident("RESOLVED needs an outcome")
            open_steps = inc.open_required_steps()
            if open_steps and manual:
                if not override:
                    raise IncidentRefused(
                        f"{inc.id} has required steps open ({', '.join(s.id for s in open_steps)}):"
                        " tick them, or override with a reason (SUPERVISOR)"
                    )
                if not reason.strip():
                    raise InvalidIncident("an override needs a reason")

    def add_note(self, incident_id: str, text: str, by: str, now: float) -> Incident:
        inc = self._editable(incident_id)
        if not text.strip():
            raise InvalidIncident("a note needs text")
        if len(inc.timeline) >= NOTE_ROOM:
            raise IncidentRefused(f"{inc.id}'s timeline is full ({len(inc.timeline)} entries)")
        return self._change(inc, now, [Entry(now, by, EntryKind.NOTE, text)])

    def set_step(self, incident_id: str, step_id: str, done: bool, by: str, now: float) -> Incident:
        inc = self._editable(incident_id)
        steps = list(inc.steps)
        for k, s in enumerate(steps):
            if s.id == step_id:
                if s.done == done:
                    return inc
                steps[k] = dataclasses.replace(
                    s, done=done, done_by=by if done else "", done_at=now if done else 0.0
                )
                text = f"{'done' if done else 'reopened'}: {s.text}"
                return self._change(inc, now, [Entry(now, by, EntryKind.STEP, text)], steps=tuple(steps))
        raise InvalidIncident(
            f"{inc.id} ({inc.type}) has no step {step_id[:64]!r} ({', '.join(s.id for s in steps)})"
        )

    def update(
        self,
        incident_id: str,
        by: str,
        now: float,
        *,
        priority: int = 0,
        description: str | None = None,
        links: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None,
    ) -> Incident:
        """Priority, description, and links (`links[name] = (add, remove)` for alarm_ids,
        asset_ids, camera_ids)."""
        inc = self._editable(incident_id)
        changes: dict[str, object] = {}
        said: list[str] = []
        if priority:
            check_type_and_priority(inc.type, priority)
            if priority != inc.priority:
                changes["priority"] = priority
                said.append(f"priority P{inc.priority} -> P{priority}")
        if description is not None and description != inc.description:
            changes["description"] = description
            said.append("description changed")
        for name, (add, remove) in (links or {}).items():
            before: tuple[str, ...] = getattr(inc, name)
            after = tuple(i for i in dict.fromkeys((*before, *add)) if i not in set(remove))
            if len(after) > MAX_LINKS:
                raise InvalidIncident(f"{name} would have {len(after)} entries (at most {MAX_LINKS})")
            if after != before:
                changes[name] = after
                said.append(f"{name.replace('_ids', 's')}: {', '.join(after) or 'none'}")
        if not changes:
            return inc
        return self._change(inc, now, [Entry(now, by, EntryKind.UPDATED, "; ".join(said))], **changes)

    def unit_assigned(
        self,
        incident_id: str,
        unit_id: str,
        callsign: str,
        by: str,
        now: float,
        why: str,
        route: UnitRoute | None = None,
    ) -> Incident:
        """A unit joins the incident (with its route); a NEW (or held) incident becomes DISPATCHED."""
        inc = self._editable(incident_id)
        if inc.status is IS.RESOLVED:
            raise IncidentRefused(f"{inc.id} is RESOLVED: reopen it before sending a unit")
        routes = tuple(r for r in inc.routes if r.unit_id != unit_id)
        changes: dict[str, object] = {
            "unit_ids": tuple(dict.fromkeys((*inc.unit_ids, unit_id))),
            "units_ever": tuple(dict.fromkeys((*inc.units_ever, unit_id))),
            "routes": (*routes, route) if route is not None else routes,
        }
        entries = [
            Entry(now, by, EntryKind.ASSIGNED, f"{callsign} assigned" + (f": {why}" if why else ""), unit_id)
        ]
        if inc.status is IS.NEW:
            changes["status"] = IS.DISPATCHED
            entries.append(Entry(now, by, EntryKind.STATUS, "DISPATCHED"))
        if not inc.dispatched_at:
            changes["dispatched_at"] = now
        return self._change(inc, now, entries, **changes)

    def unit_released(
        self, incident_id: str, unit_id: str, callsign: str, by: str, now: float, why: str
    ) -> Incident | None:
        """A unit leaves the incident; a DISPATCHED incident (no unit reached it) left without
        units is NEW again."""
        inc = self._live.get(incident_id)
        if inc is None or unit_id not in inc.unit_ids:
            return None
        units = tuple(u for u in inc.unit_ids if u != unit_id)
        changes: dict[str, object] = {
            "unit_ids": units,
            "routes": tuple(r for r in inc.routes if r.unit_id != unit_id),
        }
        entries = [
            Entry(now, by, EntryKind.RELEASED, f"{callsign} released" + (f": {why}" if why else ""), unit_id)
        ]
        if not units and inc.status is IS.DISPATCHED:  # no unit ever reached it: needs one again
            changes["status"] = IS.NEW
            entries.append(Entry(now, by, EntryKind.STATUS, "NEW: no unit assigned"))
        return self._change(inc, now, entries, **changes)

    def unit_status(
        self, incident_id: str, unit_id: str, callsign: str, status: UnitStatus, by: str, now: float
    ) -> Incident | None:
        """An assigned unit's new status goes into the timeline; the first arrival on scene moves
        a DISPATCHED incident to IN_PROGRESS."""
        inc = self._live.get(incident_id)
        if inc is None or inc.status is IS.CLOSED:
            return None
        entries = []
        if len(inc.timeline) < MAX_TIMELINE:
            entries.append(
                Entry(now, by, EntryKind.UNIT_STATUS, f"{callsign} {status.name}", unit_id, int(status))
            )
        changes: dict[str, object] = {}
        if status not in DRIVING_THERE and any(r.unit_id == unit_id for r in inc.routes):
            changes["routes"] = tuple(r for r in inc.routes if r.unit_id != unit_id)
        if status is UnitStatus.ON_SCENE:
            if not inc.on_scene_at:
                changes["on_scene_at"] = now
            if inc.status is IS.DISPATCHED:
                changes["status"] = IS.IN_PROGRESS
                entries.append(Entry(now, by, EntryKind.STATUS, f"IN_PROGRESS: {callsign} on scene"))
        if not entries and not changes:
            return None
        return self._change(inc, now, entries, **changes)

    def _change(self, inc: Incident, now: float, entries: list[Entry], **changes: object) -> Incident:
        room = MAX_TIMELINE - len(inc.timeline)
        timeline = inc.timeline + tuple(entries[: max(0, room)])
        return self._commit(dataclasses.replace(inc, timeline=timeline, **changes), now)  # type: ignore[arg-type]

    def _commit(self, inc: Incident, now: float) -> Incident:
        stamped = dataclasses.replace(inc, sequence=self._log.last + 1, updated_at=now)
        self._live[stamped.id] = stamped
        self._log.append([stamped])
        if self.listener is not None:
            self.listener([stamped])
        return stamped
