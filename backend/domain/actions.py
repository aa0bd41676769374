"""What operators may ask devices to do: the action table, parameter checks, and the device state
that shows an action took effect (Qt-free, gRPC-free).

The state vocabulary here (attribute names and values) is the one every device network publishes,
so the backend can confirm a command from the store alone, whichever adapter carried it:

- street lights: `mode` on/dimmed/off, `level_pct` 0..100
- traffic signals: `mode` normal/flashing (the timing `plan` is kept for the return to normal),
  `bus_priority` on/off
- bollards: `position` raised/lowered (raising/lowering while they travel)
- access points: `lock` locked/unlocked, `badges_deactivated` ("B-1, B-2"),
  `temporary_access` ("B-3 until 2025-06-01T18:00:00Z, ...")
- cameras: `preset` (the PTZ preset the camera reports it is at)
- water sensors: `low_pressure_pct` (the low-pressure alarm threshold, % of nominal pressure)
- traffic signals on transit lines: `tsp_rules` (domain/transit.py's encode_rules)
- trams: `hold_s` (the hold in force, "0" none), `skip_station` (a stop id, "" none)
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, fields
from enum import StrEnum

from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.transit import TspRules, check_rules, encode_rules


class Action(StrEnum):
    LIGHT_ON = "LIGHT_ON"
    LIGHT_OFF = "LIGHT_OFF"
    LIGHT_DIM = "LIGHT_DIM"
    SIGNAL_FLASHING = "SIGNAL_FLASHING"
    SIGNAL_NORMAL = "SIGNAL_NORMAL"
    SIGNAL_BUS_PRIORITY_ON = "SIGNAL_BUS_PRIORITY_ON"
    SIGNAL_BUS_PRIORITY_OFF = "SIGNAL_BUS_PRIORITY_OFF"
    BOLLARD_RAISE = "BOLLARD_RAISE"
    BOLLARD_LOWER = "BOLLARD_LOWER"
    ACCESS_LOCK = "ACCESS_LOCK"
    ACCESS_UNLOCK = "ACCESS_UNLOCK"
    BADGE_DEACTIVATE = "BADGE_DEACTIVATE"
    BADGE_GRANT_TEMPORARY = "BADGE_GRANT_TEMPORARY"
    CAMERA_GOTO_PRESET = "CAMERA_GOTO_PRESET"
    SENSOR_LOW_PRESSURE_THRESHOLD = "SENSOR_LOW_PRESSURE_THRESHOLD"
    TSP_CONFIGURE = "TSP_CONFIGURE"
    TRAM_HOLD = "TRAM_HOLD"
    TRAM_RELEASE = "TRAM_RELEASE"
    TRAM_SKIP_STATION = "TRAM_SKIP_STATION"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    action: Action
    label: str
    kinds: tuple[Kind, ...]
    critical: bool = False  # needs confirmation, a reason and the SUPERVISOR role
    params: tuple[str, ...] = ()  # names of the Params fields it needs


_L, _S, _B, _A, _C = Kind.STREET_LIGHT, Kind.TRAFFIC_SIGNAL, Kind.BOLLARD, Kind.ACCESS_POINT, Kind.CAMERA
_W = Kind.WATER_SENSOR
_V = Kind.VEHICLE

ACTIONS: dict[Action, ActionSpec] = {
    s.action: s
    for s in (
        ActionSpec(Action.LIGHT_ON, "Switch on", (_L,)),
        ActionSpec(Action.LIGHT_OFF, "Switch off", (_L,)),
        ActionSpec(Action.LIGHT_DIM, "Dim to a level", (_L,), params=("level_percent",)),
        ActionSpec(Action.SIGNAL_FLASHING, "Flashing amber (plan off)", (_S,), critical=True),
        ActionSpec(Action.SIGNAL_NORMAL, "Back to the normal plan", (_S,)),
        ActionSpec(Action.SIGNAL_BUS_PRIORITY_ON, "Bus priority on", (_S,)),
        ActionSpec(Action.SIGNAL_BUS_PRIORITY_OFF, "Bus priority off", (_S,)),
        ActionSpec(Action.BOLLARD_RAISE, "Raise (closes the street)", (_B,), critical=True),
        ActionSpec(Action.BOLLARD_LOWER, "Lower (opens the street)", (_B,), critical=True),
        ActionSpec(Action.ACCESS_LOCK, "Lock (badges refused)", (_A,), critical=True),
        ActionSpec(Action.ACCESS_UNLOCK, "Unlock", (_A,)),
        ActionSpec(Action.BADGE_DEACTIVATE, "Deactivate a badge", (_A,), params=("badge_id",)),
        ActionSpec(
            Action.BADGE_GRANT_TEMPORARY,
            "Grant a badge temporary access",
            (_A,),
            params=("badge_id", "until"),
        ),
        ActionSpec(Action.CAMERA_GOTO_PRESET, "Go to a preset", (_C,), params=("preset",)),
        ActionSpec(
            Action.SENSOR_LOW_PRESSURE_THRESHOLD,
            "Set the low-pressure alarm threshold",
            (_W,),
            params=("level_percent",),
        ),
        ActionSpec(Action.TSP_CONFIGURE, "Set transit priority rules", (_S,), params=("tsp_rules",)),
        ActionSpec(Action.TRAM_HOLD, "Hold the tram at a station", (_V,), params=("hold_seconds",)),
        ActionSpec(Action.TRAM_RELEASE, "Release the tram", (_V,)),
        ActionSpec(Action.TRAM_SKIP_STATION, "Skip a station", (_V,), params=("station_id",)),
    )
}

KIND_LABELS = {
    Kind.CAMERA: "camera",
    Kind.TRAFFIC_SIGNAL: "traffic signal",
    Kind.STREET_LIGHT: "street light",
    Kind.BOLLARD: "bollard",
    Kind.ACCESS_POINT: "access point",
    Kind.DELIVERY_BAY: "delivery bay",
    Kind.WATER_SENSOR: "water sensor",
    Kind.TRAM_STATION: "tram station",
    Kind.VEHICLE: "vehicle",
}

BADGE_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
MAX_GRANT_S = 7 * 86_400.0
MAX_BADGE_ENTRIES = 200  # per list and access point: a controller's memory is finite
MAX_HOLD_S = 900  # a tram held longer is a service suspension, not regulation
STATION_ID = re.compile(r"[A-Za-z0-9]{1,8}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Params:
    level_percent: int = 0
    badge_id: str = ""
    until: float = 0.0  # unix seconds (0: not given)
    preset: int = 0
    hold_seconds: int = 0
    station_id: str = ""
    tsp_rules: TspRules | None = None

    def only(self, names: tuple[str, ...]) -> Params:
        """The same parameters keeping only `names` (the others back to defaults): a request is
        judged, and compared with its retries, on what the action uses."""
        return Params(**{f.name: getattr(self, f.name) for f in fields(self) if f.name in names})


def fits(action: Action, kind: Kind) -> bool:
    return kind in ACTIONS[action].kinds


def unfit_reason(action: Action, kind: Kind) -> str:
    spec = ACTIONS[action]
    wanted = " or ".join(KIND_LABELS[k] + "s" for k in spec.kinds)
    return f"{action.value} does not fit a {KIND_LABELS[kind]} (it is for {wanted})"


def check_params(action: Action, params: Params, now: float) -> list[str]:
    """Reasons the parameters are wrong for `action` (empty: fine)."""
    needed = ACTIONS[action].params
    out: list[str] = []
    if "level_percent" in needed and not 1 <= params.level_percent <= 100:
        out.append(f"level_percent must be 1..100 for {action.value} (got {params.level_percent})")
    if "badge_id" in needed:
        if not params.badge_id:
            out.append(f"badge_id is required for {action.value}")
        elif not BADGE_ID.fullmatch(params.badge_id):
            out.append(
                f"badge_id {params.badge_id[:40]!r} is not valid: 1 to 32 letters, digits, '.', '_' or '-'"
            )
    if "until" in needed:
        if params.until <= 0:
            out.append(f"until is required for {action.value}")
        elif params.until <= now:
            out.append(f"until ({format_time(params.until)}) must be in the future")
        elif params.until > now + MAX_GRANT_S:
            out.append(f"until ({format_time(params.until)}) must be within 7 days")
    if "preset" in needed and params.preset < 1:
        out.append(f"preset must be 1 or more for {action.value} (got {params.preset})")
    if "hold_seconds" in needed and not 1 <= params.hold_seconds <= MAX_HOLD_S:
        out.append(f"hold_seconds must be 1..{MAX_HOLD_S} for {action.value} (got {params.hold_seconds})")
    if "station_id" in needed and not STATION_ID.fullmatch(params.station_id):
        out.append(f"station_id is required for {action.value}: a stop id such as T1-04")
    if "tsp_rules" in needed:
        out += (
            ["tsp_rules: " + r for r in check_rules(params.tsp_rules)]
            if params.tsp_rules
            else ["tsp_rules is required"]
        )
    return out


def describe(action: Action, params: Params) -> str:
    """The new state in words, for the operator: "dimmed to 40 %"."""
    match action:
        case Action.LIGHT_ON:
            return "on"
        case Action.LIGHT_OFF:
            return "off"
        case Action.LIGHT_DIM:
            return f"dimmed to {params.level_percent} %"
        case Action.SIGNAL_FLASHING:
            return "flashing amber"
        case Action.SIGNAL_NORMAL:
            return "normal plan"
        case Action.SIGNAL_BUS_PRIORITY_ON:
            return "bus priority on"
        case Action.SIGNAL_BUS_PRIORITY_OFF:
            return "bus priority off"
        case Action.BOLLARD_RAISE:
            return "raised"
        case Action.BOLLARD_LOWER:
            return "lowered"
        case Action.ACCESS_LOCK:
            return "locked"
        case Action.ACCESS_UNLOCK:
            return "unlocked"
        case Action.BADGE_DEACTIVATE:
            return f"badge {params.badge_id} deactivated"
        case Action.BADGE_GRANT_TEMPORARY:
            return f"badge {params.badge_id} allowed until {format_time(params.until)}"
        case Action.CAMERA_GOTO_PRESET:
            return f"at preset {params.preset}"
        case Action.SENSOR_LOW_PRESSURE_THRESHOLD:
            return f"low-pressure alarm at {params.level_percent} % of nominal"
        case Action.TSP_CONFIGURE:
            return "transit priority rules set"
        case Action.TRAM_HOLD:
            return f"hold of {params.hold_seconds} s in force"
        case Action.TRAM_RELEASE:
            return "released"
        case Action.TRAM_SKIP_STATION:
            return f"will skip {params.station_id}"
    raise ValueError(action)


def target_attributes(action: Action, params: Params) -> dict[str, str]:
    """The attributes a device shows once it has done `action` (the badge lists excepted: they
    depend on the device's lists, see `shows`)."""
    match action:
        case Action.LIGHT_ON:
            return {"mode": "on", "level_pct": "100"}
        case Action.LIGHT_OFF:
            return {"mode": "off", "level_pct": "0"}
        case Action.LIGHT_DIM:
            level = params.level_percent
            return {"mode": "on" if level == 100 else "dimmed", "level_pct": str(level)}
        case Action.SIGNAL_FLASHING:
            return {"mode": "flashing"}
        case Action.SIGNAL_NORMAL:
            return {"mode": "normal"}
        case Action.SIGNAL_BUS_PRIORITY_ON:
            return {"bus_priority": "on"}
        case Action.SIGNAL_BUS_PRIORITY_OFF:
            return {"bus_priority": "off"}
        case Action.BOLLARD_RAISE:
            return {"position": "raised"}
        case Action.BOLLARD_LOWER:
            return {"position": "lowered"}
        case Action.ACCESS_LOCK:
            return {"lock": "locked"}
        case Action.ACCESS_UNLOCK:
            return {"lock": "unlocked"}
        case Action.CAMERA_GOTO_PRESET:
            return {"preset": str(params.preset)}
        case Action.SENSOR_LOW_PRESSURE_THRESHOLD:
            return {"low_pressure_pct": str(params.level_percent)}
        case Action.TSP_CONFIGURE:
            return {"tsp_rules": encode_rules(params.tsp_rules)} if params.tsp_rules else {}
        case Action.TRAM_HOLD:
            return {"hold_s": str(params.hold_seconds)}
        case Action.TRAM_RELEASE:
            return {"hold_s": "0"}
        case Action.TRAM_SKIP_STATION:
            return {"skip_station": params.station_id}
    return {}


def shows(action: Action, params: Params, asset: Asset) -> bool:
    """Whether the asset's reported state shows that `action` took effect."""
    attrs = asset.attributes
    if action is Action.BADGE_DEACTIVATE:
        return params.badge_id in parse_badges(attrs.get("badges_deactivated", ""))
    if action is Action.BADGE_GRANT_TEMPORARY:
        until = parse_grants(attrs.get("temporary_access", "")).get(params.badge_id)
        return until is not None and int(until) == int(params.until)
    return all(attrs.get(k) == v for k, v in target_attributes(action, params).items())


# --- the access points' badge lists, as attribute strings ----------------------------------------


def format_time(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_time(s: str) -> float:
    return float(calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")))


def parse_badges(s: str) -> list[str]:
    return [b for b in (part.strip() for part in s.split(",")) if b]


def format_badges(badges: list[str]) -> str:
    return ", ".join(badges)


def parse_grants(s: str) -> dict[str, float]:
    """ "B-3 until 2025-06-01T18:00:00Z, ..." -> {"B-3": unix seconds}; malformed entries skipped."""
    out: dict[str, float] = {}
    for part in s.split(","):
        badge, sep, until = part.strip().partition(" until ")
        if sep:
            try:
                out[badge] = parse_time(until)
            except ValueError:
                continue
    return out


def format_grants(grants: dict[str, float]) -> str:
    return ", ".join(f"{b} until {format_time(t)}" for b, t in grants.items())
