"""vigie.v1 incident and unit messages to the console's dispatch records and back (the dispatch half
of app/client/convert.py, kept apart so neither file grows past a screenful of sections)."""

from __future__ import annotations

from vigie.app.client.convert import seconds
from vigie.app.models.dispatch_records import (
    Candidate,
    Catalogue,
    IncidentRecord,
    IncidentType,
    Step,
    Thresholds,
    TimelineItem,
    UnitRecord,
    UnitRouteRecord,
)
from vigie.v1 import common_pb2, incidents_pb2

UNIT_STATUS_NAMES = {v: k.lower() for k, v in incidents_pb2.Unit.Status.items() if v != 0}
UNIT_STATUS_NUMBERS = {name: v for v, name in UNIT_STATUS_NAMES.items()}
CAPABILITY_NAMES = {v: k.lower() for k, v in incidents_pb2.Unit.Capability.items() if v != 0}
CAPABILITY_NUMBERS = {name: v for v, name in CAPABILITY_NAMES.items()}
INCIDENT_STATUS_NAMES = {v: k.lower() for k, v in incidents_pb2.Incident.Status.items() if v != 0}
INCIDENT_STATUS_NUMBERS = {name: v for v, name in INCIDENT_STATUS_NAMES.items()}
TIMELINE_KIND_NAMES = {v: k.lower() for k, v in incidents_pb2.TimelineEntry.Kind.items() if v != 0}


def _duration(d: object) -> float:
    return float(d.seconds + d.nanos * 1e-9)  # type: ignore[attr-defined]


def unit(u: incidents_pb2.Unit) -> UnitRecord:
    return UnitRecord(
        u.id,
        u.callsign,
        u.fleet,
        u.service,
        tuple(CAPABILITY_NAMES.get(c, "") for c in u.capabilities),
        UNIT_STATUS_NAMES.get(u.status, "off_duty"),
        seconds(u.status_since),
        u.incident_id,
        u.status_reason,
        u.updated_by,
        u.sequence,
    )


def step(s: incidents_pb2.IncidentStep) -> Step:
    return Step(s.id, s.text, s.required, s.done, s.done_by, seconds(s.done_at))


def incident(i: incidents_pb2.Incident) -> IncidentRecord:
    return IncidentRecord(
        i.id,
        i.type,
        i.priority,
        INCIDENT_STATUS_NAMES.get(i.status, "new"),
        i.position.lat,
        i.position.lon,
        i.street,
        i.district,
        i.description,
        tuple(i.alarm_ids),
        tuple(i.asset_ids),
        tuple(i.camera_ids),
        tuple(step(s) for s in i.steps),
        tuple(i.unit_ids),
        tuple(
            TimelineItem(
                seconds(e.time),
                e.user,
                TIMELINE_KIND_NAMES.get(e.kind, ""),
                e.text,
                e.unit_id,
                UNIT_STATUS_NAMES.get(e.unit_status, ""),
            )
            for e in i.timeline
        ),
        i.hold_reason,
        i.outcome,
        i.created_by,
        i.source,
        i.device_id,
        seconds(i.created_at),
        seconds(i.dispatched_at),
        seconds(i.on_scene_at),
        seconds(i.resolved_at),
        seconds(i.closed_at),
        seconds(i.updated_at),
        i.sequence,
        tuple(
            UnitRouteRecord(
                r.unit_id,
                r.callsign,
                tuple((p.lat, p.lon) for p in r.polyline),
                r.distance_m,
                seconds(r.eta_at),
            )
            for r in i.routes
        ),
    )


def candidate(c: incidents_pb2.Candidate) -> Candidate:
    return Candidate(
        unit(c.unit),
        c.position.lat,
        c.position.lon,
        _duration(c.eta),
        c.distance_m,
        tuple((p.lat, p.lon) for p in c.route),
    )


def catalogue(resp: incidents_pb2.ListIncidentTypesResponse) -> Catalogue:
    cat = Catalogue()
    for t in resp.types:
        steps = tuple(Step(s.id, s.text, s.required, False) for s in t.steps)
        cat.types[t.code] = IncidentType(
            t.code, t.name, t.default_priority, CAPABILITY_NAMES.get(t.capability, ""), steps
        )
    for th in resp.thresholds:
        cat.thresholds[th.priority] = Thresholds(
            th.priority,
            _duration(th.not_dispatched_amber),
            _duration(th.not_dispatched_red),
            _duration(th.open_amber),
            _duration(th.open_red),
        )
    cat.type_for_cause = dict(resp.type_for_cause)
    cat.type_for_kind = dict(resp.type_for_device_kind)
    return cat


def point(lat: float, lon: float) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(lat=lat, lon=lon)


def create_request(
    key: str,
    type_code: str,
    priority: int,
    lat: float,
    lon: float,
    description: str,
    alarm_ids: list[str],
    asset_ids: list[str],
    camera_ids: list[str],
) -> incidents_pb2.CreateIncidentRequest:
    return incidents_pb2.CreateIncidentRequest(
        idempotency_key=key,
        type=type_code,
        priority=priority,
        position=point(lat, lon),
        description=description,
        alarm_ids=alarm_ids,
        asset_ids=asset_ids,
        camera_ids=camera_ids,
    )


def update_request(
    incident_id: str, status: str = "", reason: str = "", outcome: str = "", override: bool = False
) -> incidents_pb2.UpdateIncidentRequest:
    """A status change; unknown status names are a console bug (KeyError)."""
    return incidents_pb2.UpdateIncidentRequest(
        incident_id=incident_id,
        status=INCIDENT_STATUS_NUMBERS[status] if status else 0,  # type: ignore[arg-type]
        reason=reason,
        outcome=outcome,
        override=override,
    )
