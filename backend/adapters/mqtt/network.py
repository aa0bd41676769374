"""The device network over MQTT: devices publish their state, telemetry and events on the topics of
docs/devices.md; commands go out on `.../cmd` with QoS 1 and their id, and `.../ack` answers them.

What a message means is `DeviceBook`'s job (book.py); the connection is `MqttLink`'s (link.py).
This class only routes: states to the AssetStore (one publish per burst of messages), samples to
bounded per-metric rings, badge events to the access control, acknowledgements to the command
waiting for them. A command still unanswered when the connection comes back, or after RESEND_S, is
sent again with the same id (a broker that lost it, a device that was away): the device acts once
(docs/devices.md, "Commands").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from vigie.backend.adapters.base import DeviceAnswer, DeviceCommand, DeviceNetwork, Series, VideoSource
from vigie.backend.adapters.mqtt.book import Ack, DeviceBook, Event, Telemetry
from vigie.backend.adapters.mqtt.link import MqttLink
from vigie.backend.adapters.mqtt.wire import DEVICE_CHANNELS, CmdMsg, encode_cmd
from vigie.backend.domain.assets import Asset, MetricInfo
from vigie.backend.domain.revlog import AssetStore

log = logging.getLogger(__name__)

SAMPLES_PER_METRIC = 360  # the most recent samples kept per device and metric
MAX_SERIES = 20_000  # device x metric series kept in all (bounds memory: ~0.75 GB at worst)
# States are published to the store in batches: one publish wakes every watcher and stream, and
# MQTT delivers one message per loop turn, so a publish per message costs the backend ~4x its
# throughput (269 vs 1,000 updates/s measured with a 6,000-device city).
FLUSH_S = 0.02
RESEND_S = 3.0  # an unanswered command goes out again (same id) this often, until answered or abandoned
SETTLE_S = 10.0  # at start, the longest wait for the broker's retained states before listing the silent
SETTLE_MIN_S = 1.0
SETTLE_QUIET_S = 0.5


class MqttNetwork(DeviceNetwork):
    name = "mqtt"

    def __init__(
        self,
        host: str,
        port: int,
        registered: list[Asset],
        discover: bool = False,
        client_id: str = "vigie-backend",
        settle_s: float = SETTLE_S,
        fresh_session_each_start: bool = False,
    ) -> None:
        # On a cluster the adapter starts each time its replica gains the lease: what the broker
        # queued for this replica since it last led is stale (the bucket has the states since).
        self.fresh_session_each_start = fresh_session_each_start
        self.book = DeviceBook(registered, discover)
        self.settle_s = settle_s
        self.link = MqttLink(
            host,
            port,
            client_id,
            [f"vigie/+/+/+/{channel}" for channel in DEVICE_CHANNELS],
            self._on_message,
            self._on_connect,
        )
        self._store: AssetStore | None = None
        self._batch: list[Asset] = []
        self._flush_soon = False
        self._acks: dict[tuple[str, str], asyncio.Future[DeviceAnswer]] = {}
        self._outstanding: dict[tuple[str, str], tuple[str, bytes]] = {}
        self._series: dict[str, dict[str, deque[tuple[float, float]]]] = {}
        self._units: dict[tuple[str, str], str] = {}
        self._n_series = 0
        self._badge: Callable[[str, str, float], None] | None = None
        self._first_message_at = 0.0  # monotonic, since start(): when the retained states began
        self.unchanged = 0  # states the store already had (retained ones, mostly): not published again
        # Set once the link is connected and subscribed (acknowledgements included): a command
        # may go out then, before the retained states settle (ClusterNetwork waits for this).
        self.commands_ready = asyncio.Event()
        self._settled = asyncio.Event()  # start() has taken the retained states in

    @property
    def counts(self) -> dict[str, int]:
        """Messages applied, refused (by reason), stale, discovered; connections and commands."""
        out = dict(self.book.counts)
        out["connections"] = self.link.connections
        out["received"] = self.link.received
        out["unchanged"] = self.unchanged
        return out

    # --- DeviceNetwork ------------------------------------------------------------------------------

    async def start(self, store: AssetStore) -> None:
        """Connect, take the retained states in (up to `settle_s`), then list the devices that
        have not reported as OFFLINE. A broker that is down does not stop the backend: the link
        keeps trying."""
        self._store = store
        self._first_message_at = 0.0
        self._settled.clear()
        self.link.fresh_session = self.fresh_session_each_start
        self.link.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_s
        try:
            async with asyncio.timeout(self.settle_s):
                await self.link.connected.wait()
        except TimeoutError:
            log.warning("MQTT broker %s:%d not reachable yet: retrying", self.link.host, self.link.port)
        else:
            # The broker sends the retained states right after the subscription: wait at least
            # SETTLE_MIN_S for them to start, then until none came for SETTLE_QUIET_S. Only
            # retained messages count: the devices' live telemetry (a few a second in a city)
            # kept the link from ever being quiet, and the settle ran to `settle_s`.
            await asyncio.sleep(SETTLE_MIN_S)
            seen = -1
            while seen != self.link.retained and loop.time() < deadline:
                seen = self.link.retained
                await asyncio.sleep(SETTLE_QUIET_S)
        self._flush()
        if self.link.connected.is_set():
            subscribed = self.link.subscribed_at
            log.info(
                "MQTT retained states: %d (%d the store had already; %d messages in all), the first"
                " message %.3f s after subscribing, settled %.3f s after",
                self.link.retained,
                self.unchanged,
                self.link.received,
                self._first_message_at - subscribed if self._first_message_at else -1.0,
                time.monotonic() - subscribed,
            )
        silent = [a for a in self.book.devices.values() if store.get(a.id) is None]
        if silent:
            store.publish(silent)
        self._settled.set()
        log.info(
            "MQTT devices: %d known, %d silent so far (%s)",
            len(self.book.devices),
            len(silent),
            self.link.host,
        )

    async def stop(self) -> None:
        self.commands_ready.clear()
        self._settled.clear()
        await self.link.stop()
        self._flush()
        log.info("MQTT device network stopped: %s", self.counts)

    def knows(self, asset_id: str) -> bool:
        return asset_id in self.book.devices

    async def command(self, command: DeviceCommand) -> DeviceAnswer:
        """Sent once the link is up (the outbox holds it until then). A device this backend has
        not heard yet (a discovered one, on a replica that has just started leading) may still
        be among the retained states: it is looked up again once they have settled."""
        prefix = self.book.topic_prefix(command.asset_id)
        if prefix is None and not self._settled.is_set():
            await self._settled.wait()
            prefix = self.book.topic_prefix(command.asset_id)
        if prefix is None:
            return DeviceAnswer(False, f"unknown device {command.asset_id!r}")
        key = (command.asset_id, command.command_id)
        fut = self._acks.get(key)
        if fut is None:
            fut = self._acks[key] = asyncio.get_running_loop().create_future()
            msg = CmdMsg(command.command_id, command.action, command.params, time.time())
            topic, payload = f"{prefix}/cmd", encode_cmd(msg)
            self._outstanding[key] = (topic, payload)
            self.link.publish(topic, payload)
            self.book.counts["commands_sent"] += 1
        try:
            while True:
                try:
                    async with asyncio.timeout(RESEND_S):
                        return await asyncio.shield(fut)
                except TimeoutError:
                    if self.link.connected.is_set():  # when it is not, reconnecting sends it again
                        self.link.publish(*self._outstanding[key])
                        self.book.counts["commands_resent"] += 1
        finally:  # answered, or abandoned at the caller's deadline (a late answer is then unmatched)
            self._acks.pop(key, None)
            self._outstanding.pop(key, None)

    def on_badge(self, listener: Callable[[str, str, float], None] | None) -> None:
        self._badge = listener

    def metrics(self, asset_id: str) -> list[MetricInfo]:
        return [self._info(asset_id, name, ring) for name, ring in self._series.get(asset_id, {}).items()]

    def telemetry(
        self, asset_id: str, metric: str, start: float, end: float, max_points: int
    ) -> list[Series]:
        out = []
        for name, ring in self._series.get(asset_id, {}).items():
            if metric and name != metric:
                continue
            samples = [s for s in ring if start <= s[0] <= end]
            if max_points > 0 and len(samples) > max_points:
                step = -(-len(samples) // max_points)
                samples = samples[::step]
            arr = np.array(samples, dtype=np.float64).reshape(-1, 2)
            out.append(Series(self._info(asset_id, name, ring), arr[:, 0].copy(), arr[:, 1].copy()))
        return out

    def open_video(self, camera_id: str, width: int, height: int, max_fps: float) -> VideoSource | None:
        return None  # MQTT carries no pictures: cameras' video comes from the camera catalogue

    # --- messages -----------------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        if not self._first_message_at:
            self._first_message_at = time.monotonic()
        update = self.book.handle(topic, payload)
        if update is None:
            return
        if isinstance(update, Asset):
            if self._known(update):
                self.unchanged += 1
                return
            self._batch.append(update)
            if not self._flush_soon:  # one store publish for everything read within FLUSH_S
                self._flush_soon = True
                asyncio.get_running_loop().call_later(FLUSH_S, self._flush)
        elif isinstance(update, Ack):
            fut = self._acks.get((update.device_id, update.msg.id))
            if fut is None or fut.done():
                self.book.counts["ack_unmatched"] += 1  # a repeated or late answer
                return
            fut.set_result(DeviceAnswer(update.msg.ok, update.msg.detail))
            self.book.counts["acks"] += 1
        elif isinstance(update, Telemetry):
            self._sample(update)
        elif isinstance(update, Event):
            if update.msg.type == "badge" and self._badge is not None:
                self._badge(update.device_id, update.msg.badge, update.msg.time)
            self.book.counts["events"] += 1

    def _known(self, a: Asset) -> bool:
        """The store has this very report already: a new leader's retained states are mostly
        what the bus holds, and publishing them again would put a whole city of changes on the
        bus (and in every console's stream) ahead of the states commands wait for."""
        current = self._store.get(a.id) if self._store is not None else None
        return current is not None and dataclasses.replace(a, revision=current.revision) == current

    def _flush(self) -> None:
        self._flush_soon = False
        batch, self._batch = self._batch, []
        if batch and self._store is not None:
            self._store.publish(batch)

    def _on_connect(self) -> None:
        self.commands_ready.set()  # subscribed: a device's acknowledgement can no longer be missed
        if self.link.connections > 1 and self._outstanding:
            log.info("MQTT reconnected: sending %d unanswered commands again", len(self._outstanding))
            for topic, payload in self._outstanding.values():
                self.link.publish(topic, payload)
            self.book.counts["commands_resent"] += len(self._outstanding)

    def _sample(self, t: Telemetry) -> None:
        rings = self._series.setdefault(t.device_id, {})
        for name, value in t.msg.values.items():
            ring = rings.get(name)
            if ring is None:
                if self._n_series >= MAX_SERIES:
                    self.book.refuse("too_many_series", t.device_id, f"already {MAX_SERIES} series")
                    continue
                ring = rings[name] = deque(maxlen=SAMPLES_PER_METRIC)
                self._n_series += 1
            if ring and t.msg.time < ring[-1][0]:
                continue  # an older sample redelivered: the ring stays in time order
            ring.append((t.msg.time, value))
            unit = t.msg.units.get(name)
            if unit is not None:
                self._units[(t.device_id, name)] = unit

    def _info(self, asset_id: str, name: str, ring: deque[tuple[float, float]]) -> MetricInfo:
        period = (ring[-1][0] - ring[0][0]) / (len(ring) - 1) if len(ring) > 1 else 60.0
        return MetricInfo(
            name, self._units.get((asset_id, name), ""), name.replace("_", " ").capitalize(), period
        )
