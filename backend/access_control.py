"""The access decisions at the doors, live: the directory, the exceptions (persisted, audited) and
every decision logged (modes.sqlite3) and streamed (WatchAccessEvents, the resume contract of
the other watches). The asyncio loop's.

Three refusals within a minute at a locked door raise an "access_refused" alarm on the door
(priority 4), cleared a minute after the last refusal (single refusals are only logged); at buildings a city mode closed, those alarms are suppressed by design
(mode_engine.py), so the operator is not flooded and a SUPPRESSED filter still shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.access import (
    MAX_EXCEPTIONS,
    NOT_PERMITTED,
    AccessEvent,
    AccessRule,
    Cardholder,
    check_rule,
    decide,
)
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Kind
from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.domain.changelog import ChangeLog
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.security.principal import Principal
from vigie.backend.store.modes_sqlite import ModesStore

log = logging.getLogger(__name__)

HISTORY = 20_000
FLUSH_S = 0.2
REFUSED_CLEAR_S = 60.0
REPEATED = 3  # refusals within REFUSED_CLEAR_S at one door that raise its alarm


class ExceptionInvalid(ValueError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class UnknownException(LookupError):
    pass


class AccessControl:
    def __init__(
        self,
        store: AssetStore,
        alarms: AlarmEngine,
        audit: AuditSink,
        db: ModesStore,
        people: list[Cardholder],
        held_by: Callable[[str], str],
    ) -> None:
        """`held_by(door id)` is the open mode run holding the door ("" : none)."""
        self.store = store
        self.alarms = alarms
        self.audit = audit
        self.db = db
        self.held_by = held_by
        self.people = {p.person_id: p for p in people}
        self.by_badge = {b: p for p in people for b in p.badge_ids}
        self.groups = sorted({p.group for p in people})
        self.rules: dict[str, AccessRule] = {}
        self.epoch = ""
        self._log: ChangeLog[AccessEvent] = ChangeLog(HISTORY)
        self._seq = 0
        self._pending: list[AccessEvent] = []
        self._wake = asyncio.Event()
        self._refused_at: dict[str, float] = {}  # door id -> last refusal (its alarm clears later)
        self._refusals: dict[str, list[float]] = {}  # door id -> its last refusals' times
        self._task: asyncio.Task | None = None
        self._flush_lock = asyncio.Lock()
        # Where decisions and exceptions are saved: this backend's file, or on a cluster the bus
        # (backend/bus/modes.py), from which every replica's view logs and streams them.
        self.save_events: Callable[[list[AccessEvent]], Awaitable[None]] = self._save_events
        self.put_rule: Callable[[AccessRule | None, str], Awaitable[None]] = self._put_rule

    def load(self) -> None:
        loaded = self.db.load()
        self.epoch = loaded.access_epoch
        self._seq = loaded.access_sequence
        self._log = ChangeLog(HISTORY, last=self._seq)
        tail = [AccessEvent(**d) for d in loaded.access_tail]
        if tail and tail[-1].sequence == self._seq:
            self._log.restore(tail, self._seq)
        self.rules = {r.exception_id: r for r in (AccessRule.from_json(d) for d in loaded.exceptions)}

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="access-log")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        await self.flush()

    # --- the change log (resumable.ChangeLog) ---------------------------------------------------------

    @property
    def sequence(self) -> int:
        return self._log.last

    @property
    def oldest_available(self) -> int:
        return self._log.oldest_available

    def changes_after(self, position: int, limit: int | None = None) -> list[AccessEvent]:
        return self._log.after(position, limit)

    async def wait_for_change(self, position: int, timeout: float) -> bool:
        return await self._log.wait_beyond(position, timeout)

    # --- decisions ------------------------------------------------------------------------------------

    def on_badge(self, door_id: str, badge_id: str, now: float) -> AccessEvent | None:
        """A badge presented at a door: decide, log (durably, then streamed), alarm a refusal."""
        door = self.store.get(door_id)
        if door is None or door.kind is not Kind.ACCESS_POINT:
            return None
        person = self.by_badge.get(badge_id)
        granted, reason, exc_id = decide(door, badge_id, person, list(self.rules.values()), now)
        self._seq += 1
        event = AccessEvent(
            sequence=self._seq,
            time=now,
            asset_id=door.id,
            building=door.attributes.get("building", ""),
            building_type=door.attributes.get("building_type", ""),
            district=door.district,
            badge_id=badge_id,
            person_id=person.person_id if person else "",
            person_name=person.name if person else "",
            group=person.group if person else "",
            granted=granted,
            reason=reason,
            exception_id=exc_id,
            run_id=self.held_by(door.id),
        )
        self._pending.append(event)
        self._wake.set()
        if not granted and reason == NOT_PERMITTED:
            recent = [t for t in self._refusals.get(door.id, ()) if now - t < REFUSED_CLEAR_S]
            recent.append(now)
            self._refusals[door.id] = recent[-REPEATED:]
            self._refused_at[door.id] = now
            if len(recent) >= REPEATED:
                self.alarms.raise_alarm(
                    f"{door.id}:access_refused",
                    door,
                    "access_refused",
                    4,
                    f"Badges refused repeatedly at a locked door (last: {event.person_name or badge_id})",
                    now,
                )
        return event

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._wake.wait()
            await asyncio.sleep(FLUSH_S)
            try:
                await self.flush()
            except Exception:
                log.exception("saving access decisions failed (retrying)")
            now = time.time()
            for door_id, t in list(self._refused_at.items()):
                if now - t >= REFUSED_CLEAR_S:
                    del self._refused_at[door_id]
                    self._refusals.pop(door_id, None)
                    self.alarms.clear(f"{door_id}:access_refused", now)

    async def flush(self) -> None:
        async with self._flush_lock:
            self._wake.clear()
            events, self._pending = self._pending, []
            if not events:
                return
            try:
                await self.save_events(events)
            except BaseException:
                self._pending = events + self._pending
                raise

    async def _save_events(self, events: list[AccessEvent]) -> None:
        await self.db.add_access([e.to_json() for e in events])
        self._log.append(events)

    async def _put_rule(self, rule: AccessRule | None, remove: str) -> None:
        await self.db.put_exception(None if rule is None else rule.to_json(), remove=remove)
        if remove:
            self.rules.pop(remove, None)
        if rule is not None:
            self.rules[rule.exception_id] = rule

    async def journal(
        self, asset_id: str, person_id: str, only_refused: bool, before: int | None, limit: int
    ) -> list[AccessEvent]:
        rows = await self.db.query_access(asset_id, person_id, only_refused, before, limit)
        return [AccessEvent(**d) for d in rows]

    # --- exceptions -----------------------------------------------------------------------------------

    def buildings(self) -> dict[str, tuple[str, str, list[str]]]:
        """name -> (type, district, door ids)."""
        out: dict[str, tuple[str, str, list[str]]] = {}
        for a in self.store.assets():
            if a.kind is Kind.ACCESS_POINT and a.attributes.get("building"):
                name = a.attributes["building"]
                entry = out.setdefault(name, (a.attributes.get("building_type", ""), a.district, []))
                entry[2].append(a.id)
        return out

    async def set_rule(self, rule: AccessRule, reason: str, caller: Principal) -> AccessRule:
        known = self.buildings()
        problems = check_rule(
            rule, self.people, set(self.groups), set(known), {t for t, _, _ in known.values()}
        )
        if not reason.strip():
            problems.append("a reason is required")
        if rule.exception_id and rule.exception_id not in self.rules:
            self._record(
                caller, "access.exception_set", rule.exception_id, reason, "invalid", "unknown exception"
            )
            raise UnknownException(f"no exception {rule.exception_id[:80]!r}")
        if not rule.exception_id and len(self.rules) >= MAX_EXCEPTIONS:
            problems.append(f"at most {MAX_EXCEPTIONS} exceptions")
        if problems:
            self._record(
                caller,
                "access.exception_set",
                rule.person_id or rule.group,
                reason,
                "invalid",
                "; ".join(problems),
            )
            raise ExceptionInvalid(problems)
        stored = AccessRule(
            exception_id=rule.exception_id or f"exc-{uuid.uuid4().hex[:12]}",
            person_id=rule.person_id,
            group=rule.group,
            buildings=rule.buildings,
            building_types=rule.building_types,
            valid_from=rule.valid_from,
            valid_until=rule.valid_until,
            note=rule.note,
            created_by=caller.user,
            created_at=time.time(),
        )
        await self.put_rule(stored, "")
        self._record(
            caller,
            "access.exception_set",
            stored.exception_id,
            reason,
            "ok",
            f"{stored.who()} at {', '.join((*stored.buildings, *stored.building_types))[:500]}"
            f" from {stored.valid_from:.0f} to {stored.valid_until:.0f}",
        )
        return stored

    async def remove_rule(self, exception_id: str, reason: str, caller: Principal) -> None:
        if exception_id not in self.rules:
            self._record(
                caller, "access.exception_remove", exception_id, reason, "invalid", "unknown exception"
            )
            raise UnknownException(f"no exception {exception_id[:80]!r}")
        if not reason.strip():
            self._record(caller, "access.exception_remove", exception_id, reason, "invalid", "no reason")
            raise ExceptionInvalid(["a reason is required"])
        rule = self.rules[exception_id]
        await self.put_rule(None, exception_id)
        self._record(caller, "access.exception_remove", exception_id, reason, "ok", rule.who())

    def _record(
        self, caller: Principal, action: str, target: str, reason: str, result: str, detail: str
    ) -> None:
        self.audit.record(
            AuditEntry(
                user=caller.user,
                console=caller.console,
                action=action,
                target=target[:200],
                reason=reason[:500],
                result=result,
                detail=detail[:1000],
            )
        )
