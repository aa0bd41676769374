"""What a mode run is made of: per-device records (the state recorded before the mode touched the
device, then each phase's progress), the run itself, and the plan a preview shows (Qt-free,
gRPC-free). The engine that executes runs is backend/mode_engine.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from vigie.backend.domain.actions import Action, Params, describe, shows
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.commands import FINAL, Stage
from vigie.backend.domain.modes import (
    REVERT_NONE,
    REVERT_PREVIOUS,
    ModeDef,
    Scope,
    Step,
    recorded,
    restoring,
    select,
    state_text,
)

FAILED_STAGES = frozenset({Stage.FAILED, Stage.TIMED_OUT, Stage.REJECTED})


class RunState(IntEnum):
    """Same numbers as vigie.v1.ModeRun.State."""

    ACTIVATING = 1
    ACTIVE = 2
    PARTIAL = 3
    RETURNING = 4
    RETURNED = 5
    RETURNED_PARTIAL = 6


class Phase(IntEnum):
    """Same numbers as vigie.v1.DeviceResult.Phase."""

    ACTIVATION = 1
    RETURN = 2


@dataclass(slots=True)
class PhaseResult:
    """One device's progress in one phase ("" stage: not sent)."""

    stage: str = ""
    detail: str = ""
    command_id: str = ""
    attempts: int = 0
    action: str = ""  # the action sent (the return's restoring action)
    updated_at: float = 0.0

    @property
    def failed(self) -> bool:
        return self.stage in FAILED_STAGES

    @property
    def pending(self) -> bool:
        return self.stage != "" and Stage(self.stage) not in FINAL


@dataclass(slots=True)
class DeviceRecord:
    """A device a run touches through one step. `previous` is recorded (and persisted) before the
    first command is sent, so the return gives back exactly that state."""

    asset_id: str
    asset_name: str
    kind: Kind
    district: str
    step: str
    action: Action
    level_percent: int
    preset: int
    badge_id: str
    until: float
    previous: dict[str, str]
    revert: str = REVERT_PREVIOUS  # the step's, kept here so a removed mode file still returns
    revert_params: dict[str, object] = field(default_factory=dict)
    suppresses: list[str] = field(default_factory=list)  # the step's alarm causes, kept here too
    refused: str = ""  # not sent at activation: offline, fault, maintenance, held by another mode
    unchanged: bool = False  # already in the target state (recorded, nothing sent)
    activation: PhaseResult = field(default_factory=PhaseResult)
    ret: PhaseResult = field(default_factory=PhaseResult)
    hand_changed: bool = False
    left_as_is: bool = False
    hand_state: str = ""  # the state an operator left it in (words)

    @property
    def key(self) -> tuple[str, str]:
        return (self.step, self.asset_id)

    def params(self) -> Params:
        return Params(self.level_percent, self.badge_id, self.until, self.preset)

    def result(self, phase: Phase) -> PhaseResult:
        return self.activation if phase is Phase.ACTIVATION else self.ret

    def previous_text(self) -> str:
        return state_text(self.action, self.previous)

    def target_text(self) -> str:
        return describe(self.action, self.params())

    def in_mode_state(self, a: Asset) -> bool:
        return shows(self.action, self.params(), a)

    def restore_to(self) -> tuple[Action, Params] | None:
        """What gives the device back its state before the mode (None: nothing can, or revert =
        "none")."""
        if self.revert == REVERT_NONE:
            return None
        if self.revert == REVERT_PREVIOUS:
            return restoring(self.action, self.previous)
        return Action(self.revert), Params(**self.revert_params)  # type: ignore[arg-type]

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["kind"] = self.kind.value
        d["action"] = self.action.value
        return d

    @staticmethod
    def from_json(d: dict) -> DeviceRecord:
        d = dict(d)
        d["kind"] = Kind(d["kind"])
        d["action"] = Action(d["action"])
        d["activation"] = PhaseResult(**d["activation"])
        d["ret"] = PhaseResult(**d["ret"])
        return DeviceRecord(**d)


@dataclass(slots=True)
class RunInfo:
    """A run as the journal, the banner and WatchModes see it (counts of the current phase)."""

    run_id: str
    mode_id: str
    mode_name: str
    color: str
    scope: Scope
    state: RunState
    activated_by: str
    console: str
    reason: str
    activated_at: float
    returned_by: str = ""
    return_reason: str = ""
    returned_at: float = 0.0
    total: int = 0
    confirmed: int = 0
    failed: int = 0
    pending: int = 0
    refused: int = 0
    hand_changed: int = 0
    wall_camera_ids: tuple[str, ...] = ()
    suppressed_causes: tuple[str, ...] = ()
    sequence: int = 0
    updated_at: float = 0.0
    keys: dict[str, str] = field(default_factory=dict)  # "user\nkey" -> request fingerprint

    @property
    def phase(self) -> Phase:
        return Phase.RETURN if self.state >= RunState.RETURNING else Phase.ACTIVATION

    @property
    def open(self) -> bool:
        return self.state not in (RunState.RETURNED, RunState.RETURNED_PARTIAL)

    def count(self, records: list[DeviceRecord]) -> None:
        """Recompute the counts of the current phase from the records."""
        phase = self.phase
        total = confirmed = failed = pending = refused = hand = 0
        for r in records:
            hand += r.hand_changed
            if phase is Phase.ACTIVATION:
                if r.refused:
                    refused += 1
                    continue
                total += 1
                res = r.activation
                if r.unchanged or res.stage == Stage.CONFIRMED:
                    confirmed += 1
            else:
                if r.refused:
                    continue
                total += 1
                res = r.ret
                if res.stage in ("", Stage.CONFIRMED):  # not sent: already back, or left by decision
                    confirmed += 1
            if res.failed:
                failed += 1
            elif res.pending:
                pending += 1
        self.total, self.confirmed, self.failed, self.pending = total, confirmed, failed, pending
        self.refused, self.hand_changed = refused, hand

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["scope"] = {"whole_city": self.scope.whole_city, "districts": list(self.scope.districts)}
        d["state"] = int(self.state)
        return d

    @staticmethod
    def from_json(d: dict) -> RunInfo:
        d = dict(d)
        d["scope"] = Scope(d["scope"]["whole_city"], tuple(d["scope"]["districts"]))
        d["state"] = RunState(d["state"])
        d["wall_camera_ids"] = tuple(d["wall_camera_ids"])
        d["suppressed_causes"] = tuple(d["suppressed_causes"])
        return RunInfo(**d)


def newest_first(runs: Iterable[RunInfo], before: float | None, limit: int) -> list[RunInfo]:
    """The journal of runs (ListRuns): newest first, activated before `before`, at most `limit`."""
    ordered = sorted(runs, key=lambda r: r.activated_at, reverse=True)
    return [r for r in ordered if before is None or r.activated_at < before][:limit]


# --- planning (pure: runs in an executor) ---------------------------------------------------------


@dataclass(slots=True)
class Planned:
    step: Step
    asset: Asset
    outcome: str  # "change", "unchanged", "refused", "conflict"
    detail: str = ""  # the refusal's reason, or the conflicting run
    run_id: str = ""
    mode_name: str = ""


@dataclass(slots=True)
class Plan:
    mode: ModeDef
    scope: Scope
    items: list[Planned]
    wall_camera_ids: list[str]


REFUSING = {Status.OFFLINE: "offline", Status.FAULT: "fault", Status.MAINTENANCE: "maintenance"}


def make_plan(
    mode: ModeDef,
    scope: Scope,
    assets: list[Asset],
    held: dict[str, tuple[str, str, str]],
    cameras_for: Callable[[Asset], list[str]],
) -> Plan:
    """Every device each step selects in `scope`, and what will happen to it. `held`: asset id ->
    (run id, mode name, step) of the active runs; `cameras_for(asset)` the cameras covering it."""
    districts = None if scope.whole_city else frozenset(scope.districts)
    items: list[Planned] = []
    wall: dict[str, None] = {}
    for step in mode.steps:
        for a in select(step.selection, assets, districts):
            if a.id in held:
                run_id, name, other = held[a.id]
                items.append(Planned(step, a, "conflict", f"held by {name} (step {other})", run_id, name))
            elif a.status in REFUSING:
                items.append(Planned(step, a, "refused", a.status_reason or REFUSING[a.status]))
            elif shows(step.action, step.params, a):
                items.append(Planned(step, a, "unchanged"))
            else:
                items.append(Planned(step, a, "change"))
            if step.name in mode.wall_steps:
                wall.update(dict.fromkeys(cameras_for(a)))
    if mode.wall_cameras is not None:
        wall.update(dict.fromkeys(c.id for c in select(mode.wall_cameras, assets, districts)))
    return Plan(mode, scope, items, list(wall))


def record_for(p: Planned, params: Params) -> DeviceRecord:
    a = p.asset
    return DeviceRecord(
        asset_id=a.id,
        asset_name=a.name,
        kind=a.kind,
        district=a.district,
        step=p.step.name,
        action=p.step.action,
        level_percent=params.level_percent,
        preset=params.preset,
        badge_id=params.badge_id,
        until=params.until,
        previous=recorded(p.step.action, a),
        revert=p.step.revert,
        revert_params={
            "level_percent": p.step.revert_params.level_percent,
            "badge_id": p.step.revert_params.badge_id,
            "preset": p.step.revert_params.preset,
        },
        suppresses=list(p.step.suppresses),
        refused="" if p.outcome in ("change", "unchanged") else p.detail,
        unchanged=p.outcome == "unchanged",
    )
