"""Transit words shared by commands, the simulator and the service: vehicle classes, a junction's
transit-signal-priority rules (NTCIP 1211's request server configuration) and priority events.

Plain Python: the rules travel as a command parameter (TSP_CONFIGURE) and come back in the
junction's reported state as one attribute string, so a command is confirmed from the store like
any other (`encode_rules` / `decode_rules`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class VehicleClass(StrEnum):
    BUS = "bus"
    SHUTTLE = "shuttle"
    TRAM = "tram"
    EMERGENCY = "emergency"


class Mode(StrEnum):
    BUS = "bus"
    TRAM = "tram"
    SHUTTLE = "shuttle"


MODE_CLASS = {Mode.BUS: VehicleClass.BUS, Mode.TRAM: VehicleClass.TRAM, Mode.SHUTTLE: VehicleClass.SHUTTLE}
TRANSIT_FLEETS = frozenset(m.value for m in Mode)  # the `fleet` attribute of transit vehicles

LINE_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
MAX_RULE_LINES = 50
MAX_RULE_S = 600


@dataclass(frozen=True, slots=True)
class TspRules:
    """Who gets priority at a junction, and what it may cost the cross street.

    Empty `lines`: every line; empty `classes`: buses and shuttles. A bus is served only when
    later than `min_lateness_s`, a shuttle when later than `shuttle_min_lateness_s` (0: always)."""

    lines: tuple[str, ...] = ()
    classes: tuple[VehicleClass, ...] = ()
    min_lateness_s: int = 60
    shuttle_min_lateness_s: int = 0
    inhibit_s: int = 90
    max_cross_wait_s: int = 20
    max_extension_s: int = 15
    early_green: bool = True

    def allows_class(self, c: VehicleClass) -> bool:
        return c in (self.classes or (VehicleClass.BUS, VehicleClass.SHUTTLE))

    def allows_line(self, line: str) -> bool:
        return not self.lines or line in self.lines

    def threshold_s(self, c: VehicleClass) -> int:
        return self.shuttle_min_lateness_s if c is VehicleClass.SHUTTLE else self.min_lateness_s


DEFAULT_RULES = TspRules()


def check_rules(r: TspRules) -> list[str]:
    """Reasons the rules are not acceptable (empty: fine)."""
    out: list[str] = []
    if len(r.lines) > MAX_RULE_LINES:
        out.append(f"at most {MAX_RULE_LINES} lines (got {len(r.lines)})")
    bad = [x for x in r.lines if not LINE_ID.fullmatch(x)]
    if bad:
        out.append(f"line ids must be 1 to 16 letters, digits, '_' or '-' (got {bad[0][:40]!r})")
    if VehicleClass.EMERGENCY in r.classes:
        out.append("emergency vehicles use preemption, not priority rules")
    for name in ("min_lateness_s", "shuttle_min_lateness_s", "inhibit_s"):
        v = getattr(r, name)
        if not 0 <= v <= MAX_RULE_S:
            out.append(f"{name} must be 0..{MAX_RULE_S} (got {v})")
    if not 1 <= r.max_cross_wait_s <= 120:
        out.append(f"max_cross_wait_s must be 1..120 (got {r.max_cross_wait_s})")
    if not 1 <= r.max_extension_s <= 60:
        out.append(f"max_extension_s must be 1..60 (got {r.max_extension_s})")
    return out


def encode_rules(r: TspRules) -> str:
    """One canonical attribute string: the same rules always give the same text."""
    classes = ",".join(sorted(c.value for c in r.classes))
    return (
        f"lines={','.join(sorted(r.lines))};classes={classes};late={r.min_lateness_s};"
        f"shuttle_late={r.shuttle_min_lateness_s};inhibit={r.inhibit_s};max_wait={r.max_cross_wait_s};"
        f"max_ext={r.max_extension_s};early={int(r.early_green)}"
    )


def decode_rules(s: str) -> TspRules:
    """The rules of `encode_rules`' text; DEFAULT_RULES for an empty or damaged string."""
    try:
        kv = dict(part.split("=", 1) for part in s.split(";") if part)
        return TspRules(
            lines=tuple(x for x in kv["lines"].split(",") if x),
            classes=tuple(VehicleClass(x) for x in kv["classes"].split(",") if x),
            min_lateness_s=int(kv["late"]),
            shuttle_min_lateness_s=int(kv["shuttle_late"]),
            inhibit_s=int(kv["inhibit"]),
            max_cross_wait_s=int(kv["max_wait"]),
            max_extension_s=int(kv["max_ext"]),
            early_green=kv["early"] == "1",
        )
    except (KeyError, ValueError):
        return DEFAULT_RULES


class EventKind(StrEnum):
    CHECK_IN = "check_in"
    GRANTED = "granted"
    DENIED = "denied"
    CHECK_OUT = "check_out"
    PREEMPTION_START = "preemption_start"
    PREEMPTION_END = "preemption_end"


class Strategy(StrEnum):
    NONE = "none"
    GREEN_EXTENSION = "green_extension"
    EARLY_GREEN = "early_green"
    PREEMPTION = "preemption"


@dataclass(frozen=True, slots=True)
class PriorityEvent:
    """One step of a priority request's life at a junction (numbered by the priority log)."""

    sequence: int
    kind: EventKind
    time: float  # unix seconds on the simulation's clock
    junction_id: str
    vehicle_id: str
    line_id: str
    vehicle_class: VehicleClass
    strategy: Strategy = Strategy.NONE
    reason: str = ""
    lateness_s: int = 0
    time_saved_s: float = 0.0
    cross_delay_s: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
