"""City modes as the console holds them: definitions, previews, runs and per-device results
(plain dataclasses made by the client off the GUI thread), and `ActiveModes`, the Qt-free set of
runs not yet returned that the banner and the status bar show (docs/modes.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigie.app import city_time

# Run states after which a mode no longer holds the city (the banner goes).
RETURNED_STATES = ("RETURNED", "RETURNED_PARTIAL")
STATE_LABELS = {
    "ACTIVATING": "activating",
    "ACTIVE": "active",
    "PARTIAL": "active, with failures",
    "RETURNING": "returning to normal",
    "RETURNED": "returned to normal",
    "RETURNED_PARTIAL": "returned, some devices not restored",
}
DEFAULT_COLOR = "#c0392b"


@dataclass(frozen=True)
class ModeScope:
    whole_city: bool = True
    districts: tuple[str, ...] = ()

    def text(self) -> str:
        return "whole city" if self.whole_city or not self.districts else ", ".join(self.districts)


@dataclass(frozen=True)
class ModeStepInfo:
    name: str
    label: str
    action: str  # "LIGHT_DIM"
    selection: str  # the selection in words


@dataclass(frozen=True)
class ModeInfo:
    """One mode the backend offers (ListModes)."""

    id: str
    name: str
    description: str
    color: str
    steps: tuple[ModeStepInfo, ...] = ()
    source: str = "provided"


@dataclass(frozen=True)
class DeviceChange:
    asset_id: str
    name: str
    kind: str
    district: str
    step: str
    action: str
    current: str  # "dimmed to 70 %"
    target: str


@dataclass(frozen=True)
class DeviceRefusal:
    asset_id: str
    name: str
    kind: str
    step: str
    reason: str  # "offline", "fault", "maintenance"
    detail: str


@dataclass(frozen=True)
class ModeConflict:
    asset_id: str
    name: str
    step: str
    run_id: str
    mode_name: str
    detail: str


@dataclass(frozen=True)
class KindCount:
    kind: str
    changes: int
    unchanged: int
    refusals: int
    conflicts: int


@dataclass(frozen=True)
class ModePreview:
    """What activating a mode on a scope would do (Preview): nothing has changed yet."""

    mode: ModeInfo
    scope: ModeScope
    counts: tuple[KindCount, ...]
    changes: tuple[DeviceChange, ...]
    total_changes: int
    refusals: tuple[DeviceRefusal, ...]
    conflicts: tuple[ModeConflict, ...]
    wall_camera_ids: tuple[str, ...] = ()

    def affected_ids(self) -> list[str]:
        return [c.asset_id for c in self.changes]


@dataclass(frozen=True)
class ModeRun:
    """One activation of a mode, from ACTIVATING to RETURNED (the full state at `sequence`)."""

    run_id: str
    mode_id: str
    mode_name: str
    color: str
    scope: ModeScope
    state: str  # ACTIVATING, ACTIVE, PARTIAL, RETURNING, RETURNED, RETURNED_PARTIAL
    activated_by: str
    console: str
    reason: str
    activated_at: float  # unix seconds
    returned_by: str = ""
    return_reason: str = ""
    returned_at: float = 0.0
    total: int = 0
    confirmed: int = 0
    failed: int = 0
    pending: int = 0
    refused: int = 0
    hand_changed: int = 0
    sequence: int = 0

    @property
    def active(self) -> bool:
        return self.state not in RETURNED_STATES

    @property
    def busy(self) -> bool:
        """Commands still on their way: no retry or return yet."""
        return self.state in ("ACTIVATING", "RETURNING")

    def state_text(self) -> str:
        return STATE_LABELS.get(self.state, self.state.lower())

    def progress_text(self) -> str:
        parts = [f"{self.confirmed}/{self.total} confirmed"]
        if self.pending:
            parts.append(f"{self.pending} on their way")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.refused:
            parts.append(f"{self.refused} refused")
        return ", ".join(parts)


@dataclass(frozen=True)
class DeviceResult:
    asset_id: str
    name: str
    kind: str
    step: str
    phase: str  # "activation" or "return"
    stage: str  # "" (not sent), ACCEPTED... CONFIRMED, FAILED, TIMED_OUT, REJECTED
    detail: str
    previous: str
    target: str
    refused: bool = False
    hand_changed: bool = False
    left_as_is: bool = False
    attempts: int = 0

    def outcome(self) -> str:
        """The device's result in words, for the per-device lists."""
        if self.refused:
            return "refused"
        if self.left_as_is:
            return "left as is (changed by hand)"
        if not self.stage:
            return "already in the target state"
        return self.stage.lower().replace("_", " ")


def banner_text(run: ModeRun) -> str:
    """One line of the banner: the mode, its scope, since when and by whom (city time)."""
    since = city_time.strftime("%H:%M", run.activated_at) if run.activated_at else "?"
    day = city_time.strftime("%d %b", run.activated_at) if run.activated_at else ""
    text = f"{run.mode_name.upper()} — {run.scope.text()} — since {since} {day} by {run.activated_by}"
    if run.state != "ACTIVE":
        text += f" ({run.state_text()})"
    return text


@dataclass
class ActiveModes:
    """The runs not yet returned, by run id, kept from WatchModes (Qt-free: the banner's source)."""

    runs: dict[str, ModeRun] = field(default_factory=dict)

    def reset(self, runs: list[ModeRun]) -> None:
        self.runs = {r.run_id: r for r in runs if r.active}

    def apply(self, runs: list[ModeRun]) -> None:
        """Changes in sequence order: a returned run leaves, any other takes its new state."""
        for r in runs:
            if r.active:
                self.runs[r.run_id] = r
            else:
                self.runs.pop(r.run_id, None)

    def ordered(self) -> list[ModeRun]:
        """Oldest activation first: the banner stacks them in that order."""
        return sorted(self.runs.values(), key=lambda r: (r.activated_at, r.run_id))

    def status_text(self) -> str:
        runs = self.ordered()
        if not runs:
            return ""
        return "MODES  " + "  ·  ".join(f"{r.mode_name} ({r.scope.text()})" for r in runs)
