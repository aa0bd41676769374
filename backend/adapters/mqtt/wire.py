"""The MQTT wire contract (docs/devices.md, docs/schemas/): topics and the five JSON payloads.

Shared by the backend's adapter and by devices (vigie.devices): one place decides what a valid
message is, so both sides refuse the same things. Decoding never raises anything but
`BadPayload`, whose `reason` is a short counter name and whose message says what is wrong.
Nothing here touches a network.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from vigie.backend.domain.actions import Action, Params
from vigie.backend.domain.assets import Kind, Status

ROOT = "vigie"
CHANNELS = ("state", "telemetry", "event", "cmd", "ack")
DEVICE_CHANNELS = ("state", "telemetry", "event", "ack")  # what devices publish
MAX_PAYLOAD = 16 * 1024  # bytes; anything larger is refused before parsing
MAX_TEXT = 1000  # attribute values (as the API's bound on free text)
MAX_SHORT = 200  # reasons and details
MAX_NAME = 128  # names, command ids, badge ids
MAX_KEY = 64  # attribute keys, metric names, event types
MAX_ATTRIBUTES = 64
MAX_METRICS = 32
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DISTRICT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEVICE_KINDS = {k.value: k for k in Kind if k is not Kind.SYSTEM}
STATUSES = {s.value: s for s in Status}
ACTIONS = {a.value: a for a in Action}


class BadPayload(ValueError):
    """A message that breaks the contract; `reason` is its counter name (bad_topic, too_large...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Topic:
    district: str  # the slug in the topic (the device's home district)
    kind: Kind
    device_id: str
    channel: str

    def __str__(self) -> str:
        return f"{ROOT}/{self.district}/{self.kind.value}/{self.device_id}/{self.channel}"


def district_slug(name: str) -> str:
    """ "Toison d'Or" -> "toison-d-or": ASCII, lower case, one dash between words."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-")
    return slug or "unknown"


def topic_for(district: str, kind: Kind, device_id: str, channel: str) -> str:
    """The topic of a device's channel; `district` is a display name or already a slug."""
    return str(Topic(district_slug(district), kind, device_id, channel))


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != ROOT:
        raise BadPayload("bad_topic", f"not vigie/<district>/<kind>/<id>/<channel>: {topic[:200]!r}")
    _, district, kind, device_id, channel = parts
    if not DISTRICT_RE.match(district):
        raise BadPayload("bad_topic", f"district {district[:80]!r} is not a slug ([a-z0-9-], <= 64)")
    if kind not in DEVICE_KINDS:
        raise BadPayload("bad_topic", f"unknown kind {kind[:80]!r}")
    if not ID_RE.match(device_id):
        raise BadPayload("bad_topic", f"device id {device_id[:80]!r} is not [A-Za-z0-9._-] (<= 64)")
    if channel not in CHANNELS:
        raise BadPayload("bad_topic", f"unknown channel {channel[:80]!r}")
    return Topic(district, DEVICE_KINDS[kind], device_id, channel)


# --- payloads ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateMsg:
    """What a device reports about itself; position and naming fields are optional."""

    time: float
    status: Status
    reason: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    seq: int | None = None
    name: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    heading: float | None = None


@dataclass(frozen=True, slots=True)
class TelemetryMsg:
    time: float
    values: dict[str, float]
    units: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventMsg:
    time: float
    type: str
    badge: str = ""  # type "badge": the badge presented at the door


@dataclass(frozen=True, slots=True)
class CmdMsg:
    id: str
    action: Action
    params: Params
    time: float


@dataclass(frozen=True, slots=True)
class AckMsg:
    id: str
    ok: bool
    detail: str = ""


def _load(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise BadPayload("too_large", f"{len(payload)} bytes, more than {MAX_PAYLOAD}")
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload("bad_json", f"not JSON: {str(exc)[:120]}") from None
    if not isinstance(obj, dict):
        raise BadPayload("bad_json", "the payload must be a JSON object")
    return obj


def _num(obj: dict[str, Any], key: str, lo: float, hi: float, required: bool = True) -> float | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise BadPayload("bad_field", f"{key!r} is required")
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise BadPayload("bad_field", f"{key!r} must be a number in [{lo:g}, {hi:g}]")
    return float(v)


def _text(obj: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise BadPayload("bad_field", f"{key!r} is required")
        return None
    if not isinstance(v, str) or len(v) > limit:
        raise BadPayload("bad_field", f"{key!r} must be a string of at most {limit} characters")
    return v


def _str_map(obj: dict[str, Any], key: str, limit: int, max_entries: int) -> dict[str, str]:
    v = obj.get(key, {})
    if not isinstance(v, dict) or len(v) > max_entries:
        raise BadPayload("bad_field", f"{key!r} must be an object of at most {max_entries} entries")
    for k, x in v.items():
        if not KEY_RE.match(k) or not isinstance(x, str) or len(x) > limit:
            raise BadPayload("bad_field", f"{key!r}: {k[:80]!r} must map a key to a string <= {limit}")
    return dict(v)


MAX_TIME = 1e11  # unix seconds, year ~5138: anything past it is a unit mistake (ms)


def decode_state(payload: bytes) -> StateMsg:
    obj = _load(payload)
    status = obj.get("status")
    if status not in STATUSES:
        raise BadPayload("bad_field", f"'status' must be one of {', '.join(STATUSES)}")
    seq = obj.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63):
        raise BadPayload("bad_field", "'seq' must be an integer in [0, 2^63)")
    lat = _num(obj, "lat", -90, 90, required=False)
    lon = _num(obj, "lon", -180, 180, required=False)
    if (lat is None) != (lon is None):
        raise BadPayload("bad_field", "'lat' and 'lon' go together")
    return StateMsg(
        time=_num(obj, "time", 0, MAX_TIME) or 0.0,
        status=STATUSES[status],
        reason=_text(obj, "reason", MAX_SHORT) or "",
        attributes=_str_map(obj, "attributes", MAX_TEXT, MAX_ATTRIBUTES),
        seq=seq,
        name=_text(obj, "name", MAX_NAME),
        district=_text(obj, "district", MAX_KEY),
        lat=lat,
        lon=lon,
        heading=_num(obj, "heading", 0, 360, required=False),
    )


def decode_telemetry(payload: bytes) -> TelemetryMsg:
    obj = _load(payload)
    values = obj.get("values")
    if not isinstance(values, dict) or not 1 <= len(values) <= MAX_METRICS:
        raise BadPayload("bad_field", f"'values' must be an object of 1 to {MAX_METRICS} metrics")
    out: dict[str, float] = {}
    for k, v in values.items():
        if (
            not KEY_RE.match(k)
            or isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
        ):
            raise BadPayload("bad_field", f"'values': {k[:80]!r} must map a metric name to a finite number")
        out[k] = float(v)
    return TelemetryMsg(
        time=_num(obj, "time", 0, MAX_TIME) or 0.0,
        values=out,
        units=_str_map(obj, "units", MAX_KEY, MAX_METRICS),
    )


def decode_event(payload: bytes) -> EventMsg:
    obj = _load(payload)
    kind = _text(obj, "type", MAX_KEY, required=True) or ""
    badge = _text(obj, "badge", MAX_NAME) or ""
    if kind == "badge" and not badge:
        raise BadPayload("bad_field", "a 'badge' event needs 'badge'")
    return EventMsg(time=_num(obj, "time", 0, MAX_TIME) or 0.0, type=kind, badge=badge)


def decode_cmd(payload: bytes) -> CmdMsg:
    obj = _load(payload)
    cid = _text(obj, "id", MAX_NAME, required=True) or ""
    if not cid:
        raise BadPayload("bad_field", "'id' must not be empty")
    action = obj.get("action")
    if action not in ACTIONS:
        raise BadPayload("bad_field", f"unknown action {str(action)[:80]!r}")
    p = obj.get("params", {})
    if not isinstance(p, dict):
        raise BadPayload("bad_field", "'params' must be an object")
    level = _num(p, "level_percent", 0, 100, required=False)
    preset = _num(p, "preset", 0, 1000, required=False)
    params = Params(
        level_percent=int(level or 0),
        badge_id=_text(p, "badge_id", MAX_NAME) or "",
        until=_num(p, "until", 0, MAX_TIME, required=False) or 0.0,
        preset=int(preset or 0),
    )
    return CmdMsg(cid, ACTIONS[action], params, _num(obj, "time", 0, MAX_TIME) or 0.0)


def decode_ack(payload: bytes) -> AckMsg:
    obj = _load(payload)
    cid = _text(obj, "id", MAX_NAME, required=True) or ""
    ok = obj.get("ok")
    if not isinstance(ok, bool):
        raise BadPayload("bad_field", "'ok' must be true or false")
    return AckMsg(cid, ok, _text(obj, "detail", MAX_SHORT) or "")


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def encode_state(m: StateMsg) -> bytes:
    obj: dict[str, Any] = {"time": round(m.time, 3), "status": m.status.value}
    if m.reason:
        obj["reason"] = m.reason[:MAX_SHORT]
    if m.attributes:
        obj["attributes"] = m.attributes
    for key in ("seq", "name", "district", "lat", "lon", "heading"):
        v = getattr(m, key)
        if v is not None:
            obj[key] = v
    return _dump(obj)


def encode_telemetry(m: TelemetryMsg) -> bytes:
    obj: dict[str, Any] = {"time": round(m.time, 3), "values": m.values}
    if m.units:
        obj["units"] = m.units
    return _dump(obj)


def encode_event(m: EventMsg) -> bytes:
    obj: dict[str, Any] = {"time": round(m.time, 3), "type": m.type}
    if m.badge:
        obj["badge"] = m.badge
    return _dump(obj)


def encode_cmd(m: CmdMsg) -> bytes:
    p = m.params
    params: dict[str, Any] = {}
    if p.level_percent:
        params["level_percent"] = p.level_percent
    if p.badge_id:
        params["badge_id"] = p.badge_id
    if p.until:
        params["until"] = p.until
    if p.preset:
        params["preset"] = p.preset
    return _dump({"id": m.id, "action": m.action.value, "params": params, "time": round(m.time, 3)})


def encode_ack(m: AckMsg) -> bytes:
    return _dump({"id": m.id, "ok": m.ok, "detail": m.detail[:MAX_SHORT]})


def broker_address(url: str) -> tuple[str, int]:
    """mqtt://HOST:PORT (port 1883 by default) -> (host, port); ValueError says what is wrong."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"{url!r}: expected mqtt://HOST:PORT (mqtts is not supported yet)")
    try:
        port = parts.port or 1883
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number in 1..65535") from None
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    return parts.hostname, port
