"""Runs city modes through the command path: preview, activate, retry the failures, return to
normal (the asyncio loop's).

Every device change is an ordinary command of the CommandBook (so its audit records, role checks
and ACCEPTED -> ACKNOWLEDGED -> CONFIRMED stages are the commands'), sent in batches of at most
`batch` devices with at most `in_flight` batches on their way. Before the first command leaves,
the run and each device's previous state are on disk; progress and the WatchModes log are kept by
mode_journal.py. At startup, runs the backend left on their way end as if their unconfirmed
devices timed out: "Retry failed" resends them, and "Return to normal" still restores the
recorded states. Longer than most modules: activation, retry and return share the checks,
batching and bookkeeping below, and splitting them would scatter one state machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.actions import Action, Params, describe, shows
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Asset
from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.domain.commands import (
    MAX_REASON,
    CommandBook,
    CommandDenied,
    CommandInvalid,
    CommandRequest,
    Stage,
    check_key,
)
from vigie.backend.domain.mode_runs import (
    REFUSING,
    DeviceRecord,
    Phase,
    PhaseResult,
    Plan,
    RunInfo,
    RunState,
    make_plan,
    newest_first,
    record_for,
)
from vigie.backend.domain.modes import ModeDef, Scope, recorded, state_text
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.mode_journal import RunJournal
from vigie.backend.security.principal import Principal, Role
from vigie.backend.store.modes_sqlite import ModesStore

log = logging.getLogger(__name__)

BATCH = 500
IN_FLIGHT = 4
PROGRESS_S = 0.25


class ModeInvalid(ValueError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class ModeDenied(PermissionError):
    pass


class UnknownRun(LookupError):
    pass


class RunBusy(RuntimeError):
    """The run is not in a state that allows this (FAILED_PRECONDITION)."""


class ModeUnavailable(RuntimeError):
    """On a cluster, no replica leads to apply it (UNAVAILABLE); nothing was done."""


# Where the engine's audit records go instead of its sink: a leader replica applying a request
# relayed from another collects them here, and the replica the console called records them.
AUDIT_TO: ContextVar[list[AuditEntry] | None] = ContextVar("mode_audit_to", default=None)


@dataclass(slots=True)
class _Replay:
    fingerprint: str
    run_id: str
    extra: list  # what the first answer listed (retried ids, hand-changed records)


class ModeEngine:
    def __init__(
        self,
        modes: list[ModeDef],
        store: AssetStore,
        book: CommandBook,
        alarms: AlarmEngine,
        audit: AuditSink,
        db: ModesStore,
        cameras_for: Callable[[Asset], list[str]],
        batch: int = BATCH,
        in_flight: int = IN_FLIGHT,
        progress_s: float = PROGRESS_S,
    ) -> None:
        self.modes = {m.id: m for m in modes}
        self.store = store
        self.book = book
        self.alarms = alarms
        self.audit = audit
        self.db = db
        self.cameras_for = cameras_for
        self.batch = max(1, min(batch, 500))
        self.in_flight = max(1, in_flight)
        self._runs: dict[str, RunInfo] = {}
        self._records: dict[str, list[DeviceRecord]] = {}
        self._keys: dict[tuple[str, str], _Replay] = {}
        self.saved = RunJournal(db, self._records.get, progress_s)
        self._tasks: set[asyncio.Task] = set()
        self._held_cache: dict[str, tuple[str, str, str]] | None = None  # asset -> open run holding it

    # --- startup, shutdown ----------------------------------------------------------------------------

    def load(self) -> None:
        """Restore runs, records and the log from the store (before serving)."""
        loaded = self.db.load()
        self.saved.restore(loaded)
        self._restore(
            [RunInfo.from_json(d) for d in loaded.runs],
            {k: [DeviceRecord.from_json(r) for r in v] for k, v in loaded.devices.items()},
            "the backend restarted before the device confirmed: retry it",
        )

    def take_over(self, runs: list[RunInfo], devices: dict[str, list[DeviceRecord]]) -> None:
        """A new leader replica's engine (docs/cluster.md): the runs and records as the bus has
        them replace what it mirrored; the devices the last leader left on their way end as
        after a restart (timed out: "Retry failed" resends them), the suppressions by design of
        the open runs are applied again by this replica's alarm engine."""
        self._runs.clear()
        self._records.clear()
        self._keys.clear()
        self._held_cache = None
        self.saved.discard()
        self._restore(runs, devices, "the leader replica changed before the device confirmed: retry it")

    def mirror(self, runs: list[RunInfo], records: dict[str, list[DeviceRecord]]) -> None:
        """On a replica that does not lead: runs, and the whole records of some runs, as the
        leader's engine published them (backend/bus/modes.py), so that this replica's ListModes,
        GetRun, ListRuns, previews and dry runs show them. Read only here: never executed."""
        for run in runs:
            self._runs[run.run_id] = run
            if not run.open:  # returned: its records live on disk only (GetRun reads them back)
                self._records.pop(run.run_id, None)
        for run_id, recs in records.items():
            known = self._runs.get(run_id)
            if known is None or known.open:
                self._records[run_id] = recs
        self._held_cache = None

    def _restore(self, runs: list[RunInfo], devices: dict[str, list[DeviceRecord]], why: str) -> None:
        now = time.time()
        for run in runs:
            self._runs[run.run_id] = run
            for k, fp in run.keys.items():
                user, _, key = k.partition("\n")
                self._keys[(user, key)] = _Replay(fp, run.run_id, [])
        for run_id, records in devices.items():
            run = self._runs.get(run_id)
            if run is None or not run.open:
                continue
            self._records[run_id] = records
            phase = run.phase
            fixed = False
            for r in records:
                res = r.result(phase)
                if res.pending:
                    fixed = True
                    res.stage = Stage.TIMED_OUT.value
                    res.detail = why
                    res.updated_at = now
                    self.saved.touch_record(run_id, r)
            if fixed or run.state in (RunState.ACTIVATING, RunState.RETURNING):
                run.state = RunState.ACTIVATING if phase is Phase.ACTIVATION else RunState.RETURNING
                self._finish_phase(run)
            if run.state in (RunState.ACTIVATING, RunState.ACTIVE, RunState.PARTIAL):
                self._suppress(run, records)

    async def start(self) -> None:
        await self.saved.start()
        if self.saved.pending:
            await self.saved.flush()

    async def stop(self) -> None:
        tasks = list(self._tasks)
        await cancel_and_wait(*tasks)
        await self.saved.stop()

    # --- the change log (resumable.ChangeLog), kept by the journal -----------------------------------

    @property
    def epoch(self) -> str:
        return self.saved.epoch

    @property
    def sequence(self) -> int:
        return self.saved.sequence

    @property
    def oldest_available(self) -> int:
        return self.saved.oldest_available

    def changes_after(self, position: int, limit: int | None = None) -> list[RunInfo]:
        return self.saved.changes_after(position, limit)

    async def wait_for_change(self, position: int, timeout: float) -> bool:
        return await self.saved.wait_for_change(position, timeout)

    # --- queries --------------------------------------------------------------------------------------

    def open_runs(self) -> list[RunInfo]:
        return [dataclasses.replace(r) for r in self._runs.values() if r.open]

    def run(self, run_id: str) -> RunInfo:
        run = self._runs.get(run_id)
        if run is None:
            raise UnknownRun(f"no mode run {run_id[:80]!r}")
        return run

    async def records(self, run_id: str, keep: bool = False) -> list[DeviceRecord]:
        """A run's device records; a returned run's are read back from disk (`keep`: and kept in
        memory again, for a retry that changes them)."""
        self.run(run_id)
        recs = self._records.get(run_id)
        if recs is None:
            recs = [DeviceRecord.from_json(d) for d in await self.db.run_devices(run_id)]
            if keep:
                self._records[run_id] = recs
        return recs

    def journal(self, before: float | None, limit: int) -> list[RunInfo]:
        return newest_first(self._runs.values(), before, limit)

    def holder(self, asset_id: str) -> str:
        """The open run holding the device ("" : none)."""
        found = self._held().get(asset_id)
        return found[0] if found else ""

    def districts(self) -> list[str]:
        return sorted({a.district for a in self.store.assets() if a.district})

    # --- preview --------------------------------------------------------------------------------------

    async def preview(self, mode_id: str, scope: Scope) -> Plan:
        mode = self._mode(mode_id, scope)
        held = self._held()
        assets = self.store.assets()
        return await asyncio.to_thread(make_plan, mode, scope, assets, held, self.cameras_for)

    def _mode(self, mode_id: str, scope: Scope) -> ModeDef:
        problems = []
        mode = self.modes.get(mode_id)
        if mode is None:
            problems.append(f"unknown mode {mode_id[:80]!r} (one of {', '.join(self.modes)})")
        if scope.whole_city == bool(scope.districts):
            problems.append("scope: either whole_city or some districts (not both, not neither)")
        elif scope.districts:
            known = set(self.districts())
            unknown = [d for d in scope.districts if d not in known]
            if unknown:
                problems.append("scope: unknown districts " + ", ".join(repr(d[:60]) for d in unknown[:10]))
        if problems:
            raise ModeInvalid(problems)
        assert mode is not None
        return mode

    def _held(self) -> dict[str, tuple[str, str, str]]:
        if self._held_cache is not None:
            return self._held_cache
        held: dict[str, tuple[str, str, str]] = {}
        for run in self._runs.values():
            if run.open:
                for r in self._records.get(run.run_id, ()):
                    if not r.refused:
                        held[r.asset_id] = (run.run_id, run.mode_name, r.step)
        self._held_cache = held
        return held

    # --- activate -------------------------------------------------------------------------------------

    async def activate(
        self, key: str, mode_id: str, scope: Scope, reason: str, confirmed: bool, caller: Principal
    ) -> tuple[RunInfo, bool]:
        fp = _fingerprint("activate", mode_id, scope, reason, confirmed)
        replay = self._replay(key, fp, caller, "mode.activate", mode_id, reason)
        if replay is not None:
            return dataclasses.replace(self.run(replay.run_id)), True
        self._check(caller, reason, confirmed, "mode.activate", mode_id)
        try:
            mode = self._mode(mode_id, scope)
        except ModeInvalid as exc:
            self._record(caller, "mode.activate", mode_id, reason, "invalid", str(exc))
            raise
        plan = await asyncio.to_thread(
            make_plan, mode, scope, self.store.assets(), self._held(), self.cameras_for
        )
        now = time.time()
        run = RunInfo(
            run_id=f"run-{uuid.uuid4().hex[:16]}",
            mode_id=mode.id,
            mode_name=mode.name,
            color=mode.color,
            scope=scope,
            state=RunState.ACTIVATING,
            activated_by=caller.user,
            console=caller.console,
            reason=reason,
            activated_at=now,
            wall_camera_ids=tuple(plan.wall_camera_ids),
            suppressed_causes=tuple(sorted({c for s in mode.steps for c in s.suppresses})),
            keys={f"{caller.user}\n{key}": fp},
        )
        records = []
        for p in plan.items:
            params = p.step.params
            if p.step.until_hours:
                params = dataclasses.replace(params, until=float(int(now + p.step.until_hours * 3600)))
            rec = record_for(p, params)
            if rec.unchanged:
                rec.activation = PhaseResult(
                    Stage.CONFIRMED.value, f"already {rec.target_text()}", updated_at=now
                )
            records.append(rec)
        self._runs[run.run_id] = run
        self._records[run.run_id] = records
        self._held_cache = None
        self._keys[(caller.user, key)] = _Replay(fp, run.run_id, [])
        for r in records:
            self.saved.touch_record(run.run_id, r)
        self.saved.touch_run(run)
        await self.saved.flush()  # the previous states are on disk before any command leaves
        self._suppress(run, records)
        todo = [r for r in records if not r.refused and not r.unchanged]
        self._record(
            caller,
            "mode.activate",
            f"{run.run_id},{mode.id}",
            reason,
            "ok",
            f"{mode.name}, {scope.text()}: {len(todo)} devices to change, "
            f"{sum(1 for r in records if r.unchanged)} already so, {sum(1 for r in records if r.refused)} refused",
        )
        self._spawn(run, [(r, r.action, r.params()) for r in todo], Phase.ACTIVATION, caller, reason, "a")
        return dataclasses.replace(run), False

    # --- retry ----------------------------------------------------------------------------------------

    async def retry(
        self,
        key: str,
        run_id: str,
        reason: str,
        confirmed: bool,
        caller: Principal,
        include_recovered: bool = False,
    ) -> tuple[RunInfo, list[str], bool]:
        """Resend the current phase's failures; with `include_recovered`, also the devices refused
        at activation (offline, fault, maintenance) that are able now: their state is recorded
        first, as at activation, so the return gives back what they had when the mode reached them."""
        fp = _fingerprint("retry", run_id, reason, confirmed, include_recovered)
        replay = self._replay(key, fp, caller, "mode.retry", run_id, reason)
        if replay is not None:
            return dataclasses.replace(self.run(replay.run_id)), list(replay.extra), True
        self._check(caller, reason, confirmed, "mode.retry", run_id)
        run = self.run(run_id)
        phase = run.phase
        records = await self.records(run_id, keep=True)
        recovered = []
        if include_recovered and run.state in (RunState.ACTIVE, RunState.PARTIAL):
            recovered = self._recovered(run, records)
        if run.state not in (RunState.PARTIAL, RunState.RETURNED_PARTIAL) and not recovered:
            raise RunBusy(
                f"run {run_id} is {run.state.name}: only a PARTIAL run has failures to retry"
                + (", and no refused device is able now" if include_recovered else "")
            )
        failed = [r for r in records if r.result(phase).failed]
        work = []
        now = time.time()
        for r in recovered:
            a = self.store.get(r.asset_id)
            assert a is not None  # _recovered checked it
            r.previous, r.refused = recorded(r.action, a), ""
            if shows(r.action, r.params(), a):
                r.unchanged = True
                r.activation = PhaseResult(
                    Stage.CONFIRMED.value, f"already {r.target_text()}", updated_at=now
                )
            else:
                r.activation = PhaseResult(Stage.ACCEPTED.value, "able again: sent", updated_at=now)
                work.append((r, r.action, r.params()))
            self.saved.touch_record(run_id, r)
        if recovered:
            self._held_cache = None
            self._suppress(run, recovered)
        for r in failed:
            if phase is Phase.ACTIVATION:
                work.append((r, r.action, r.params()))
            else:
                back = r.restore_to()
                if back is not None:
                    work.append((r, *back))
        ids = [r.asset_id for r, _, _ in work]
        run.state = RunState.ACTIVATING if phase is Phase.ACTIVATION else RunState.RETURNING
        run.keys[f"{caller.user}\n{key}"] = fp
        self._keys[(caller.user, key)] = _Replay(fp, run_id, ids)
        self.saved.touch_run(run)
        await self.saved.flush()
        self._record(
            caller,
            "mode.retry",
            run_id,
            reason,
            "ok",
            f"{len(ids)} devices resent ({phase.name.lower()})"
            + (f", {len(recovered)} of them refused at activation and able now" if recovered else ""),
        )
        self._spawn(run, work, phase, caller, reason or run.reason, f"r{len(run.keys)}")
        return dataclasses.replace(run), ids, False

    # --- return to normal -----------------------------------------------------------------------------

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
        run = self.run(run_id)
        if dry_run:
            if caller.role < Role.SUPERVISOR:
                raise ModeDenied(
                    f"returning to normal needs the SUPERVISOR role (you are {caller.role.name})"
                )
            recs = await self.records(run_id)
            hand = []
            for r in recs:
                a = self.store.get(r.asset_id)
                if not r.refused and a is not None and self._classify(r, a) == "hand":
                    hand.append(dataclasses.replace(r, hand_changed=True, hand_state=_now_text(r, a)))
            return dataclasses.replace(run), hand, False
        fp = _fingerprint("return", run_id, reason, confirmed, sorted(restore), restore_all)
        replay = self._replay(key, fp, caller, "mode.return", run_id, reason)
        if replay is not None:
            return dataclasses.replace(self.run(replay.run_id)), list(replay.extra), True
        self._check(caller, reason, confirmed, "mode.return", run_id)
        if run.state not in (RunState.ACTIVE, RunState.PARTIAL):
            raise RunBusy(
                f"run {run_id} is {run.state.name}: only an ACTIVE or PARTIAL run returns to normal"
            )
        records = await self.records(run_id)
        now = time.time()
        work = []
        hand = []
        for r in records:
            if r.refused:
                continue
            a = self.store.get(r.asset_id)
            back = r.restore_to()
            what = "gone" if a is None else self._classify(r, a)
            if what == "gone":
                r.ret = PhaseResult(Stage.FAILED.value, "the device is no longer known", updated_at=now)
            elif what == "none":
                r.ret = PhaseResult(
                    "", "not reverted (revert = none, or no recorded state to give back)", updated_at=now
                )
            elif what == "already":
                assert back is not None
                r.ret = PhaseResult(Stage.CONFIRMED.value, f"already back: {describe(*back)}", updated_at=now)
            else:
                if what == "hand":
                    assert a is not None
                    r.hand_changed, r.hand_state = True, _now_text(r, a)
                    hand.append(r)
                    if not (restore_all or r.asset_id in restore):
                        r.left_as_is = True
                        r.ret = PhaseResult(
                            "",
                            f"changed by hand during the mode (now {r.hand_state}): left as the operator set it",
                            updated_at=now,
                        )
                        self.saved.touch_record(run_id, r)
                        continue
                assert back is not None
                r.ret = PhaseResult(Stage.ACCEPTED.value, "on its way back", updated_at=now)
                work.append((r, *back))
            self.saved.touch_record(run_id, r)
        run.state = RunState.RETURNING
        run.returned_by, run.return_reason, run.returned_at = caller.user, reason, now
        run.keys[f"{caller.user}\n{key}"] = fp
        self._keys[(caller.user, key)] = _Replay(fp, run_id, [dataclasses.replace(r) for r in hand])
        self.saved.touch_run(run)
        await self.saved.flush()
        self._record(
            caller,
            "mode.return",
            f"{run_id},{run.mode_id}",
            reason,
            "ok",
            f"{run.mode_name}: {len(work)} devices to restore, {len(hand)} changed by hand "
            f"({sum(1 for r in hand if not r.left_as_is)} restored anyway)",
        )
        self._spawn(run, work, Phase.RETURN, caller, reason, "n")
        return dataclasses.replace(run), [dataclasses.replace(r) for r in hand], False

    def _recovered(self, run: RunInfo, records: list[DeviceRecord]) -> list[DeviceRecord]:
        """Devices refused at activation for their state (not for another mode's hold) that are
        known, healthy and held by no other run now."""
        held = self._held()
        out = []
        for r in records:
            if not r.refused or r.refused.startswith("held by"):
                continue
            a = self.store.get(r.asset_id)
            if a is None or a.status in REFUSING:
                continue
            if a.id in held and held[a.id][0] != run.run_id:
                continue
            out.append(r)
        return out

    def _classify(self, r: DeviceRecord, a: Asset) -> str:
        back = r.restore_to()
        if back is None:
            return "none"
        if shows(back[0], back[1], a):
            return "already"
        if not r.in_mode_state(a):
            return "hand"
        return "restore"

    # --- execution ------------------------------------------------------------------------------------

    def _spawn(
        self, run: RunInfo, work: list, phase: Phase, caller: Principal, reason: str, tag: str
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._execute(run, work, phase, caller, reason, tag), name=f"mode-{run.run_id}-{tag}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(
        self,
        run: RunInfo,
        work: list[tuple[DeviceRecord, Action, Params]],
        phase: Phase,
        caller: Principal,
        reason: str,
        tag: str,
    ) -> None:
        groups: dict[tuple[Action, Params], dict[str, list[DeviceRecord]]] = {}
        now = time.time()
        for rec, action, params in work:
            res = rec.result(phase)
            res.stage, res.detail, res.action, res.updated_at = (
                Stage.ACCEPTED.value,
                "queued",
                action.value,
                now,
            )
            groups.setdefault((action, params), {}).setdefault(rec.asset_id, []).append(rec)
            self.saved.touch_record(run.run_id, rec)
        self.saved.touch_run(run)
        sem = asyncio.Semaphore(self.in_flight)
        batches = []
        for (action, params), by_id in groups.items():
            ids = list(by_id)
            for i in range(0, len(ids), self.batch):
                batches.append((action, params, {k: by_id[k] for k in ids[i : i + self.batch]}))
        # Cancelled (the backend stops): the run stays on its way on disk; the next start ends it.
        outcomes = await asyncio.gather(
            *(
                self._batch(run, phase, caller, reason, f"{tag}:{n}", a, p, recs, sem)
                for n, (a, p, recs) in enumerate(batches)
            ),
            return_exceptions=True,
        )
        for (_, _, recs), outcome in zip(batches, outcomes, strict=True):
            if isinstance(outcome, BaseException):  # a bug must not leave devices on their way
                log.error("mode run %s: a batch failed", run.run_id, exc_info=outcome)
                why = f"internal error: {outcome}"
                self._update(run, phase, recs, lambda _id, why=why: (Stage.FAILED, why))
        self._finish_phase(run)
        await self.saved.flush()
        if not run.open:  # returned: its records live on disk only (GetRun reads them back)
            self._records.pop(run.run_id, None)

    async def _batch(
        self,
        run: RunInfo,
        phase: Phase,
        caller: Principal,
        reason: str,
        tag: str,
        action: Action,
        params: Params,
        recs: dict[str, list[DeviceRecord]],
        sem: asyncio.Semaphore,
    ) -> None:
        async with sem:
            key = f"mode:{run.run_id}:{phase.name.lower()}:{tag}"
            request = CommandRequest(key, tuple(recs), action, params, reason[:MAX_REASON], True)
            try:
                cmd, _ = await self.book.execute(request, caller)
            except (CommandInvalid, CommandDenied) as exc:
                why = f"command refused: {exc}"[:500]
                self._update(run, phase, recs, lambda _id: (Stage.FAILED, why))
                return
            for rs in recs.values():
                for r in rs:
                    res = r.result(phase)
                    res.command_id, res.attempts = cmd.id, res.attempts + 1
            async for snap in cmd.watch():
                stages = {t.asset_id: (t.stage, t.detail) for t in snap.targets}
                self._update(run, phase, recs, stages.__getitem__)

    def _update(self, run: RunInfo, phase: Phase, recs: dict[str, list[DeviceRecord]], stage_of) -> None:
        now = time.time()
        for asset_id, rs in recs.items():
            stage, detail = stage_of(asset_id)
            for r in rs:
                res = r.result(phase)
                if res.stage != stage.value or res.detail != detail:
                    res.stage, res.detail, res.updated_at = stage.value, detail, now
                    self.saved.touch_record(run.run_id, r)
        self.saved.touch_run(run)

    def _finish_phase(self, run: RunInfo) -> None:
        self._held_cache = None
        records = self._records.get(run.run_id, [])
        failed = any(r.result(run.phase).failed for r in records if not r.refused)
        if run.state is RunState.ACTIVATING:
            run.state = RunState.PARTIAL if failed else RunState.ACTIVE
        elif run.state is RunState.RETURNING:
            run.state = RunState.RETURNED_PARTIAL if failed else RunState.RETURNED
            self._lift(run, records)
        self.saved.touch_run(run)

    # --- suppression by design ------------------------------------------------------------------------

    @staticmethod
    def _pairs(records: list[DeviceRecord]) -> list[tuple[str, str]]:
        return [(r.asset_id, c) for r in records if not r.refused for c in r.suppresses]

    def _suppress(self, run: RunInfo, records: list[DeviceRecord]) -> None:
        pairs = self._pairs(records)
        if pairs:
            self.alarms.suppress_by_design(
                pairs, f"by design: city mode {run.mode_name} ({run.run_id})", time.time()
            )

    def _lift(self, run: RunInfo, records: list[DeviceRecord]) -> None:
        pairs = self._pairs(records)
        if pairs:
            self.alarms.lift_by_design(pairs, time.time())

    # --- checks and audit -----------------------------------------------------------------------------

    def _replay(
        self, key: str, fp: str, caller: Principal, action: str, target: str, reason: str
    ) -> _Replay | None:
        problems = check_key(key)
        if problems:
            self._record(caller, action, target, reason, "invalid", problems[0])
            raise ModeInvalid(problems)
        found = self._keys.get((caller.user, key))
        if found is None:
            return None
        if found.fingerprint != fp:
            why = f"idempotency_key {key!r} was already used for a different request (run {found.run_id})"
            self._record(caller, action, target, reason, "invalid", why)
            raise ModeInvalid([why])
        return found

    def _check(self, caller: Principal, reason: str, confirmed: bool, action: str, target: str) -> None:
        if caller.role < Role.SUPERVISOR:
            why = f"{action} is critical: it needs the SUPERVISOR role (you are {caller.role.name})"
            self._record(caller, action, target, reason, "denied", why)
            raise ModeDenied(why)
        problems = []
        if not confirmed:
            problems.append(f"{action} is critical: the supervisor must confirm it (confirmed = true)")
        if not reason.strip():
            problems.append(f"{action} is critical: a reason is required")
        if len(reason) > MAX_REASON:
            problems.append(f"reason is {len(reason)} characters (at most {MAX_REASON})")
        if problems:
            self._record(caller, action, target, reason, "invalid", "; ".join(problems))
            raise ModeInvalid(problems)

    def _record(
        self, caller: Principal, action: str, target: str, reason: str, result: str, detail: str
    ) -> None:
        entry = AuditEntry(
            user=caller.user,
            console=caller.console,
            action=action,
            target=target[:300],
            reason=reason[:MAX_REASON],
            result=result,
            detail=detail[:1000],
        )
        collected = AUDIT_TO.get()
        if collected is not None:
            collected.append(entry)
        else:
            self.audit.record(entry)


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _now_text(r: DeviceRecord, a: Asset) -> str:
    return state_text(r.action, recorded(r.action, a))
