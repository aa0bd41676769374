"""City modes and access control on the bus (docs/cluster.md): one mode engine, on the leader;
every replica shows the same runs and decisions.

* The leader's engine saves each flush of its journal (backend/mode_journal.py) by publishing it,
  acknowledged and fenced by the lease (backend/bus/acked.py): the device records (what each
  mode recorded to restore at its end) into VIGIE_MODE_DEVICES, one subject per run and device,
  then the runs into VIGIE_MODES, one subject per run. A record is on the bus before its first
  command leaves, as it was on disk before.
* Every replica follows both streams (backend/bus/view.py): the runs' stream sequence numbers
  WatchModes (its epoch from the stream's identity), so a console resumes on any replica; its
  engine mirrors them while it does not lead (ListModes, GetRun, ListRuns, previews), and its
  modes.sqlite3 is its journal of them (returned runs' records, read back by GetRun).
* A new leader's engine takes over from the views (`ModeEngine.take_over`): the same runs, ids,
  idempotency keys and recorded states; devices left on their way end timed out, the open runs'
  suppressions by design are applied again by its alarm engine.
* Activate, RetryFailed and ReturnToNormal given to any replica go to the leader (`ModeRelay`,
  `vigie-leader.modes`, backend/bus/relay.py); while none leads they are refused UNAVAILABLE and
  nothing is done. The audit records are the asking replica's (the leader collects them).
* Access decisions are made where badges are presented (the leader's simulator) and published
  into VIGIE_ACCESS, whose sequence numbers WatchAccessEvents on every replica; exceptions go
  into VIGIE_ACCESS_RULES from the replica the supervisor called, and every replica's access
  control applies them from there.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg

from vigie.backend.access_control import AccessControl
from vigie.backend.bus.acked import AckedPublisher, Outgoing, Sent, send_until_acked
from vigie.backend.bus.connection import (
    ACCESS_RULES_STREAM,
    ACCESS_RULES_SUBJECT,
    ACCESS_STREAM,
    ACCESS_SUBJECT,
    MODE_DEVICES_STREAM,
    MODE_DEVICES_SUBJECT,
    MODES_STREAM,
    MODES_SUBJECT,
    Bus,
)
from vigie.backend.bus.relay import LeaderRelay
from vigie.backend.bus.view import StreamView
from vigie.backend.domain.access import AccessEvent, AccessRule
from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.domain.mode_runs import DeviceRecord, RunInfo, newest_first
from vigie.backend.domain.modes import Scope
from vigie.backend.mode_engine import (
    AUDIT_TO,
    ModeDenied,
    ModeEngine,
    ModeInvalid,
    ModeUnavailable,
    RunBusy,
    UnknownRun,
)
from vigie.backend.security.principal import Principal, Role
from vigie.backend.store.modes_sqlite import ModesStore

log = logging.getLogger(__name__)

SUBJECT = "vigie-leader.modes"
REQUEST_TIMEOUT_S = 15.0  # an activation plans the city and waits for the bus to store it
SEEN_TIMEOUT_S = 5.0  # how long the asking replica waits for its views to show the change
RULE_TIMEOUT_S = 10.0  # how long an exception waits for the bus to store it


def _token(*parts: str) -> str:
    """A subject token for any text (device ids may hold dots or spaces)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _dump(d: dict) -> bytes:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


# --- the views ---------------------------------------------------------------------------------------


class RunView(StreamView[RunInfo]):
    """Every run as the stream has it; WatchModes reads it (open_runs, sequence, changes_after...)."""

    stream = MODES_STREAM
    subject = MODES_SUBJECT
    what = "mode run"

    def __init__(self, epoch: str, history: int = 20_000) -> None:
        super().__init__(epoch, history)
        self.runs: dict[str, RunInfo] = {}

    def open_runs(self) -> list[RunInfo]:
        return [dataclasses.replace(r) for r in self.runs.values() if r.open]

    def run(self, run_id: str) -> RunInfo:
        run = self.runs.get(run_id)
        if run is None:
            raise UnknownRun(f"no mode run {run_id[:80]!r}")
        return run

    def journal(self, before: float | None, limit: int) -> list[RunInfo]:
        """The runs, newest first (ListRuns), as WatchModes numbers them."""
        return newest_first(self.runs.values(), before, limit)

    def decode(self, msg: Msg, seq: int) -> RunInfo | None:
        run = RunInfo.from_json(json.loads(msg.data))
        run.sequence = seq
        return run

    def index(self, item: RunInfo) -> None:
        self.runs[item.run_id] = item


class DeviceView(StreamView[tuple[str, DeviceRecord]]):
    """The runs' device records, (run id, record), as the stream has them."""

    stream = MODE_DEVICES_STREAM
    subject = MODE_DEVICES_SUBJECT
    what = "mode device record"

    def decode(self, msg: Msg, seq: int) -> tuple[str, DeviceRecord] | None:
        d = json.loads(msg.data)
        return str(d["run_id"]), DeviceRecord.from_json(d["record"])


class AccessView(StreamView[AccessEvent]):
    """The doors' decisions from the replica's arrival on (decisions, not states: no load)."""

    stream = ACCESS_STREAM
    subject = ACCESS_SUBJECT
    what = "access decision"
    load_last = False

    def decode(self, msg: Msg, seq: int) -> AccessEvent | None:
        d = json.loads(msg.data)
        d["sequence"] = seq
        return AccessEvent(**d)


class RuleView(StreamView[tuple[str, AccessRule | None]]):
    """The access exceptions, (id, rule or None once removed), applied to `rules`."""

    stream = ACCESS_RULES_STREAM
    subject = ACCESS_RULES_SUBJECT
    what = "access exception"

    def __init__(self, epoch: str, rules: dict[str, AccessRule]) -> None:
        super().__init__(epoch, 1000)
        self.rules = rules

    def decode(self, msg: Msg, seq: int) -> tuple[str, AccessRule | None] | None:
        d = json.loads(msg.data)
        if "removed" in d:
            return str(d["removed"]), None
        rule = AccessRule.from_json(d)
        return rule.exception_id, rule

    def index(self, item: tuple[str, AccessRule | None]) -> None:
        exception_id, rule = item
        if rule is None:
            self.rules.pop(exception_id, None)
        else:
            self.rules[exception_id] = rule


# --- the whole --------------------------------------------------------------------------------------


class ModesOnBus:
    """A replica's city modes and access control on the bus (see the module): `follow()` before
    the lease is competed for, `lead()` when it is gained, `step_down()` when it is lost."""

    def __init__(
        self,
        bus: Bus,
        may_publish: Callable[[], bool],
        engine: ModeEngine,
        access: AccessControl,
        db: ModesStore,
        audit: AuditSink,
    ) -> None:
        self.bus = bus
        self.may_publish = may_publish
        self.engine = engine
        self.access = access
        self.db = db
        self.leading = False
        self.runs = RunView(bus.epochs[MODES_STREAM])
        self.devices = DeviceView(bus.epochs[MODE_DEVICES_STREAM], 1000)
        self.decisions = AccessView(bus.epochs[ACCESS_STREAM], 20_000)
        self.rules = RuleView(bus.epochs[ACCESS_RULES_STREAM], access.rules)
        self.records: dict[str, dict[tuple[str, str], DeviceRecord]] = {}  # of the runs not returned
        self.relay = ModeRelay(self, audit)
        self._acked = AckedPublisher(bus.nc)
        self._send_lock = asyncio.Lock()
        self._prefix = uuid.uuid4().hex[:12]
        self._sent = 0
        self.runs.listener = self._on_runs
        self.devices.listener = self._on_devices
        self.decisions.listener = self._on_decisions
        self.rules.listener = self._on_rules
        engine.saved.sink = self._publish_runs
        access.save_events = self._publish_decisions
        access.put_rule = self._publish_rule
        access.epoch = self.decisions.epoch

    async def follow(self) -> None:
        await self._acked.start()
        for view in (self.runs, self.devices, self.rules, self.decisions):
            try:
                await view.follow(self.bus.js)
            except TimeoutError as exc:
                raise OSError(f"the bus did not give this replica the {view.what}s in time: {exc!r}") from exc

    async def stop(self) -> None:
        for view in (self.runs, self.devices, self.rules, self.decisions):
            await view.stop()
        await self._acked.stop()

    async def catch_up(self, timeout: float) -> None:
        """Until this replica's views have what the mode streams hold now (TimeoutError)."""
        for view in (self.devices, self.runs):
            await view.catch_up(self.bus.js, timeout)

    # --- leadership -----------------------------------------------------------------------------------

    async def lead(self) -> None:
        """This replica leads: its engine takes the runs over as the bus has them, then applies
        the cluster's requests. Until its views have the whole streams it waits (it would start
        from an older state): the bus in trouble is tried again every second meanwhile."""
        while True:
            try:
                await self.catch_up(10.0)
                break
            except Exception as exc:  # the bus away or slow: the modes wait, the leader's other work not
                log.warning("city modes wait for the mode streams: %r", exc)
                await asyncio.sleep(1.0)
        self.leading = True
        runs = [copy.deepcopy(r) for r in self.runs.runs.values()]
        records = {i: [copy.deepcopy(r) for r in recs.values()] for i, recs in self.records.items()}
        self.engine.take_over(runs, records)
        await self.engine.start()
        await self.relay.serve()
        log.warning(
            "city modes run here: %d open runs taken over, mode stream at %d",
            sum(r.open for r in runs),
            self.runs.sequence,
        )

    async def step_down(self) -> None:
        await self.relay.stop_serving()
        self.leading = False
        try:
            await self.engine.stop()
        except ModeUnavailable as exc:  # its last changes: the next leader starts from the stream
            log.warning("city modes stop here: %s", exc)
        self.engine.mirror(
            list(self.runs.runs.values()), {i: list(r.values()) for i, r in self.records.items()}
        )

    # --- from the streams -----------------------------------------------------------------------------

    def _on_runs(self, runs: list[RunInfo]) -> None:
        self.db.soon("mode runs", self.db.db.write, runs, [], [])
        for r in runs:
            if not r.open:
                self.records.pop(r.run_id, None)
        if not self.leading:
            self.engine.mirror(runs, {})

    def _on_devices(self, items: list[tuple[str, DeviceRecord]]) -> None:
        self.db.soon("mode device records", self.db.db.write, [], items, [])
        touched = set()
        for run_id, rec in items:
            run = self.runs.runs.get(run_id)
            if run is not None and not run.open:
                continue  # returned: on disk only
            self.records.setdefault(run_id, {})[rec.key] = rec
            touched.add(run_id)
        if not self.leading and touched:
            self.engine.mirror([], {i: list(self.records[i].values()) for i in touched})

    def _on_decisions(self, events: list[AccessEvent]) -> None:
        self.db.soon("access decisions", self.db.db.add_access, [e.to_json() for e in events])

    def _on_rules(self, items: list[tuple[str, AccessRule | None]]) -> None:
        for exception_id, rule in items:
            d = None if rule is None else rule.to_json()
            self.db.soon(
                "access exception", self.db.db.put_exception, d, exception_id if rule is None else ""
            )

    # --- to the streams -------------------------------------------------------------------------------

    def _msg_id(self) -> str:
        self._sent += 1
        return f"{self._prefix}:{self._sent}"

    async def _send(self, out: list[Outgoing], may_publish: Callable[[], bool], what: str) -> int:
        """Send until acknowledged while `may_publish()`; how many were not sent."""
        done = Sent()
        async with self._send_lock:  # one batch at a time on the acknowledged publisher
            await send_until_acked(self._acked, out, may_publish, what, done)
        return done.fenced

    async def _publish_runs(
        self, runs: list[RunInfo], devices: list[tuple[str, DeviceRecord]], _log: list
    ) -> None:
        """The engine's journal sink: records first, then runs; raises if not all stored."""
        out = [
            Outgoing(
                f"{MODE_DEVICES_SUBJECT}.{run_id}.{_token(*rec.key)}",
                _dump({"run_id": run_id, "record": rec.to_json()}),
                self._msg_id(),
            )
            for run_id, rec in devices
        ]
        out += [Outgoing(f"{MODES_SUBJECT}.{r.run_id}", _dump(r.to_json()), self._msg_id()) for r in runs]
        missed = await self._send(out, self.may_publish, "mode")
        if missed:
            raise ModeUnavailable(f"{missed} mode changes not published: this replica no longer leads")

    async def _publish_decisions(self, events: list[AccessEvent]) -> None:
        out = [
            Outgoing(f"{ACCESS_SUBJECT}.{_token(e.asset_id)}", _dump(e.to_json()), self._msg_id())
            for e in events
        ]
        missed = await self._send(out, self.may_publish, "access decision")
        if missed:  # made by a leader that no longer is: dropped (the next leader decides)
            log.warning("%d access decisions dropped: this replica no longer leads", missed)

    async def _publish_rule(self, rule: AccessRule | None, remove: str) -> None:
        """From the replica the supervisor called (no leader needed); returns once its own access
        control has it."""
        exception_id = remove if rule is None else rule.exception_id
        d = {"removed": remove} if rule is None else rule.to_json()
        deadline = time.monotonic() + RULE_TIMEOUT_S
        out = [Outgoing(f"{ACCESS_RULES_SUBJECT}.{_token(exception_id)}", _dump(d), self._msg_id())]
        if await self._send(out, lambda: time.monotonic() < deadline, "access exception"):
            raise ModeUnavailable("the bus did not store the exception in time: try again")
        await self.rules.catch_up(self.bus.js, SEEN_TIMEOUT_S)


class ModeRelay(LeaderRelay):
    """Activate, RetryFailed and ReturnToNormal, applied by the leader's engine (see the module),
    with the engine's signatures: ModeService calls this instead of the engine on a cluster."""

    def __init__(self, on_bus: ModesOnBus, audit: AuditSink) -> None:
        super().__init__(on_bus.bus.nc, SUBJECT, ModeUnavailable, REQUEST_TIMEOUT_S)
        self.on_bus = on_bus
        self.engine = on_bus.engine
        self.audit = audit
        self.applied = 0  # requests this replica's engine applied (as the leader)

    async def activate(
        self, key: str, mode_id: str, scope: Scope, reason: str, confirmed: bool, caller: Principal
    ) -> tuple[RunInfo, bool]:
        answer = await self._call(
            caller,
            {
                "op": "activate",
                "key": key,
                "mode_id": mode_id,
                "scope": {"whole_city": scope.whole_city, "districts": list(scope.districts)},
                "reason": reason,
                "confirmed": confirmed,
            },
        )
        return self._run(answer), bool(answer["replayed"])

    async def retry(
        self,
        key: str,
        run_id: str,
        reason: str,
        confirmed: bool,
        caller: Principal,
        include_recovered: bool = False,
    ) -> tuple[RunInfo, list[str], bool]:
        answer = await self._call(
            caller,
            {
                "op": "retry",
                "key": key,
                "run_id": run_id,
                "reason": reason,
                "confirmed": confirmed,
                "include_recovered": include_recovered,
            },
        )
        return self._run(answer), [str(i) for i in answer["ids"]], bool(answer["replayed"])

    async def return_to_normal(
        self,
        key: str,
        run_id: str,
        reason: str,
        confirmed: bool,
        caller: Principal,
        dry_run: bool = False,
        restore: frozenset[str] = frozenset(),
        restore_all: bool = False,
    ) -> tuple[RunInfo, list[DeviceRecord], bool]:
        if dry_run:  # reads only: this replica's copy answers
            return await self.engine.return_to_normal(key, run_id, reason, confirmed, caller, dry_run=True)
        answer = await self._call(
            caller,
            {
                "op": "return",
                "key": key,
                "run_id": run_id,
                "reason": reason,
                "confirmed": confirmed,
                "restore": sorted(restore),
                "restore_all": restore_all,
            },
        )
        # The devices changed by hand, as this replica's copy of the run's records has them (a
        # list of records could exceed a NATS message).
        hand = [dataclasses.replace(r) for r in await self.engine.records(run_id) if r.hand_changed]
        return self._run(answer), hand, bool(answer["replayed"])

    def _run(self, answer: dict[str, Any]) -> RunInfo:
        """The run as this replica's WatchModes has it (numbered by the stream)."""
        run_id = str(answer["run_id"])
        run = self.on_bus.runs.runs.get(run_id) or self.engine.run(run_id)
        return dataclasses.replace(run)

    async def _call(self, caller: Principal, request: dict[str, Any]) -> dict[str, Any]:
        request["caller"] = {"user": caller.user, "role": int(caller.role), "console": caller.console}
        answer = await self.ask(request)
        for entry in answer.get("audit", ()):  # recorded here, by the replica the console called
            self.audit.record(AuditEntry(**entry))
        error = answer.get("error")
        if error == "invalid":
            raise ModeInvalid([str(r) for r in answer["reasons"]])
        if error == "denied":
            raise ModeDenied(str(answer["detail"]))
        if error == "unknown":
            raise UnknownRun(str(answer["detail"]))
        if error == "busy":
            raise RunBusy(str(answer["detail"]))
        if error:
            raise ModeUnavailable(str(answer.get("detail") or error))
        try:
            await self.on_bus.catch_up(SEEN_TIMEOUT_S)
        except TimeoutError as exc:
            raise ModeUnavailable(
                "the leader applied it but this replica has not seen it in time: check the run before"
                " trying again"
            ) from exc
        return answer

    # --- on the leader --------------------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        collected: list[AuditEntry] = []
        token = AUDIT_TO.set(collected)
        try:
            answer = await self._apply(request)
        except ModeInvalid as exc:
            answer = {"error": "invalid", "reasons": exc.reasons}
        except ModeDenied as exc:
            answer = {"error": "denied", "detail": str(exc)}
        except UnknownRun as exc:
            answer = {"error": "unknown", "detail": str(exc)}
        except RunBusy as exc:
            answer = {"error": "busy", "detail": str(exc)}
        except ModeUnavailable as exc:
            answer = {"error": "no-leader", "detail": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            answer = {"error": "invalid", "reasons": [f"malformed request: {exc!r}"]}
        finally:
            AUDIT_TO.reset(token)
        answer["audit"] = [dataclasses.asdict(e) for e in collected]
        return answer

    async def _apply(self, r: dict[str, Any]) -> dict[str, Any]:
        c = r["caller"]
        caller = Principal(user=str(c["user"]), role=Role(int(c["role"])), console=str(c["console"]))
        key, reason, confirmed = str(r["key"]), str(r["reason"]), bool(r["confirmed"])
        op = r["op"]
        if op == "activate":
            scope = Scope(bool(r["scope"]["whole_city"]), tuple(str(d) for d in r["scope"]["districts"]))
            run, replayed = await self.engine.activate(
                key, str(r["mode_id"]), scope, reason, confirmed, caller
            )
            answer: dict[str, Any] = {"run_id": run.run_id, "replayed": replayed}
        elif op == "retry":
            run, ids, replayed = await self.engine.retry(
                key,
                str(r["run_id"]),
                reason,
                confirmed,
                caller,
                include_recovered=bool(r["include_recovered"]),
            )
            answer = {"run_id": run.run_id, "ids": ids, "replayed": replayed}
        elif op == "return":
            run, _, replayed = await self.engine.return_to_normal(
                key,
                str(r["run_id"]),
                reason,
                confirmed,
                caller,
                restore=frozenset(str(i) for i in r["restore"]),
                restore_all=bool(r["restore_all"]),
            )
            answer = {"run_id": run.run_id, "replayed": replayed}
        else:
            raise ValueError(f"unknown operation {op!r}")
        self.applied += 1
        return answer
