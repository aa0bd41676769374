"""Commands to devices, taken exactly once: validation, the per-target progress operators watch,
and the command book that remembers idempotency keys (Qt-free, gRPC-free; the asyncio loop's).

A client makes one idempotency key per user intent and sends every retry with it. The book keeps
each (user, key) for `key_ttl_s` (60 minutes by default) with a fingerprint of the request: a
retry gets the original command back (replayed) and nothing is sent again, even when it arrives
while the first call is still being dispatched; the same key with a different request is invalid.
Memory is bounded: keys expire by time, and each user's oldest go first beyond
`max_commands_per_user` commands or `max_targets_per_user` targets, so one user's flood of keys
never evicts another user's; beyond the book's `max_commands` or `max_targets`, the user holding
the most goes first. Keys live in memory only: a restarted backend has forgotten them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from vigie.backend.domain.actions import ACTIONS, Action, Params, check_params, describe, fits, unfit_reason
from vigie.backend.domain.assets import Kind
from vigie.backend.domain.audit import AuditEntry, AuditSink, join_targets
from vigie.backend.security.principal import Principal, Role

log = logging.getLogger(__name__)

MAX_KEY = 128
MAX_TARGETS = 500
MAX_REASON = 500
KEY_TTL_S = 3600.0
WATCH_BACKLOG = 64  # snapshots queued per watcher; a slower one skips intermediate states


class Stage(StrEnum):
    ACCEPTED = "accepted"  # allowed, valid, handed to the device network
    ACKNOWLEDGED = "acknowledged"  # the device answered that it will act
    CONFIRMED = "confirmed"  # the device's reported state shows the change
    FAILED = "failed"  # the device refused or reported a fault
    TIMED_OUT = "timed_out"  # no acknowledgement or no new state in time
    REJECTED = "rejected"  # never sent: the action does not fit the asset


FINAL = frozenset({Stage.CONFIRMED, Stage.FAILED, Stage.TIMED_OUT, Stage.REJECTED})
_NEXT = {
    Stage.ACCEPTED: {Stage.ACKNOWLEDGED, Stage.FAILED, Stage.TIMED_OUT},
    Stage.ACKNOWLEDGED: {Stage.CONFIRMED, Stage.FAILED, Stage.TIMED_OUT},
}


class CommandInvalid(ValueError):
    """The request cannot be executed as sent; `reasons` say why, for the operator."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class CommandDenied(PermissionError):
    """The caller's role does not allow this command."""


class UnknownCommand(LookupError):
    """No such command (or forgotten, after the key lifetime)."""


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """An Execute call as the domain sees it; `action` None when missing or unknown."""

    idempotency_key: str
    asset_ids: tuple[str, ...]
    action: Action | None
    params: Params = Params()
    reason: str = ""
    confirmed: bool = False

    def fingerprint(self) -> str:
        """Identifies the request's meaning (not the key): a retry has the same fingerprint."""
        params = self.params.only(ACTIONS[self.action].params) if self.action else Params()
        ident = (sorted(self.asset_ids), self.action, params, self.reason, self.confirmed)
        return hashlib.sha256(repr(ident).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TargetProgress:
    asset_id: str
    stage: Stage
    detail: str
    updated_at: float  # unix seconds


@dataclass(frozen=True, slots=True)
class CommandSnapshot:
    """A command's status at one moment (what GetCommand / WatchCommand send)."""

    command_id: str
    idempotency_key: str
    action: Action
    params: Params
    user: str
    console: str
    reason: str
    created_at: float
    targets: tuple[TargetProgress, ...]
    done: bool


class _Watcher:
    def __init__(self) -> None:
        self.queue: deque[CommandSnapshot] = deque(maxlen=WATCH_BACKLOG)
        self.wake = asyncio.Event()


class Command:
    """One accepted command: its targets' progress and the watchers that follow it."""

    def __init__(
        self,
        command_id: str,
        request: CommandRequest,
        user: str,
        console: str,
        created_at: float,
        targets: list[TargetProgress],
        fingerprint: str,
    ) -> None:
        assert request.action is not None
        self.id = command_id
        self.request = request
        self.action: Action = request.action
        self.params = request.params.only(ACTIONS[request.action].params)
        self.user = user
        self.console = console
        self.created_at = created_at
        self.fingerprint = fingerprint
        self._targets = targets
        self._index = {t.asset_id: i for i, t in enumerate(targets)}
        self._open = sum(t.stage not in FINAL for t in targets)
        self._watchers: set[_Watcher] = set()
        self.dispatched: asyncio.Task | None = None  # handing the targets to the device network

    @property
    def done(self) -> bool:
        return self._open == 0

    @property
    def targets(self) -> tuple[TargetProgress, ...]:
        return tuple(self._targets)

    def stage(self, asset_id: str) -> Stage:
        return self._targets[self._index[asset_id]].stage

    def advance(self, asset_id: str, stage: Stage, detail: str, now: float | None = None) -> None:
        """Move one target to its next stage (stages only go forward; a final one never changes)."""
        i = self._index[asset_id]
        old = self._targets[i]
        if stage not in _NEXT.get(old.stage, ()):
            raise ValueError(f"{asset_id}: {old.stage.value} cannot become {stage.value}")
        self._targets[i] = TargetProgress(asset_id, stage, detail, time.time() if now is None else now)
        if stage in FINAL:
            self._open -= 1
        snap = self.snapshot()
        for w in self._watchers:
            w.queue.append(snap)
            w.wake.set()

    def snapshot(self) -> CommandSnapshot:
        return CommandSnapshot(
            self.id,
            self.request.idempotency_key,
            self.action,
            self.params,
            self.user,
            self.console,
            self.request.reason,
            self.created_at,
            tuple(self._targets),
            self.done,
        )

    async def watch(self) -> AsyncIterator[CommandSnapshot]:
        """The status now, then after each change, until done (a slow reader skips some)."""
        w = _Watcher()
        self._watchers.add(w)
        try:
            first = self.snapshot()
            yield first
            if first.done:  # not self.done: changes made while that was sent are still queued
                return
            while True:
                while w.queue:
                    snap = w.queue.popleft()
                    yield snap
                    if snap.done:
                        return
                w.wake.clear()
                await w.wake.wait()
        finally:
            self._watchers.discard(w)


def check_request(request: CommandRequest, kind_of: Callable[[str], Kind | None], now: float) -> list[str]:
    """Every reason the request is invalid (empty: valid). Unfit targets are not invalid: they
    become REJECTED targets of the command."""
    out = check_key(request.idempotency_key)
    ids = request.asset_ids
    if not ids:
        out.append("asset_ids is empty: name at least one device")
    elif len(ids) > MAX_TARGETS:
        out.append(f"asset_ids has {len(ids)} entries (at most {MAX_TARGETS})")
    else:
        twice = sorted(i for i, n in Counter(ids).items() if n > 1)
        if twice:
            out.append("asset ids listed more than once: " + _some(twice))
        unknown = [i for i in dict.fromkeys(ids) if kind_of(i) is None]
        if unknown:
            out.append("unknown asset ids: " + _some(unknown))
    if request.action is None:
        out.append("action is missing or unknown (one of " + ", ".join(a.value for a in Action) + ")")
        return out
    out += check_params(request.action, request.params, now)
    if len(request.reason) > MAX_REASON:
        out.append(f"reason is {len(request.reason)} characters (at most {MAX_REASON})")
    if ACTIONS[request.action].critical:
        if not request.confirmed:
            out.append(f"{request.action.value} is critical: the user must confirm it (confirmed = true)")
        if not request.reason.strip():
            out.append(f"{request.action.value} is critical: a reason is required")
    return out


def check_key(key: str) -> list[str]:
    if not key:
        return ["idempotency_key is required (one per user intent, reused by its retries)"]
    if len(key) > MAX_KEY:
        return [f"idempotency_key is {len(key)} characters (at most {MAX_KEY})"]
    return []


def permission_problem(action: Action | None, role: Role) -> str | None:
    if role < Role.OPERATOR:
        return f"commands need the OPERATOR role (you are {role.name})"
    if action is not None and ACTIONS[action].critical and role < Role.SUPERVISOR:
        return f"{action.value} is critical: it needs the SUPERVISOR role (you are {role.name})"
    return None


def _some(ids: list[str], n: int = 10) -> str:
    shown = ", ".join(repr(i[:64]) for i in ids[:n])
    return shown + (f" (and {len(ids) - n} more)" if len(ids) > n else "")


class CommandBook:
    """Executes requests exactly once per (user, key) and remembers the commands for a while.

    `dispatch(command)` hands the accepted targets to the device network; it runs as its own task
    so a caller that goes away (deadline, lost connection) never stops a command half-sent.
    Every attempt leaves one "command.execute" audit record, except replays."""

    def __init__(
        self,
        kind_of: Callable[[str], Kind | None],
        dispatch: Callable[[Command], Awaitable[None]],
        audit: AuditSink,
        *,
        key_ttl_s: float = KEY_TTL_S,
        max_commands: int = 10_000,
        max_targets: int = 500_000,
        max_commands_per_user: int = 1_000,
        max_targets_per_user: int = 50_000,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind_of = kind_of
        self.dispatch = dispatch
        self.audit = audit
        self.key_ttl_s = key_ttl_s
        self.max_commands = max_commands
        self.max_targets = max_targets
        self.max_commands_per_user = max_commands_per_user
        self.max_targets_per_user = max_targets_per_user
        self.clock = clock
        self.monotonic = monotonic
        # Each user's keys, oldest first: (when made, command).
        self._by_user: dict[str, OrderedDict[str, tuple[float, Command]]] = {}
        self._user_targets: Counter[str] = Counter()
        self._by_id: dict[str, Command] = {}
        self._count = 0
        self._targets = 0

    def __len__(self) -> int:
        return self._count

    def get(self, command_id: str) -> Command:
        self._expire()
        cmd = self._by_id.get(command_id)
        if cmd is None:
            raise UnknownCommand(f"no command {command_id[:80]!r} (unknown, or forgotten after an hour)")
        return cmd

    async def execute(self, request: CommandRequest, caller: Principal) -> tuple[Command, bool]:
        """The command for this request and whether it is a replay of an earlier call.

        Raises CommandInvalid or CommandDenied (each audited)."""
        self._expire()
        if check_key(request.idempotency_key):  # no key to look up: say everything that is wrong
            self._refuse(request, caller, "invalid", check_request(request, self.kind_of, self.clock()))
        fingerprint = request.fingerprint()
        book = self._by_user.get(caller.user)
        found = book.get(request.idempotency_key) if book is not None else None
        if found is not None:
            cmd = found[1]
            if cmd.fingerprint != fingerprint:
                self._refuse(
                    request,
                    caller,
                    "invalid",
                    [
                        f"idempotency_key {request.idempotency_key!r} was already used for a different "
                        f"request (command {cmd.id}); make a new key for a new intent"
                    ],
                )
            await self._dispatched(cmd)
            return cmd, True
        denied = permission_problem(request.action, caller.role)
        if denied:
            self._refuse(request, caller, "denied", [denied])
        problems = check_request(request, self.kind_of, self.clock())
        if problems:
            self._refuse(request, caller, "invalid", problems)
        cmd = self._create(request, caller, fingerprint)
        self._record(
            request, caller, "ok", f"{cmd.id}: {cmd.action.value} ({describe(cmd.action, cmd.params)})"
        )
        cmd.dispatched = asyncio.get_running_loop().create_task(
            self._dispatch(cmd), name=f"dispatch-{cmd.id}"
        )
        await self._dispatched(cmd)
        return cmd, False

    def _create(self, request: CommandRequest, caller: Principal, fingerprint: str) -> Command:
        assert request.action is not None
        now = self.clock()
        targets = []
        for asset_id in request.asset_ids:
            kind = self.kind_of(asset_id)
            assert kind is not None
            if fits(request.action, kind):
                targets.append(TargetProgress(asset_id, Stage.ACCEPTED, "sent to the device", now))
            else:
                targets.append(
                    TargetProgress(asset_id, Stage.REJECTED, unfit_reason(request.action, kind), now)
                )
        cmd = Command(
            f"cmd-{uuid.uuid4().hex[:20]}", request, caller.user, caller.console, now, targets, fingerprint
        )
        self._by_user.setdefault(caller.user, OrderedDict())[request.idempotency_key] = (
            self.monotonic(),
            cmd,
        )
        self._by_id[cmd.id] = cmd
        self._count += 1
        self._targets += len(targets)
        self._user_targets[caller.user] += len(targets)
        self._expire()
        return cmd

    async def _dispatch(self, cmd: Command) -> None:
        try:
            await self.dispatch(cmd)
        except Exception:
            log.exception("dispatching %s failed", cmd.id)
            for t in cmd.targets:
                if t.stage is Stage.ACCEPTED:
                    cmd.advance(t.asset_id, Stage.FAILED, "internal error while sending to the device")

    @staticmethod
    async def _dispatched(cmd: Command) -> None:
        """Wait until the targets are handed over; shielded: the caller may leave, the task stays."""
        if cmd.dispatched is not None:
            await asyncio.shield(cmd.dispatched)

    def _expire(self) -> None:
        """Forget keys older than the TTL, then each user's oldest beyond the per-user bounds,
        then the oldest of the user holding the most beyond the book's bounds."""
        limit = self.monotonic() - self.key_ttl_s
        for user, book in list(self._by_user.items()):
            while book and next(iter(book.values()))[0] <= limit:
                self._forget(user, early=False)
            while book and (
                len(book) > self.max_commands_per_user or self._user_targets[user] > self.max_targets_per_user
            ):
                self._forget(user, early=True)
        while self._count > self.max_commands:
            self._forget(max(self._by_user, key=lambda u: len(self._by_user[u])), early=True)
        while self._targets > self.max_targets:
            self._forget(max(self._by_user, key=lambda u: self._user_targets[u]), early=True)

    def _forget(self, user: str, early: bool) -> None:
        """Drop `user`'s oldest key and its command."""
        book = self._by_user[user]
        key, (_, cmd) = book.popitem(last=False)
        if early:
            log.warning(
                "command book full: forgetting %s of %s early (idempotency key %r)", cmd.id, user, key
            )
        self._by_id.pop(cmd.id, None)
        self._count -= 1
        self._targets -= len(cmd.targets)
        self._user_targets[user] -= len(cmd.targets)
        if not book:
            del self._by_user[user]
            del self._user_targets[user]

    def _record(self, request: CommandRequest, caller: Principal, result: str, detail: str) -> None:
        self.audit.record(
            AuditEntry(
                user=caller.user,
                console=caller.console,
                action="command.execute",
                target=join_targets(request.asset_ids, MAX_TARGETS, MAX_KEY),
                reason=request.reason[:MAX_REASON],
                result=result,
                detail=detail,
            )
        )

    def _refuse(
        self, request: CommandRequest, caller: Principal, result: str, reasons: list[str]
    ) -> NoReturn:
        self._record(request, caller, result, "; ".join(reasons))
        if result == "denied":
            raise CommandDenied("; ".join(reasons))
        raise CommandInvalid(reasons)
