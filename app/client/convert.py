"""vigie.v1 messages to the console's plain records and back: the one place that reads or builds
protobuf on the console's side (controllers, models and widgets get dataclasses)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.app.client.types import AuditQuery, JournalQuery
from vigie.app.models import records
from vigie.app.models.audit import AuditRow
from vigie.app.models.commands import ActionInfo, CommandState, TargetState
from vigie.app.models.records import AlarmRecord, AssetRecord, CameraInfo, Series
from vigie.app.models.transit import TspRuleValues
from vigie.app.wall.content import IncidentRoute, WallContent, WallState
from vigie.v1 import alarms_pb2, assets_pb2, audit_pb2, commands_pb2, transit_pb2, video_pb2, wall_pb2

KIND_NAMES = {v: k.lower() for k, v in assets_pb2.Asset.Kind.items() if v != 0}
KIND_NUMBERS = {name: v for v, name in KIND_NAMES.items()}
STATUS_NAMES = {v: k.lower() for k, v in assets_pb2.Asset.Status.items() if v != 0}
ALARM_STATE_NAMES = {v: k.lower() for k, v in alarms_pb2.Alarm.State.items() if v != 0}
ALARM_STATE_NUMBERS = {name: v for v, name in ALARM_STATE_NAMES.items()}
PTZ_ACTIONS = {
    "move": video_pb2.PtzRequest.MOVE,
    "stop": video_pb2.PtzRequest.STOP,
    "preset": video_pb2.PtzRequest.GOTO_PRESET,
}


def seconds(t: Any) -> float:
    """A Timestamp as unix seconds (0 when unset)."""
    return float(t.seconds + t.nanos * 1e-9)


def stamp(unix_s: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(unix_s * 1e9))
    return ts


# ---- assets, telemetry, cameras --------------------------------------------------------------


def _unpack_attributes(packed: bytes) -> dict[str, str]:
    return dict(assets_pb2.Asset.FromString(packed).attributes)


records.unpack_attributes = _unpack_attributes


def asset(a: assets_pb2.Asset) -> AssetRecord:
    return assets([a])[0]


def assets(msgs: Iterable[assets_pb2.Asset]) -> list[AssetRecord]:
    """Records of many assets: the session thread converts up to 100,000 a second (issue 17),
    so one loop with everything bound locally, each sub-message read once, and the timestamp
    computed inline (a call per field cost a third more; docs/performance.md)."""
    kinds, statuses, record = KIND_NAMES.get, STATUS_NAMES.get, AssetRecord
    out: list[AssetRecord] = []
    append = out.append
    for a in msgs:
        p, t = a.position, a.last_seen
        append(
            record(
                a.id,
                kinds(a.kind, "unknown"),
                a.name,
                a.district,
                p.lat,
                p.lon,
                statuses(a.status, "offline"),
                a.status_reason,
                float(t.seconds + t.nanos * 1e-9),
                a.heading_deg,
                a.revision,
                a.SerializeToString(),  # unpacked by AssetRecord.attributes when asked (app/models/records.py)
            )
        )
    return out


def series(s: assets_pb2.MetricSeries) -> Series:
    n = len(s.samples)
    times = np.fromiter((x.time_unix_ms for x in s.samples), dtype=np.float64, count=n) / 1000.0
    values = np.fromiter((x.value for x in s.samples), dtype=np.float64, count=n)
    return Series(s.metric, s.label or s.metric, s.unit, times, values)


def camera(c: video_pb2.Camera) -> CameraInfo:
    return CameraInfo(
        c.id,
        c.name,
        c.ptz,
        [(p.number, p.name) for p in c.presets],
        c.direct,
        c.url,
        c.source or "simulated",
    )


# ---- alarms ----------------------------------------------------------------------------------


def alarm(a: alarms_pb2.Alarm) -> AlarmRecord:
    return AlarmRecord(
        a.id,
        a.source_key,
        a.asset_id,
        a.asset_name,
        KIND_NAMES.get(a.asset_kind, "unknown"),
        a.district,
        a.position.lat,
        a.position.lon,
        a.priority,
        a.cause,
        a.message,
        ALARM_STATE_NAMES.get(a.state, "normal"),
        a.active,
        a.acknowledged,
        seconds(a.raised_at),
        seconds(a.cleared_at),
        seconds(a.acknowledged_at),
        a.acknowledged_by,
        a.ack_comment,
        seconds(a.shelved_until),
        a.shelve_reason,
        list(a.camera_ids),
        a.occurrences,
        a.chattering,
        a.sequence,
        seconds(a.updated_at),
    )


def journal_request(q: JournalQuery) -> alarms_pb2.ListAlarmsRequest:
    """Unknown kind or state names are a console bug: KeyError, loudly."""
    req = alarms_pb2.ListAlarmsRequest(page_size=q.page_size, page_token=q.page_token, text=q.text)
    if q.start:
        req.start.CopyFrom(stamp(q.start))
    req.kinds.extend(KIND_NUMBERS[k] for k in q.kinds)
    req.districts.extend(q.districts)
    req.priorities.extend(q.priorities)
    req.states.extend(ALARM_STATE_NUMBERS[s] for s in q.states)
    return req


def shelve_duration(s: float) -> Duration:
    return Duration(seconds=int(s))


# ---- commands --------------------------------------------------------------------------------


def action(spec: commands_pb2.ActionSpec) -> ActionInfo:
    return ActionInfo(
        spec.action,
        commands_pb2.CommandAction.Name(spec.action),
        spec.label,
        tuple(KIND_NAMES.get(k, "") for k in spec.kinds),
        spec.critical,
        tuple(spec.params),
    )


def command_state(key: str, st: commands_pb2.CommandStatus, retries: int = 0) -> CommandState:
    return CommandState(
        key=key,
        action=commands_pb2.CommandAction.Name(st.action),
        targets=[
            TargetState(
                t.asset_id,
                commands_pb2.CommandStage.Name(t.stage),
                t.detail,
                t.updated_at.ToNanoseconds() / 1e9,
            )
            for t in st.targets
        ],
        reason=st.reason,
        command_id=st.command_id,
        user=st.user,
        created=st.created_at.ToNanoseconds() / 1e9 or time.time(),
        done=st.done,
        replayed=st.replayed,
        retries=retries,
    )


def action_name(number: int) -> str:
    return commands_pb2.CommandAction.Name(number)  # type: ignore[arg-type]


def execute_request(
    key: str, asset_ids: list[str], action: int, params: dict[str, Any], reason: str, confirmed: bool
) -> commands_pb2.ExecuteRequest:
    """`params`: level_percent, badge_id, until (unix seconds), preset, hold_seconds, station_id,
    tsp_rules (app/models/transit.py's TspRuleValues)."""
    p = commands_pb2.CommandParams(
        level_percent=int(params.get("level_percent", 0)),
        badge_id=str(params.get("badge_id", "")),
        preset=int(params.get("preset", 0)),
        hold_seconds=int(params.get("hold_seconds", 0)),
        station_id=str(params.get("station_id", "")),
    )
    if params.get("until"):
        p.until.FromNanoseconds(int(float(params["until"]) * 1e9))
    if params.get("tsp_rules") is not None:
        p.tsp_rules.CopyFrom(rules_message(params["tsp_rules"]))
    return commands_pb2.ExecuteRequest(
        idempotency_key=key,
        asset_ids=asset_ids,
        action=action,  # type: ignore[arg-type]
        params=p,
        reason=reason,
        confirmed=confirmed,
    )


RULE_CLASSES = {
    "bus": transit_pb2.CLASS_BUS,
    "shuttle": transit_pb2.CLASS_SHUTTLE,
    "tram": transit_pb2.CLASS_TRAM,
}


def rules_message(v: TspRuleValues) -> transit_pb2.TspRules:
    """TSP_CONFIGURE's `params.tsp_rules`; an unknown class goes as EMERGENCY, which the backend
    refuses by name."""
    return transit_pb2.TspRules(
        lines=list(v.lines),
        classes=[RULE_CLASSES.get(c, transit_pb2.CLASS_EMERGENCY) for c in v.classes],
        min_lateness_s=v.min_lateness_s,
        shuttle_min_lateness_s=v.shuttle_min_lateness_s,
        inhibit_s=v.inhibit_s,
        max_cross_wait_s=v.max_cross_wait_s,
        max_extension_s=v.max_extension_s,
        early_green=v.early_green,
    )


# ---- audit -----------------------------------------------------------------------------------


def audit_row(r: audit_pb2.AuditRecord) -> AuditRow:
    return AuditRow(
        r.id,
        r.time.ToNanoseconds() / 1e9,
        r.user,
        r.console,
        r.action,
        r.target,
        r.reason,
        r.result,
        r.detail,
    )


def audit_request(q: AuditQuery) -> audit_pb2.ListAuditRequest:
    req = audit_pb2.ListAuditRequest(
        user=q.user,
        action=q.action,
        result=q.result,
        text=q.text,
        page_size=q.page_size,
        page_token=q.page_token,
    )
    if q.start:
        req.start.FromSeconds(int(q.start))
    if q.end:
        req.end.FromSeconds(int(q.end))
    return req


# ---- walls -----------------------------------------------------------------------------------


def wall_content(m: wall_pb2.WallContent) -> WallContent:
    kind = m.WhichOneof("content") or ""
    common: dict[str, Any] = {
        "pushed_by": m.pushed_by,
        "console": m.console,
        "pushed_at": seconds(m.pushed_at),
        "version": m.version,
    }
    if kind == "camera":
        return WallContent(kind, camera_id=m.camera.camera_id, **common)
    if kind == "mosaic":
        x = m.mosaic
        return WallContent(
            kind,
            name=x.name,
            rows=x.rows,
            columns=x.columns,
            camera_ids=tuple(x.camera_ids),
            layout=x.layout,
            **common,
        )
    if kind == "map":
        p = m.map
        return WallContent(
            kind,
            lat=p.center.lat,
            lon=p.center.lon,
            zoom=p.zoom,
            focus_asset_id=p.focus_asset_id,
            layers=tuple(p.layers),
            **common,
        )
    if kind == "alarm":
        a = m.alarm
        return WallContent(
            kind,
            alarm_id=a.alarm_id,
            focus_asset_id=a.asset_id,
            lat=a.position.lat,
            lon=a.position.lon,
            camera_ids=tuple(a.camera_ids),
            title=a.title,
            **common,
        )
    if kind == "incident":
        i = m.incident
        return WallContent(
            kind,
            incident_id=i.incident_id,
            lat=i.position.lat,
            lon=i.position.lon,
            camera_ids=tuple(i.camera_ids),
            title=i.title,
            priority=i.priority,
            incident_type=i.type,
            routes=tuple(
                IncidentRoute(
                    r.unit_id, r.callsign, tuple((p.lat, p.lon) for p in r.polyline), seconds(r.eta_at)
                )
                for r in i.routes
            ),
            **common,
        )
    return WallContent(kind, **common)


def wall_content_pb(c: WallContent) -> wall_pb2.WallContent:
    """The message to push (the backend sets who, when and the version)."""
    m = wall_pb2.WallContent()
    if c.kind == "camera":
        m.camera.camera_id = c.camera_id
    elif c.kind == "mosaic":
        m.mosaic.name, m.mosaic.rows, m.mosaic.columns = c.name, c.rows, c.columns
        m.mosaic.camera_ids.extend(c.camera_ids)
        m.mosaic.layout = c.layout
    elif c.kind == "map":
        m.map.center.lat, m.map.center.lon, m.map.zoom = c.lat, c.lon, c.zoom
        m.map.focus_asset_id = c.focus_asset_id
        m.map.layers.extend(c.layers)
    elif c.kind == "alarm":
        a = m.alarm
        a.alarm_id, a.asset_id, a.title = c.alarm_id, c.focus_asset_id, c.title
        if c.lat or c.lon:
            a.position.lat, a.position.lon = c.lat, c.lon
        a.camera_ids.extend(c.camera_ids)
    elif c.kind == "incident":
        i = m.incident
        i.incident_id, i.title = c.incident_id, c.title
        if c.lat or c.lon:
            i.position.lat, i.position.lon = c.lat, c.lon
        i.camera_ids.extend(c.camera_ids)
    elif c.kind == "clear":
        m.clear.SetInParent()
    return m


def wall(w: wall_pb2.Wall) -> WallState:
    return WallState(w.name, w.online, wall_content(w.content), w.display, seconds(w.last_seen))
