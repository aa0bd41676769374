"""Protobuf <-> dispatch domain for IncidentService and UnitService (the only place that does it),
and the request checks both share: bounds, positions, idempotency fingerprints, page tokens."""

from __future__ import annotations

import base64
import hashlib
import math

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.backend.dispatch import RoutingUnavailable
from vigie.backend.domain.incidents import Incident, IncidentError
from vigie.backend.domain.units import TransitionRefused, Unit, UnknownUnit
from vigie.backend.routing import Route
from vigie.backend.security import principal
from vigie.v1 import common_pb2, incidents_pb2

# Characters of each string field (ids and keys 128, free text 1000, reasons 500); entries of lists.
MAX_CHARS = {
    "description": 1000,
    "text": 1000,
    "reason": 500,
    "outcome": 500,
    "page_token": 200,
    "epoch": 128,
}
MAX_ID = 128
MAX_LIST = 100

MAX_OFFSET_M = 2000.0  # how far from any street a position may be

_INCIDENT_STATUS = {
    "not_found": grpc.StatusCode.NOT_FOUND,
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
}


def domain_status(exc: Exception) -> tuple[grpc.StatusCode, str] | None:
    """The gRPC status of a dispatch refusal (None: not one, a bug)."""
    if isinstance(exc, IncidentError):
        return _INCIDENT_STATUS.get(exc.code, grpc.StatusCode.FAILED_PRECONDITION), str(exc)
    if isinstance(exc, UnknownUnit):
        return grpc.StatusCode.NOT_FOUND, f"no unit {str(exc.args[0])[:MAX_ID]!r}"
    if isinstance(exc, (RoutingUnavailable, TransitionRefused)):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    return None


def ts(t: float, out: Timestamp) -> None:
    if t:
        secs = int(t)
        out.seconds = secs
        out.nanos = int((t - secs) * 1e9)


def unit_to_pb(u: Unit, out: incidents_pb2.Unit | None = None) -> incidents_pb2.Unit:
    m = incidents_pb2.Unit() if out is None else out
    m.id = u.id
    m.callsign = u.callsign
    m.fleet = u.fleet
    m.service = u.service
    m.capabilities.extend(int(c) for c in u.capabilities)  # type: ignore[misc]
    m.status = int(u.status)  # type: ignore[assignment]
    ts(u.status_since, m.status_since)
    m.incident_id = u.incident_id
    m.status_reason = u.status_reason
    m.updated_by = u.updated_by
    m.sequence = u.sequence
    return m


def route_points(route: Route) -> list[common_pb2.GeoPoint]:
    return [common_pb2.GeoPoint(lat=lat, lon=lon) for lat, lon in route.points]


def check_point(p: common_pb2.GeoPoint, name: str) -> str:
    """Why a position is unusable ("" when it is fine)."""
    if not (math.isfinite(p.lat) and math.isfinite(p.lon)) or not (
        -90 <= p.lat <= 90 and -180 <= p.lon <= 180
    ):
        return f"{name} must be a WGS84 position in decimal degrees"
    if p.lat == 0 and p.lon == 0:
        return f"{name} is required"
    return ""


def who() -> str:
    return principal.current().user


def incident_to_pb(i: Incident, out: incidents_pb2.Incident | None = None) -> incidents_pb2.Incident:
    m = incidents_pb2.Incident() if out is None else out
    m.id = i.id
    m.type = i.type
    m.priority = i.priority
    m.status = int(i.status)  # type: ignore[assignment]
    m.position.lat = i.lat
    m.position.lon = i.lon
    m.street = i.street
    m.district = i.district
    m.description = i.description
    m.alarm_ids.extend(i.alarm_ids)
    m.asset_ids.extend(i.asset_ids)
    m.camera_ids.extend(i.camera_ids)
    for s in i.steps:
        st = m.steps.add(id=s.id, text=s.text, required=s.required, done=s.done, done_by=s.done_by)
        ts(s.done_at, st.done_at)
    m.unit_ids.extend(i.unit_ids)
    for e in i.timeline:
        te = m.timeline.add(
            user=e.user, kind=int(e.kind), text=e.text, unit_id=e.unit_id, unit_status=e.unit_status
        )  # type: ignore[arg-type]
        ts(e.time, te.time)
    m.hold_reason = i.hold_reason
    m.outcome = i.outcome
    m.created_by = i.created_by
    m.source = i.source
    m.device_id = i.device_id
    for name in ("created_at", "dispatched_at", "on_scene_at", "resolved_at", "closed_at", "updated_at"):
        ts(getattr(i, name), getattr(m, name))
    m.sequence = i.sequence
    for r in i.routes:
        mr = m.routes.add(unit_id=r.unit_id, callsign=r.callsign, distance_m=r.distance_m)
        mr.destination.lat, mr.destination.lon = i.lat, i.lon
        for lat, lon in r.points:
            mr.polyline.add(lat=lat, lon=lon)
        ts(r.eta_at, mr.eta_at)
    return m


def bounds_problem(request: Message) -> str:
    """The first string or list of `request` past its bound ("" when none is)."""
    for field, value in request.ListFields():
        if field.is_repeated:
            if len(value) > MAX_LIST:
                return f"{field.name} has {len(value)} entries (at most {MAX_LIST})"
            if field.type == field.TYPE_STRING:
                for v in value:
                    if len(v) > MAX_ID:
                        return f"an entry of {field.name} is {len(v)} characters (at most {MAX_ID})"
        elif field.type == field.TYPE_STRING:
            cap = MAX_CHARS.get(field.name, MAX_ID)
            if len(value) > cap:
                return f"{field.name} is {len(value)} characters (at most {cap})"
    return ""


def fingerprint(request: Message) -> str:
    data = request.SerializeToString(deterministic=True)
    return hashlib.sha256(data).hexdigest()[:32]


def encode_token(created_at: float, num: int) -> str:
    return base64.urlsafe_b64encode(f"i:{created_at!r}:{num}".encode()).decode()


def decode_token(token: str) -> tuple[float, int] | None:
    try:
        prefix, created, num = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return (float(created), int(num)) if prefix == "i" else None
    except (ValueError, UnicodeDecodeError):
        return None
