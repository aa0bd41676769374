"""Alarms as ISA-18.2 defines them: a state machine per alarm plus a backend-wide change log.

No Qt, no gRPC, no SQLite: the engine is plain Python driven by alarm sources (raise / clear),
operators (acknowledge / shelve / unshelve) and timers (expire_shelves). Single-threaded: use it
from the backend's asyncio loop only.

The state an operator sees is derived from independent facts, so a shelved or suppressed alarm
keeps tracking its condition underneath and comes back in the state it would have had:

* `active` (the condition is present) and `acknowledged` give the ISA base state:
  active+unacked UNACK_ACTIVE, active+acked ACK_ACTIVE, cleared+unacked RTN_UNACK,
  cleared+acked NORMAL (closed: the alarm leaves the open set and is journal-only).
* On top of an open alarm, by precedence: OUT_OF_SERVICE (the asset is out of service), SUPPRESSED
  (suppressed by design: the asset is in maintenance), SHELVED (an operator hid it until
  `shelved_until`).

Transitions (the documented, simplified ISA-18.2 rules):

* raise on a source with no open alarm: a new alarm (new id), UNACK_ACTIVE, occurrences = 1.
* raise on a source whose open alarm is already active: nothing changes (the same condition).
* raise on a source whose open alarm has returned to normal but is unacknowledged (RTN_UNACK):
  the same alarm re-activates (UNACK_ACTIVE), occurrences + 1, cleared_at reset. 3 or more
  occurrences within 60 s set `chattering` (sticky for the alarm's life): the console groups them.
  An acknowledged alarm that returns to normal is closed, so its next raise is a new alarm: an
  acknowledgement therefore never reverts to unacknowledged.
* clear: UNACK_ACTIVE -> RTN_UNACK, ACK_ACTIVE -> NORMAL (closed).
* acknowledge: UNACK_ACTIVE -> ACK_ACTIVE, RTN_UNACK -> NORMAL; already acknowledged: unchanged
  (idempotent, no new sequence). Shelved/suppressed alarms may be acknowledged underneath.
* shelve: only open alarms; a new shelve replaces the previous shelf. unshelve / expiry restore
  the underlying state. Closing an alarm drops its shelf.

Every change gets the next backend-wide `sequence` (strictly +1) and `updated_at`; the log keeps
the last `history` changes for clients to resume from (`HistoryExpired` beyond that).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.changelog import ChangeLog

CHATTER_WINDOW_S = 60.0
CHATTER_COUNT = 3
MAX_SHELVE_S = 24 * 3600.0


class AlarmState(IntEnum):
    """Same numbers as vigie.v1.Alarm.State (so storage and conversion are trivial)."""

    UNACK_ACTIVE = 1
    ACK_ACTIVE = 2
    RTN_UNACK = 3
    NORMAL = 4
    SHELVED = 5
    SUPPRESSED = 6
    OUT_OF_SERVICE = 7


@dataclass(slots=True)
class Alarm:
    """One alarm occurrence; times are unix seconds, 0.0 meaning unset. Treat as immutable."""

    id: str
    source_key: str
    asset_id: str
    asset_name: str
    asset_kind: Kind
    district: str
    lat: float
    lon: float
    priority: int
    cause: str
    message: str
    state: AlarmState = AlarmState.UNACK_ACTIVE
    active: bool = True
    acknowledged: bool = False
    raised_at: float = 0.0
    cleared_at: float = 0.0
    acknowledged_at: float = 0.0
    acknowledged_by: str = ""
    ack_comment: str = ""
    shelved_until: float = 0.0
    shelved_by: str = ""
    shelve_reason: str = ""
    camera_ids: tuple[str, ...] = ()
    occurrences: int = 1
    chattering: bool = False
    sequence: int = 0
    updated_at: float = 0.0
    # Not in the proto: the facts behind the state.
    suppressed: bool = False
    suppression_reason: str = ""  # why it is suppressed by design ("maintenance", a city mode)
    out_of_service: bool = False
    recent: tuple[float, ...] = field(default_factory=tuple)  # occurrence times in the chatter window

    @property
    def closed(self) -> bool:
        return not self.active and self.acknowledged

    @property
    def shelved(self) -> bool:
        return self.shelved_until > 0.0


def derive_state(a: Alarm) -> AlarmState:
    """The operator-facing state from the alarm's facts (see the module docstring)."""
    if a.closed:
        return AlarmState.NORMAL
    if a.out_of_service:
        return AlarmState.OUT_OF_SERVICE
    if a.suppressed:
        return AlarmState.SUPPRESSED
    if a.shelved:
        return AlarmState.SHELVED
    if a.active:
        return AlarmState.ACK_ACTIVE if a.acknowledged else AlarmState.UNACK_ACTIVE
    return AlarmState.RTN_UNACK


class UnknownAlarm(KeyError):
    """Some ids are not open alarms of this engine (nothing was changed)."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(", ".join(ids))
        self.ids = ids


class AlarmClosed(ValueError):
    """The operation needs an open alarm (e.g. shelving a NORMAL one)."""


class EngineUnavailable(RuntimeError):
    """The engine that applies operator actions cannot be reached now (on a cluster: no replica
    leads at the moment); nothing was changed."""


class AlarmEngine:
    """Open alarms, their transitions and the change log. `listener` sees every change (persistence)."""

    def __init__(
        self,
        history: int = 100_000,
        epoch: str | None = None,
        sequence: int = 0,
        next_id: int = 1,
        listener: Callable[[list[Alarm]], None] | None = None,
    ) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        self.history = history
        self.epoch = epoch or uuid.uuid4().hex[:12]
        self.listener = listener
        self._open: dict[str, Alarm] = {}  # id -> alarm, every non-NORMAL alarm
        self._by_source: dict[str, str] = {}  # source_key -> id of its open alarm
        self._suppressed_assets: set[str] = set()
        # (asset id, cause) -> why: alarms a city mode causes on purpose (door locked, ...).
        self._designed: dict[tuple[str, str], str] = {}
        self._oos_assets: set[str] = set()
        self._next_id = next_id
        self._log: ChangeLog[Alarm] = ChangeLog(history, last=sequence)

    # --- queries --------------------------------------------------------------------------------------

    @property
    def sequence(self) -> int:
        return self._log.last

    @property
    def next_id(self) -> int:
        return self._next_id

    @property
    def oldest_available(self) -> int:
        """The oldest sequence still in the log (resuming after oldest_available - 1 works)."""
        return self._log.oldest_available

    def open_alarms(self) -> list[Alarm]:
        """Every alarm that is not NORMAL (shelved and suppressed included), oldest id first."""
        return list(self._open.values())

    def get(self, alarm_id: str) -> Alarm | None:
        """An open alarm by id (closed ones live in the journal only)."""
        return self._open.get(alarm_id)

    def open_for(self, source_key: str) -> Alarm | None:
        i = self._by_source.get(source_key)
        return None if i is None else self._open[i]

    def changes_after(self, sequence: int, limit: int | None = None) -> list[Alarm]:
        """The alarm states produced after `sequence`, oldest first (at most `limit`)."""
        return self._log.after(sequence, limit)

    async def wait_for_change(self, sequence: int, timeout: float) -> bool:
        """Wait until the sequence exceeds `sequence`; False on timeout."""
        return await self._log.wait_beyond(sequence, timeout)

    # --- restore (persistence) ------------------------------------------------------------------------

    def restore(self, open_alarms: Iterable[Alarm], log: list[Alarm]) -> None:
        """Reload open alarms and the log tail saved by a previous run (before any change)."""
        for a in open_alarms:
            if a.closed:
                continue
            self._open[a.id] = a
            self._by_source[a.source_key] = a.id
            if a.suppressed and a.suppression_reason in ("", "maintenance"):
                self._suppressed_assets.add(a.asset_id)
            elif a.suppressed:  # a city mode's: the mode engine re-applies it when it loads
                self._designed[(a.asset_id, a.cause)] = a.suppression_reason
            if a.out_of_service:
                self._oos_assets.add(a.asset_id)
        if (
            log
            and log[-1].sequence == self._log.last
            and all(b.sequence == a.sequence + 1 for a, b in zip(log, log[1:], strict=False))
        ):
            self._log.restore(log, self._log.last)

    def reload(self, open_alarms: Iterable[Alarm], sequence: int, next_id: int) -> None:
        """Forget everything and start again from these open alarms, numbering the next change
        `sequence` + 1 and the next alarm `next_id`: a new cluster leader's engine taking over
        the alarms as the bus has them (backend/bus/alarms.py), so that its sources update the
        open alarms instead of raising them again. Waiting streams are not woken."""
        self._open.clear()
        self._by_source.clear()
        self._suppressed_assets.clear()
        self._designed.clear()
        self._oos_assets.clear()
        self._next_id = next_id
        self._log.restore([], sequence)
        self.restore(open_alarms, [])

    # --- transitions ----------------------------------------------------------------------------------

    def raise_alarm(
        self,
        source_key: str,
        asset: Asset,
        cause: str,
        priority: int,
        message: str,
        now: float,
        camera_ids: Iterable[str] = (),
        position: tuple[float, float] | None = None,
    ) -> Alarm | None:
        """The condition behind `source_key` is present. Returns the changed alarm, None if unchanged."""
        if not 1 <= priority <= 4:
            raise ValueError("priority must be 1..4")
        current = self.open_for(source_key)
        if current is not None:
            if current.active:
                return None
            recent = (*(t for t in current.recent if t > now - CHATTER_WINDOW_S), now)
            return self._commit(
                [
                    dataclasses.replace(
                        current,
                        active=True,
                        cleared_at=0.0,
                        occurrences=current.occurrences + 1,
                        recent=recent,
                        chattering=current.chattering or len(recent) >= CHATTER_COUNT,
                        message=message,
                    )
                ],
                now,
            )[0]
        lat, lon = position if position is not None else (asset.lat, asset.lon)
        alarm = Alarm(
            id=f"alm-{self._next_id:06d}",
            source_key=source_key,
            asset_id=asset.id,
            asset_name=asset.name,
            asset_kind=asset.kind,
            district=asset.district,
            lat=lat,
            lon=lon,
            priority=priority,
            cause=cause,
            message=message,
            raised_at=now,
            camera_ids=tuple(camera_ids),
            recent=(now,),
            suppressed=asset.id in self._suppressed_assets or (asset.id, cause) in self._designed,
            suppression_reason=self._suppression_reason(asset.id, cause),
            out_of_service=asset.id in self._oos_assets,
        )
        self._next_id += 1
        return self._commit([alarm], now)[0]

    def clear(self, source_key: str, now: float) -> Alarm | None:
        """The condition is gone. Returns the changed alarm, None if there was no active one."""
        current = self.open_for(source_key)
        if current is None or not current.active:
            return None
        return self._commit([dataclasses.replace(current, active=False, cleared_at=now)], now)[0]

    def _known(self, ids: Iterable[str]) -> list[Alarm]:
        unique = list(dict.fromkeys(ids))
        missing = [i for i in unique if i not in self._open]
        if missing:
            raise UnknownAlarm(missing)
        return [self._open[i] for i in unique]

    def acknowledge(self, ids: Iterable[str], operator: str, comment: str, now: float) -> list[Alarm]:
        """Acknowledge open alarms (already acknowledged ones are returned as they are).

        Raises UnknownAlarm (changing nothing) if an id is not open here."""
        alarms = self._known(ids)
        todo = [
            dataclasses.replace(
                a, acknowledged=True, acknowledged_at=now, acknowledged_by=operator, ack_comment=comment
            )
            for a in alarms
            if not a.acknowledged
        ]
        done = {a.id: a for a in self._commit(todo, now)}
        return [done.get(a.id, a) for a in alarms]

    def shelve(
        self, ids: Iterable[str], duration_s: float, reason: str, operator: str, now: float
    ) -> list[Alarm]:
        """Hide open alarms until now + duration_s. Raises UnknownAlarm or ValueError, changing nothing."""
        if not 0 < duration_s <= MAX_SHELVE_S:
            raise ValueError("duration must be positive and at most 24 h")
        if not reason:
            raise ValueError("a reason is required")
        alarms = self._known(ids)
        todo = [
            dataclasses.replace(a, shelved_until=now + duration_s, shelved_by=operator, shelve_reason=reason)
            for a in alarms
        ]
        return self._commit(todo, now)

    def unshelve(self, ids: Iterable[str], operator: str, now: float) -> list[Alarm]:
        """Bring shelved alarms back in their underlying state (unshelved ones are returned as is)."""
        alarms = self._known(ids)
        done = {a.id: a for a in self._commit([_unshelved(a) for a in alarms if a.shelved], now)}
        return [done.get(a.id, a) for a in alarms]

    def expire_shelves(self, now: float) -> list[Alarm]:
        """Unshelve every alarm whose shelf ended at or before `now` (run on a timer)."""
        due = [_unshelved(a) for a in self._open.values() if a.shelved and a.shelved_until <= now]
        return self._commit(due, now)

    def next_shelf_expiry(self) -> float | None:
        return min((a.shelved_until for a in self._open.values() if a.shelved), default=None)

    def set_suppressed(self, asset_id: str, suppressed: bool, now: float) -> list[Alarm]:
        """Suppression by design (the asset is in maintenance): its alarms, present and future."""
        (self._suppressed_assets.add if suppressed else self._suppressed_assets.discard)(asset_id)
        todo = [
            dataclasses.replace(
                a,
                suppressed=suppressed or (a.asset_id, a.cause) in self._designed,
                suppression_reason=self._suppression_reason(a.asset_id, a.cause),
            )
            for a in self._open.values()
            if a.asset_id == asset_id
            and (a.suppressed, a.suppression_reason)
            != (
                suppressed or (a.asset_id, a.cause) in self._designed,
                self._suppression_reason(a.asset_id, a.cause),
            )
        ]
        return self._commit(todo, now)

    def suppress_by_design(self, pairs: Iterable[tuple[str, str]], reason: str, now: float) -> list[Alarm]:
        """Alarms of these (asset id, cause) pairs, present and future, are suppressed by design
        (a city mode causes them on purpose), with `reason`; `lift_by_design` ends it."""
        wanted = set(pairs)
        for p in wanted:
            self._designed[p] = reason
        todo = [
            dataclasses.replace(
                a, suppressed=True, suppression_reason=self._suppression_reason(a.asset_id, a.cause)
            )
            for a in self._open.values()
            if (a.asset_id, a.cause) in wanted
        ]
        return self._commit(todo, now)

    def lift_by_design(self, pairs: Iterable[tuple[str, str]], now: float) -> list[Alarm]:
        gone = set(pairs)
        for p in gone:
            self._designed.pop(p, None)
        todo = [
            dataclasses.replace(
                a,
                suppressed=a.asset_id in self._suppressed_assets,
                suppression_reason=self._suppression_reason(a.asset_id, a.cause),
            )
            for a in self._open.values()
            if (a.asset_id, a.cause) in gone and a.suppressed
        ]
        return self._commit(todo, now)

    def _suppression_reason(self, asset_id: str, cause: str) -> str:
        designed = self._designed.get((asset_id, cause))
        if designed is not None:
            return designed
        return "maintenance" if asset_id in self._suppressed_assets else ""

    def set_out_of_service(self, asset_id: str, oos: bool, now: float) -> list[Alarm]:
        """The asset is out of service: its alarms, present and future, are OUT_OF_SERVICE."""
        (self._oos_assets.add if oos else self._oos_assets.discard)(asset_id)
        todo = [
            dataclasses.replace(a, out_of_service=oos)
            for a in self._open.values()
            if a.asset_id == asset_id and a.out_of_service != oos
        ]
        return self._commit(todo, now)

    # --- internals ------------------------------------------------------------------------------------

    def _commit(self, alarms: list[Alarm], now: float) -> list[Alarm]:
        """Stamp each new state with the next sequence, index it, log it and tell the listener."""
        if not alarms:
            return []
        out = []
        seq = self._log.last
        for a in alarms:
            seq += 1
            if a.closed:
                a = dataclasses.replace(a, shelved_until=0.0, shelved_by="", shelve_reason="")
            a.state = derive_state(a)
            a.sequence = seq
            a.updated_at = now
            if a.closed:
                self._open.pop(a.id, None)
                if self._by_source.get(a.source_key) == a.id:
                    del self._by_source[a.source_key]
            else:
                self._open[a.id] = a
                self._by_source[a.source_key] = a.id
            out.append(a)
        self._log.append(out)
        if self.listener is not None:
            self.listener(out)
        return out


def _unshelved(a: Alarm) -> Alarm:
    return dataclasses.replace(a, shelved_until=0.0, shelved_by="", shelve_reason="")
