"""The transport records the console shows (Qt-free dataclasses, filled by app/client/transit.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TransitStop:
    id: str
    name: str
    distance_m: float
    station_asset_id: str = ""


@dataclass(frozen=True, slots=True)
class TransitLine:
    id: str
    name: str
    mode: str  # "bus", "tram", "shuttle"
    color: str
    length_m: float
    headway_s: int
    stops: tuple[TransitStop, ...]
    junction_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransitVehicleRecord:
    id: str
    line_id: str
    distance_m: float  # from the line's first stop
    direction: int
    deviation_s: int  # > 0 late
    state: str  # "running", "dwelling", "waiting_signal", "held", "layover"
    headway_s: int
    next_stop_id: str


@dataclass(frozen=True, slots=True)
class JunctionRecord:
    id: str
    name: str
    enabled: bool
    line_ids: tuple[str, ...]
    min_lateness_s: int
    max_cross_wait_s: int
    inhibit_s: int
    preempted: bool = False
    rules: TspRuleValues | None = None  # the whole rules, for the editor


@dataclass(frozen=True, slots=True)
class TspRuleValues:
    """A junction's TSP rules as the console edits them (TSP_CONFIGURE's `tsp_rules`).

    Empty `lines`: every line; empty `classes`: buses and shuttles."""

    lines: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()  # "bus", "shuttle", "tram"
    min_lateness_s: int = 60
    shuttle_min_lateness_s: int = 0
    inhibit_s: int = 90
    max_cross_wait_s: int = 20
    max_extension_s: int = 15
    early_green: bool = True


@dataclass(frozen=True, slots=True)
class CorridorRow:
    hour: float  # unix seconds of the hour's start
    line_id: str
    vehicle_class: str
    time_saved_s: float
    signal_delay_s: float
    grants: int
    denials: int
    cross_delay_s: float


@dataclass(slots=True)
class CorridorStats:
    rows: list[CorridorRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PriorityRecord:
    """One priority event at a junction (WatchPriority)."""

    sequence: int
    kind: str  # "check_in", "granted", "denied", "check_out", "preemption_start", "preemption_end"
    junction_id: str
    vehicle_id: str
    line_id: str
    vehicle_class: str
    strategy: str  # "green_extension", "early_green", "preemption", ""
    reason: str
    lateness_s: int
    cross_delay_s: float
    time_saved_s: float
    lat: float
    lon: float
