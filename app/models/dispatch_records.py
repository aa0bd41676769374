"""Plain records of dispatch (incidents, units, recommendations) and the Qt-free rules the console
applies to them: timer levels, the incident list's order, the unit board's groups.

Made off the GUI thread by app/client/dispatch_convert.py; statuses are the proto enum names in
lower case ("new", "dispatched"..., "available", "en_route"...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

INCIDENT_STATUSES = ("new", "dispatched", "in_progress", "on_hold", "resolved", "closed")
OPEN_STATUSES = ("new", "dispatched", "in_progress", "on_hold")
UNIT_STATUSES = (
    "available",
    "dispatched",
    "en_route",
    "on_scene",
    "returning",
    "off_duty",
    "out_of_service",
)
INCIDENT_LABELS = {
    "new": "NEW",
    "dispatched": "DISPATCHED",
    "in_progress": "IN PROGRESS",
    "on_hold": "ON HOLD",
    "resolved": "RESOLVED",
    "closed": "CLOSED",
}
UNIT_LABELS = {
    "available": "AVAILABLE",
    "dispatched": "DISPATCHED",
    "en_route": "EN ROUTE",
    "on_scene": "ON SCENE",
    "returning": "RETURNING",
    "off_duty": "OFF DUTY",
    "out_of_service": "OUT OF SERVICE",
}
# What a dispatcher may set by hand (protos/vigie/v1/incidents.proto, SetUnitStatusRequest): the
# board offers only these, the backend decides.
MANUAL_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "available": ("off_duty", "out_of_service"),
    "dispatched": ("en_route", "available"),
    "en_route": ("on_scene", "available"),
    "on_scene": ("returning", "available"),
    "returning": ("available", "off_duty", "out_of_service"),
    "off_duty": ("available", "out_of_service"),
    "out_of_service": ("available", "off_duty"),
}
# The board's keys: one key per status, the same whatever the unit's status is.
STATUS_KEYS = {
    "1": "available",
    "2": "en_route",
    "3": "on_scene",
    "4": "returning",
    "5": "off_duty",
    "6": "out_of_service",
}


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    text: str
    required: bool
    done: bool
    done_by: str = ""
    done_at: float = 0.0


@dataclass(frozen=True, slots=True)
class TimelineItem:
    time: float
    user: str
    kind: str  # "created", "status", "note", "step", "assigned", "released", "unit_status"...
    text: str
    unit_id: str = ""
    unit_status: str = ""


@dataclass(frozen=True, slots=True)
class UnitRouteRecord:
    """An assigned unit's drive to the incident, as the backend computed it when it was sent."""

    unit_id: str
    callsign: str
    points: tuple[tuple[float, float], ...]  # (lat, lon) from the unit to the incident
    distance_m: float
    eta_at: float  # unix s


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    id: str
    type: str
    priority: int
    status: str
    lat: float
    lon: float
    street: str
    district: str
    description: str
    alarm_ids: tuple[str, ...]
    asset_ids: tuple[str, ...]
    camera_ids: tuple[str, ...]
    steps: tuple[Step, ...]
    unit_ids: tuple[str, ...]
    timeline: tuple[TimelineItem, ...]
    hold_reason: str
    outcome: str
    created_by: str
    source: str
    device_id: str
    created_at: float
    dispatched_at: float
    on_scene_at: float
    resolved_at: float
    closed_at: float
    updated_at: float
    sequence: int
    routes: tuple[UnitRouteRecord, ...] = ()  # the assigned units still driving there

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def open_required_steps(self) -> list[Step]:
        return [s for s in self.steps if s.required and not s.done]


@dataclass(frozen=True, slots=True)
class UnitRecord:
    id: str  # the vehicle's asset id
    callsign: str
    fleet: str  # "police" | "technical"
    service: str
    capabilities: tuple[str, ...]  # "police", "lighting", "roads", "water", "signals"
    status: str
    status_since: float
    incident_id: str
    status_reason: str
    updated_by: str
    sequence: int


@dataclass(frozen=True, slots=True)
class Candidate:
    unit: UnitRecord
    lat: float
    lon: float
    eta_s: float
    distance_m: float
    route: tuple[tuple[float, float], ...]  # (lat, lon) from the unit to the incident


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Seconds after creation at which a timer turns amber, then red (one priority)."""

    priority: int
    not_dispatched_amber: float
    not_dispatched_red: float
    open_amber: float
    open_red: float


@dataclass(frozen=True, slots=True)
class IncidentType:
    code: str
    name: str
    default_priority: int
    capability: str
    steps: tuple[Step, ...]


@dataclass(slots=True)
class Catalogue:
    types: dict[str, IncidentType] = field(default_factory=dict)
    thresholds: dict[int, Thresholds] = field(default_factory=dict)
    # The type an alarm calls for, as the backend serves it: by cause, else by the device's kind.
    type_for_cause: dict[str, str] = field(default_factory=dict)
    type_for_kind: dict[str, str] = field(default_factory=dict)

    def name(self, code: str) -> str:
        t = self.types.get(code)
        return t.name if t else code.replace("_", " ").capitalize()


# ---- rules the views apply ----------------------------------------------------------------------


def timer_level(inc: IncidentRecord, thresholds: Thresholds | None, now: float) -> str:
    """ "" | "amber" | "red": how late the incident is. A NEW one is measured against the
    not-dispatched thresholds, any other open one against the open thresholds; resolved and
    closed ones are never late."""
    if thresholds is None or not inc.is_open or not inc.created_at:
        return ""
    age = now - inc.created_at
    if inc.status == "new":
        amber, red = thresholds.not_dispatched_amber, thresholds.not_dispatched_red
    else:
        amber, red = thresholds.open_amber, thresholds.open_red
    if red and age >= red:
        return "red"
    if amber and age >= amber:
        return "amber"
    return ""


def incident_order(inc: IncidentRecord) -> tuple:
    """Open incidents first, by priority then oldest first; then the closed ones, newest first."""
    if inc.is_open:
        return (0, inc.priority, inc.created_at, inc.id)
    return (1, 0, -(inc.resolved_at or inc.closed_at or inc.updated_at), inc.id)


# The board's groups, top to bottom: the units at work (in the order of a job), then those free
# to be sent, then those out of the game.
BOARD_ORDER = ("dispatched", "en_route", "on_scene", "returning", "available", "off_duty", "out_of_service")


def unit_order(u: UnitRecord) -> tuple:
    """Grouped by status (BOARD_ORDER), then by callsign."""
    rank = BOARD_ORDER.index(u.status) if u.status in BOARD_ORDER else len(BOARD_ORDER)
    return (rank, u.callsign, u.id)


def duration_text(seconds: float) -> str:
    """A short age: "45 s", "12 min", "3 h 05"."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d}"
    return f"{s // 3600} h {(s % 3600) // 60:02d}"


def type_for_alarm(cause: str, asset_kind: str, catalogue: Catalogue) -> str:
    """The incident type an alarm calls for (the backend's tables, ListIncidentTypes), among the
    catalogue's codes ("" if none fits)."""
    known = set(catalogue.types)
    by_cause = catalogue.type_for_cause.get(cause, "")
    by_kind = catalogue.type_for_kind.get(asset_kind, "")
    for code in (by_cause, by_kind, "public_order"):
        if code and (not known or code in known):
            return code
    return next(iter(sorted(known)), "")
