"""The device-update path, without a network: a message (topic + payload) in, a new asset state,
telemetry sample, event or acknowledgement out, or a refusal counted by reason.

`DeviceBook.handle()` is all a transport needs: the MQTT adapter feeds it what the broker
delivers, and a replica reading device messages from another transport can feed it the same
(topic, payload) pairs. It keeps the registered and discovered devices, drops a state whose
`seq` is not newer than the last one applied (a redelivery), and bounds everything it keeps.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass

from vigie.backend.adapters.mqtt.registry import MAX_DEVICES
from vigie.backend.adapters.mqtt.wire import (
    AckMsg,
    BadPayload,
    EventMsg,
    StateMsg,
    TelemetryMsg,
    Topic,
    decode_ack,
    decode_event,
    decode_state,
    decode_telemetry,
    district_slug,
    parse_topic,
)
from vigie.backend.domain.assets import Asset

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0  # after the first few, refusals are logged as one summary per minute
FIRST_LOGGED = 10


@dataclass(frozen=True, slots=True)
class Telemetry:
    device_id: str
    msg: TelemetryMsg


@dataclass(frozen=True, slots=True)
class Event:
    device_id: str
    msg: EventMsg


@dataclass(frozen=True, slots=True)
class Ack:
    device_id: str
    msg: AckMsg


Update = Asset | Telemetry | Event | Ack


class DeviceBook:
    """Known devices (registered, or discovered when `discover`) and what their messages mean."""

    def __init__(
        self, registered: list[Asset], discover: bool = False, max_devices: int = MAX_DEVICES
    ) -> None:
        self.discover = discover
        self.max_devices = max_devices
        self.devices: dict[str, Asset] = {a.id: a for a in registered}
        self.slugs: dict[str, str] = {a.id: district_slug(a.district) for a in registered}
        self._seq: dict[str, int] = {}
        self.counts: Counter[str] = Counter()  # applied, discovered, stale, refused, and each reason
        self._logged: Counter[str] = Counter()
        self._last_summary = time.monotonic()

    def topic_prefix(self, device_id: str) -> str | None:
        a = self.devices.get(device_id)
        if a is None:
            return None
        return f"vigie/{self.slugs[device_id]}/{a.kind.value}/{device_id}"

    def handle(self, topic: str, payload: bytes) -> Update | None:
        """What the message means, or None (refused and counted, a duplicate, or not for us)."""
        try:
            t = parse_topic(topic)
            if t.channel == "cmd":
                return None  # our own commands (a shared subscription), not a device's report
            if t.channel == "state":
                return self._state(t, decode_state(payload))
            if t.device_id not in self.devices:
                raise BadPayload(
                    "unknown_device", f"{t.device_id!r} is not registered (and has sent no state)"
                )
            if t.channel == "telemetry":
                return Telemetry(t.device_id, decode_telemetry(payload))
            if t.channel == "event":
                return Event(t.device_id, decode_event(payload))
            return Ack(t.device_id, decode_ack(payload))
        except BadPayload as exc:
            self.refuse(exc.reason, topic, str(exc))
            return None

    def refuse(self, reason: str, topic: str, message: str) -> None:
        """Count a refused message; log the first few of each reason, then a summary a minute."""
        self.counts["refused"] += 1
        self.counts[reason] += 1
        self._logged[reason] += 1
        if self._logged[reason] <= FIRST_LOGGED:
            log.warning("MQTT message refused (%s) on %s: %s", reason, topic[:200], message)
        now = time.monotonic()
        if now - self._last_summary >= LOG_EVERY_S:
            self._last_summary = now
            log.warning("MQTT messages refused so far: %s", self.refused_summary())

    def refused_summary(self) -> str:
        skip = {"applied", "discovered", "stale", "refused"}
        return ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()) if k not in skip) or "none"

    def _state(self, t: Topic, m: StateMsg) -> Asset | None:
        prev = self.devices.get(t.device_id)
        if prev is None:
            prev = self._discovered(t, m)
        elif prev.kind is not t.kind:
            raise BadPayload("wrong_kind", f"{t.device_id!r} is a {prev.kind.value}, not a {t.kind.value}")
        if m.seq is not None:
            last = self._seq.get(t.device_id)
            if last is not None and m.seq <= last:
                self.counts["stale"] += 1  # redelivered or overtaken: already applied
                return None
            self._seq[t.device_id] = m.seq
        changes: dict[str, object] = {
            "status": m.status,
            "status_reason": m.reason,
            "last_seen": m.time,
            "attributes": m.attributes,
            "revision": 0,
        }
        if m.lat is not None and m.lon is not None:
            changes["lat"], changes["lon"] = m.lat, m.lon
        if m.heading is not None:
            changes["heading_deg"] = m.heading
        if m.name:
            changes["name"] = m.name
        if m.district:
            changes["district"] = m.district
        a = dataclasses.replace(prev, **changes)  # type: ignore[arg-type]
        self.devices[t.device_id] = a
        self.counts["applied"] += 1
        return a

    def _discovered(self, t: Topic, m: StateMsg) -> Asset:
        if not self.discover:
            raise BadPayload("unknown_device", f"{t.device_id!r} is not registered (start with --discover)")
        if m.lat is None or m.lon is None:
            raise BadPayload("bad_field", f"discovering {t.device_id!r} needs 'lat' and 'lon' in its state")
        if len(self.devices) >= self.max_devices:
            raise BadPayload(
                "too_many_devices", f"already {self.max_devices} devices: {t.device_id!r} ignored"
            )
        self.counts["discovered"] += 1
        log.info("discovered %s %s in %s", t.kind.value, t.device_id, t.district)
        self.slugs[t.device_id] = t.district
        return Asset(t.device_id, t.kind, m.name or t.device_id, m.district or t.district, m.lat, m.lon)
