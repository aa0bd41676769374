"""The simulated city as MQTT devices: the backend's city model (backend/adapters/simulator) drives
thousands of devices that reach the backend the way real ones do, through a broker.

The model publishes into a sink instead of the backend's store; each state goes out on its
device's topic (QoS 1, retained, with a growing `seq`), over one of `connections` client
connections (devices are sharded by their index). Commands arrive on each device's `cmd` topic;
a command id already seen is not acted on again, and its answer is sent again (the first one may
have been lost). That deduplication is the device's side of the contract (docs/devices.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from functools import partial

from vigie.backend.adapters.base import DeviceCommand
from vigie.backend.adapters.mqtt.link import MqttLink
from vigie.backend.adapters.mqtt.wire import (
    ROOT,
    AckMsg,
    BadPayload,
    EventMsg,
    StateMsg,
    TelemetryMsg,
    decode_cmd,
    encode_ack,
    encode_event,
    encode_state,
    encode_telemetry,
    parse_topic,
    topic_for,
)
from vigie.backend.adapters.simulator import CitySimulator
from vigie.backend.domain.assets import Asset

log = logging.getLogger(__name__)

DEDUP_PER_DEVICE = 64  # command ids a device remembers (the most recent)


class _Sink:
    """Stands in for the backend's AssetStore: CitySimulator publishes its devices' states here."""

    def __init__(self, report) -> None:
        self.publish = report


class CityDevices:
    """`sim` (a CitySimulator) as MQTT devices over `connections` client connections."""

    def __init__(
        self,
        host: str,
        port: int,
        sim: CitySimulator,
        connections: int = 8,
        client_prefix: str = "vigie-devices",
        telemetry_interval_s: float = 0.0,
    ) -> None:
        if connections < 1:
            raise ValueError("connections must be at least 1")
        self.sim = sim
        self.telemetry_interval_s = telemetry_interval_s
        assets = sim.city.assets
        self.prefix = {a.id: topic_for(a.district, a.kind, a.id, "x")[:-2] for a in assets}
        self.shard = {a.id: i % connections for i, a in enumerate(assets)}
        self.links = [
            MqttLink(
                host,
                port,
                f"{client_prefix}-{k}",
                # One wildcard per connection, not one filter per device: NATS's MQTT listener
                # grants a session at most 63 QoS 1 subscriptions (65,535 pending acks over its
                # default max_ack_pending of 1,024 each) and refused the rest, so most simulated
                # devices never heard their commands. Each connection keeps its own devices'.
                [f"{ROOT}/+/+/+/cmd"],
                partial(self._on_cmd, k),
                partial(self._on_connect, k),
            )
            for k in range(connections)
        ]
        self._seq_base = int(time.time() * 1000)  # grows across restarts of this process
        self._seq: dict[str, int] = {}
        self._last: dict[str, bytes] = {}  # each device's latest state payload (sent again on reconnect)
        self._answers: dict[str, OrderedDict[str, AckMsg | None]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._telemetry_task: asyncio.Task | None = None
        self.acted: Counter[tuple[str, str]] = Counter()  # (device, command id) -> times acted on
        self.counts: Counter[str] = Counter()  # states, commands, duplicates, refused

    @property
    def device_count(self) -> int:
        return len(self.prefix)

    async def start(self) -> None:
        for link in self.links:
            link.start()
        self.sim.on_badge(self._badge)
        await self.sim.start(_Sink(self.report))  # the initial states queue up until connected
        if self.telemetry_interval_s > 0:
            self._telemetry_task = asyncio.get_running_loop().create_task(self._telemetry(), name="telemetry")

    async def stop(self) -> None:
        await self.sim.stop()
        tasks = [t for t in (self._telemetry_task, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for link in self.links:
            await link.stop()

    def ready(self) -> bool:
        """Every connection is up and the broker has acknowledged its devices' first states (they
        were queued first), whatever load follows them."""
        sizes = Counter(self.shard.values())
        return all(
            link.connected.is_set() and link.published >= sizes[k] for k, link in enumerate(self.links)
        )

    # --- device -> broker ---------------------------------------------------------------------------

    def report(self, assets: list[Asset]) -> None:
        """New states from the model: each on its device's state topic, retained."""
        for a in assets:
            seq = self._seq.get(a.id, self._seq_base) + 1
            self._seq[a.id] = seq
            payload = encode_state(
                StateMsg(
                    time=a.last_seen or time.time(),
                    status=a.status,
                    reason=a.status_reason,
                    attributes=a.attributes,
                    seq=seq,
                    name=a.name,
                    district=a.district,
                    lat=round(a.lat, 7),
                    lon=round(a.lon, 7),
                    heading=round(a.heading_deg % 360, 1),
                )
            )
            self._last[a.id] = payload
            self.links[self.shard[a.id]].publish(f"{self.prefix[a.id]}/state", payload, retain=True)
        self.counts["states"] += len(assets)

    def _badge(self, door_id: str, badge_id: str, now: float) -> None:
        if door_id in self.prefix:
            payload = encode_event(EventMsg(now, "badge", badge_id))
            self.links[self.shard[door_id]].publish(f"{self.prefix[door_id]}/event", payload)
            self.counts["events"] += 1

    def _on_connect(self, k: int) -> None:
        """After a reconnection, every device of the connection states itself again (retained), so
        a broker that lost its retained states (restarted without persistence) has them back."""
        link = self.links[k]
        if link.connections > 1:
            for device_id, payload in self._last.items():
                if self.shard[device_id] == k:
                    link.publish(f"{self.prefix[device_id]}/state", payload, retain=True)

    async def _telemetry(self) -> None:
        """Every device with metrics sends its current values once per interval, spread evenly."""
        ids = [a.id for a in self.sim.city.assets if self.sim.metrics(a.id)]
        if not ids:
            return
        per_tick = max(1, round(len(ids) / self.telemetry_interval_s))
        pause = self.telemetry_interval_s * per_tick / len(ids)
        i = 0
        while True:
            await asyncio.sleep(pause)
            now = time.time()
            for _ in range(per_tick):
                device_id = ids[i % len(ids)]
                i += 1
                values, units = {}, {}
                for s in self.sim.telemetry(device_id, "", now - 3 * s_period(self.sim, device_id), now, 4):
                    if len(s.values):
                        values[s.metric.name] = round(float(s.values[-1]), 4)
                        units[s.metric.name] = s.metric.unit
                if values:
                    payload = encode_telemetry(TelemetryMsg(now, values, units))
                    self.links[self.shard[device_id]].publish(f"{self.prefix[device_id]}/telemetry", payload)

    # --- broker -> device ---------------------------------------------------------------------------

    def _on_cmd(self, k: int, topic: str, payload: bytes) -> None:
        try:
            t = parse_topic(topic)
            if t.channel != "cmd" or t.device_id not in self.prefix:
                raise BadPayload("bad_topic", "not one of this city's command topics")
            if self.shard[t.device_id] != k:
                return  # another connection's device: that connection answers it
            m = decode_cmd(payload)
        except BadPayload as exc:
            self.counts["refused"] += 1
            log.warning("command refused on %s: %s", topic[:200], exc)
            return
        self.counts["commands"] += 1
        seen = self._answers.setdefault(t.device_id, OrderedDict())
        if m.id in seen:
            self.counts["duplicates"] += 1
            answer = seen[m.id]
            if answer is not None:  # answer again: the first answer may have been lost
                self.links[k].publish(f"{self.prefix[t.device_id]}/ack", encode_ack(answer))
            return
        seen[m.id] = None
        while len(seen) > DEDUP_PER_DEVICE:
            seen.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._act(k, t.device_id, m.id, m))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _act(self, k: int, device_id: str, command_id: str, m) -> None:
        self.acted[(device_id, command_id)] += 1
        answer = await self.sim.actuators.command(DeviceCommand(command_id, device_id, m.action, m.params))
        ack = AckMsg(command_id, answer.ok, answer.detail)
        seen = self._answers.get(device_id)
        if seen is not None and command_id in seen:
            seen[command_id] = ack
        self.links[k].publish(f"{self.prefix[device_id]}/ack", encode_ack(ack))


def s_period(sim: CitySimulator, device_id: str) -> float:
    """The longest sampling period of the device's metrics (a window that holds a sample of each)."""
    return max((m.period_s for m in sim.metrics(device_id)), default=60.0)
