"""Translation between domain objects and vigie.v1 protobuf messages (the only place that does it)."""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import Any

from google.protobuf import timestamp_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.backend.domain.actions import Action, ActionSpec, Params
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.commands import CommandRequest, CommandSnapshot, Stage
from vigie.backend.domain.transit import TspRules, VehicleClass
from vigie.v1 import assets_pb2, commands_pb2, common_pb2, transit_pb2

MAX_TEXT = 1000  # characters of any stored text sent out (the request bounds, backend/security/bounds.py)


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """`text`, cut to `limit` characters (ending in "…") when longer: stored or device-given
    text never makes a message too large to send, whatever an old store holds."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


KIND_TO_PB: dict[Kind, int] = {
    Kind.CAMERA: assets_pb2.Asset.CAMERA,
    Kind.TRAFFIC_SIGNAL: assets_pb2.Asset.TRAFFIC_SIGNAL,
    Kind.STREET_LIGHT: assets_pb2.Asset.STREET_LIGHT,
    Kind.BOLLARD: assets_pb2.Asset.BOLLARD,
    Kind.ACCESS_POINT: assets_pb2.Asset.ACCESS_POINT,
    Kind.DELIVERY_BAY: assets_pb2.Asset.DELIVERY_BAY,
    Kind.WATER_SENSOR: assets_pb2.Asset.WATER_SENSOR,
    Kind.TRAM_STATION: assets_pb2.Asset.TRAM_STATION,
    Kind.VEHICLE: assets_pb2.Asset.VEHICLE,
    Kind.SYSTEM: assets_pb2.Asset.SYSTEM,
}
PB_TO_KIND: dict[int, Kind] = {v: k for k, v in KIND_TO_PB.items()}

STATUS_TO_PB: dict[Status, int] = {
    Status.OK: assets_pb2.Asset.OK,
    Status.WARNING: assets_pb2.Asset.WARNING,
    Status.FAULT: assets_pb2.Asset.FAULT,
    Status.OFFLINE: assets_pb2.Asset.OFFLINE,
    Status.MAINTENANCE: assets_pb2.Asset.MAINTENANCE,
}


def asset_to_pb(asset: Asset, out: assets_pb2.Asset | None = None) -> assets_pb2.Asset:
    """Fill `out` (or a new message) from a domain asset."""
    msg = assets_pb2.Asset() if out is None else out
    msg.id = asset.id
    msg.kind = KIND_TO_PB[asset.kind]  # type: ignore[assignment]
    msg.name = clip(asset.name)
    msg.district = clip(asset.district)
    msg.position.lat = asset.lat
    msg.position.lon = asset.lon
    msg.status = STATUS_TO_PB[asset.status]  # type: ignore[assignment]
    msg.status_reason = clip(asset.status_reason)
    secs = int(asset.last_seen)
    msg.last_seen.seconds = secs
    msg.last_seen.nanos = int((asset.last_seen - secs) * 1e9)
    msg.heading_deg = asset.heading_deg
    if asset.attributes:
        msg.attributes.update({clip(k, 128): clip(v) for k, v in asset.attributes.items()})
    msg.revision = asset.revision
    return msg


def geo(lat: float, lon: float) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(lat=lat, lon=lon)


# --- commands ---------------------------------------------------------------------------------------

ACTION_TO_PB: dict[Action, int] = {a: commands_pb2.CommandAction.Value(a.value) for a in Action}
PB_TO_ACTION: dict[int, Action] = {v: k for k, v in ACTION_TO_PB.items()}
STAGE_TO_PB: dict[Stage, int] = {s: commands_pb2.CommandStage.Value(s.name) for s in Stage}


def stamp(t: float, out: timestamp_pb2.Timestamp) -> None:
    """Unix seconds into a Timestamp field."""
    secs = int(t)
    out.seconds = secs
    out.nanos = int((t - secs) * 1e9)


def command_request_from_pb(m: commands_pb2.ExecuteRequest) -> CommandRequest:
    """An unknown or missing action becomes None (the domain explains it to the caller)."""
    p = m.params
    return CommandRequest(
        idempotency_key=m.idempotency_key,
        asset_ids=tuple(m.asset_ids),
        action=PB_TO_ACTION.get(m.action),
        params=Params(
            level_percent=p.level_percent,
            badge_id=p.badge_id,
            until=(seconds_of(p.until) or 0.0) if p.HasField("until") else 0.0,
            preset=p.preset,
            hold_seconds=p.hold_seconds,
            station_id=p.station_id,
            tsp_rules=rules_from_pb(p.tsp_rules) if p.HasField("tsp_rules") else None,
        ),
        reason=m.reason,
        confirmed=m.confirmed,
    )


def action_spec_to_pb(spec: ActionSpec) -> commands_pb2.ActionSpec:
    return commands_pb2.ActionSpec(
        action=ACTION_TO_PB[spec.action],  # type: ignore[arg-type]
        label=spec.label,
        kinds=[KIND_TO_PB[k] for k in spec.kinds],  # type: ignore[misc]
        critical=spec.critical,
        params=list(spec.params),
    )


def command_to_pb(s: CommandSnapshot, replayed: bool = False) -> commands_pb2.CommandStatus:
    m = commands_pb2.CommandStatus(
        command_id=s.command_id,
        idempotency_key=s.idempotency_key,
        action=ACTION_TO_PB[s.action],  # type: ignore[arg-type]
        user=clip(s.user),
        console=clip(s.console),
        reason=clip(s.reason),
        done=s.done,
        replayed=replayed,
    )
    m.params.level_percent = s.params.level_percent
    m.params.badge_id = s.params.badge_id
    if s.params.until:
        stamp(s.params.until, m.params.until)
    m.params.preset = s.params.preset
    m.params.hold_seconds = s.params.hold_seconds
    m.params.station_id = s.params.station_id
    if s.params.tsp_rules is not None:
        rules_to_pb(s.params.tsp_rules, m.params.tsp_rules)
    stamp(s.created_at, m.created_at)
    for t in s.targets:
        # 500 targets at most (domain/commands.py), each detail clipped: one status stays < 2.5 MB.
        pt = m.targets.add(asset_id=t.asset_id, stage=STAGE_TO_PB[t.stage], detail=clip(t.detail))  # type: ignore[arg-type]
        stamp(t.updated_at, pt.updated_at)
    return m


PRIORITIES = range(1, 5)  # alarm and incident priorities


def filter_problem(values: Iterable[int], valid: Container[int], field: str, what: str) -> str:
    """A list filter's INVALID_ARGUMENT text for its first value outside `valid` ("" when none
    is), e.g. "statuses contains 9: not an Incident.Status"."""
    bad = next((v for v in values if v not in valid), None)
    return "" if bad is None else f"{field} contains {bad}: {what}"


def request_range(request: Any) -> tuple[float | None, float | None]:
    """A list request's optional `start` and `end` fields as time_range() bounds (ValueError)."""
    return time_range(
        request.start if request.HasField("start") else None,
        request.end if request.HasField("end") else None,
    )


def time_range(start: Timestamp | None, end: Timestamp | None) -> tuple[float | None, float | None]:
    """A request's optional [start, end) bounds in seconds (None: unbounded); ValueError says
    what is wrong, for an INVALID_ARGUMENT."""
    lo = hi = None
    if start is not None and (lo := seconds_of(start)) is None:
        raise ValueError("start is not a valid timestamp")
    if end is not None and (hi := seconds_of(end)) is None:
        raise ValueError("end is not a valid timestamp")
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError("start must be before end")
    return lo, hi


def seconds_of(value: Timestamp | Duration) -> float | None:
    """Seconds (since the epoch, for a Timestamp), or None when the message is not a valid one
    (nanos outside 0..999,999,999, seconds outside years 1-9999...): callers answer INVALID_ARGUMENT."""
    try:
        return value.ToNanoseconds() / 1e9
    except ValueError:
        return None


CLASS_TO_PB: dict[VehicleClass, int] = {
    VehicleClass.BUS: transit_pb2.CLASS_BUS,
    VehicleClass.SHUTTLE: transit_pb2.CLASS_SHUTTLE,
    VehicleClass.TRAM: transit_pb2.CLASS_TRAM,
    VehicleClass.EMERGENCY: transit_pb2.CLASS_EMERGENCY,
}
PB_TO_CLASS: dict[int, VehicleClass] = {v: k for k, v in CLASS_TO_PB.items()}


def rules_from_pb(m: transit_pb2.TspRules) -> TspRules:
    """Unknown classes become EMERGENCY, which the rules' check refuses by name."""
    return TspRules(
        lines=tuple(m.lines),
        classes=tuple(PB_TO_CLASS.get(c, VehicleClass.EMERGENCY) for c in m.classes),
        min_lateness_s=m.min_lateness_s,
        shuttle_min_lateness_s=m.shuttle_min_lateness_s,
        inhibit_s=m.inhibit_s,
        max_cross_wait_s=m.max_cross_wait_s,
        max_extension_s=m.max_extension_s,
        early_green=m.early_green,
    )


def rules_to_pb(r: TspRules, out: transit_pb2.TspRules) -> transit_pb2.TspRules:
    out.lines.extend(r.lines)
    out.classes.extend(CLASS_TO_PB[c] for c in r.classes)  # type: ignore[misc]
    out.min_lateness_s = r.min_lateness_s
    out.shuttle_min_lateness_s = r.shuttle_min_lateness_s
    out.inhibit_s = r.inhibit_s
    out.max_cross_wait_s = r.max_cross_wait_s
    out.max_extension_s = r.max_extension_s
    out.early_green = r.early_green
    return out
