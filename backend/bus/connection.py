"""One replica's connection to the bus: the KV buckets and streams it uses, created if missing, and
the cluster's epoch (the same on every replica, derived from the asset stream's identity)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

ASSETS_BUCKET = "vigie_assets"  # last states per device; its stream sequence is the revision
# States kept per device (KV's maximum): a replica that falls behind by fewer changes of one device
# than this loses none; past it, its history restarts and its consoles resync (backend/bus/assets.py).
ASSETS_HISTORY = 64
LEASE_BUCKET = "vigie_lease"  # leases of the work that runs once (bucket TTL = lease TTL)
ASSETS_STREAM = f"KV_{ASSETS_BUCKET}"
ASSETS_SUBJECT = f"$KV.{ASSETS_BUCKET}"
ALARMS_STREAM = "VIGIE_ALARMS"  # every alarm change the leader's engine made; its sequence numbers them
ALARMS_SUBJECT = "vigie-alarms"  # vigie-alarms.<alarm id>: one subject per alarm
# Dispatch (backend/bus/incidents.py): every change of an incident or a unit the leader's desk
# made; each stream's sequence numbers WatchIncidents or WatchUnits.
INCIDENTS_STREAM = "VIGIE_INCIDENTS"
INCIDENTS_SUBJECT = "vigie-incidents"  # vigie-incidents.<incident id>
UNITS_STREAM = "VIGIE_UNITS"
UNITS_SUBJECT = "vigie-units"  # vigie-units.<hash of the unit id>
# City modes (backend/bus/modes.py): each run's changes (its sequence numbers WatchModes), each
# run's device records (what the mode recorded to restore), the doors' access decisions (its
# sequence numbers WatchAccessEvents) and the access exceptions.
MODES_STREAM = "VIGIE_MODES"
MODES_SUBJECT = "vigie-modes"  # vigie-modes.<run id>
MODE_DEVICES_STREAM = "VIGIE_MODE_DEVICES"
MODE_DEVICES_SUBJECT = "vigie-mode-devices"  # vigie-mode-devices.<run id>.<hash of step and device>
ACCESS_STREAM = "VIGIE_ACCESS"
ACCESS_SUBJECT = "vigie-access"  # vigie-access.<door hash>
ACCESS_RULES_STREAM = "VIGIE_ACCESS_RULES"
ACCESS_RULES_SUBJECT = "vigie-access-rules"  # vigie-access-rules.<exception id>

# Streams with retention: name -> (subjects, max age in seconds). The devices' own subjects
# (vigie.<district>.<kind>.<id>.<what>, NATS's MQTT listener maps vigie/... topics to them) and
# the backend's alarm changes.
DAY = 86_400.0
STREAMS: dict[str, tuple[list[str], float]] = {
    "VIGIE_EVENTS": (["vigie.*.*.*.event"], 30 * DAY),
    "VIGIE_TELEMETRY": (["vigie.*.*.*.telemetry"], 7 * DAY),
    "VIGIE_COMMANDS": (["vigie.*.*.*.cmd", "vigie.*.*.*.ack"], 30 * DAY),
    ALARMS_STREAM: ([f"{ALARMS_SUBJECT}.>"], 90 * DAY),
    MODES_STREAM: ([f"{MODES_SUBJECT}.>"], 365 * DAY),
    MODE_DEVICES_STREAM: ([f"{MODE_DEVICES_SUBJECT}.>"], 365 * DAY),
    ACCESS_STREAM: ([f"{ACCESS_SUBJECT}.>"], 90 * DAY),
    ACCESS_RULES_STREAM: ([f"{ACCESS_RULES_SUBJECT}.>"], 365 * DAY),
    INCIDENTS_STREAM: ([f"{INCIDENTS_SUBJECT}.>"], 365 * DAY),
    UNITS_STREAM: ([f"{UNITS_SUBJECT}.>"], 365 * DAY),
}

LEASE_TTL_S = 6.0
JS_TIMEOUT_S = 20.0  # a JetStream API call (a busy server fsyncing every write answers slowly)
CONNECT_TIMEOUT_S = 15.0  # a replica that cannot reach the bus at start exits (status 1) saying so


@dataclass
class BusOptions:
    """`replicas`: copies of every stream and bucket (3 on a 3-node NATS cluster)."""

    url: str | list[str]
    replicas: int = 1
    lease_ttl_s: float = LEASE_TTL_S
    name: str = "vigie-backend"


class Bus:
    """Connected: `nc`, `js`, the `assets` and `leases` buckets, the `epoch` (of the asset
    stream), `alarms_epoch` (of the alarm stream, derived the same way) and `epochs` (of every
    stream of STREAMS, by name)."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        assets: KeyValue,
        leases: KeyValue,
        epoch: str,
        alarms_epoch: str = "",
        epochs: dict[str, str] | None = None,
    ):
        self.nc = nc
        self.js = js
        self.assets = assets
        self.leases = leases
        self.epoch = epoch
        self.alarms_epoch = alarms_epoch
        self.epochs = epochs or {}

    @classmethod
    async def connect(cls, options: BusOptions) -> Bus:
        """Connect (reconnecting for ever once connected) and make sure the buckets and streams
        exist. Raises OSError when the server cannot be reached at all."""

        async def error(exc: Exception) -> None:
            log.warning("bus %s: %r", options.url, exc)

        async def disconnected() -> None:
            log.warning("bus %s: disconnected, reconnecting", options.url)

        async def reconnected() -> None:
            log.warning("bus: reconnected to %s", nc.connected_url.netloc if nc.connected_url else "?")

        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                nc = await nats.connect(
                    options.url,
                    name=options.name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=5,
                    allow_reconnect=True,
                    error_cb=error,
                    disconnected_cb=disconnected,
                    reconnected_cb=reconnected,
                )
        except Exception as exc:  # nats raises its own classes, OSError or a timeout here
            raise OSError(
                f"cannot reach the bus at {options.url} within {CONNECT_TIMEOUT_S:.0f} s: {exc!r}"
            ) from exc
        js = nc.jetstream(timeout=JS_TIMEOUT_S)
        storage = StorageType.FILE
        assets = await js.create_key_value(
            KeyValueConfig(
                bucket=ASSETS_BUCKET, history=ASSETS_HISTORY, storage=storage, replicas=options.replicas
            )
        )
        leases = await js.create_key_value(
            KeyValueConfig(
                bucket=LEASE_BUCKET,
                history=1,
                ttl=options.lease_ttl_s,
                storage=storage,
                replicas=options.replicas,
            )
        )
        for name, (subjects, max_age) in STREAMS.items():
            await js.add_stream(
                StreamConfig(
                    name=name,
                    subjects=subjects,
                    retention=RetentionPolicy.LIMITS,
                    max_age=max_age,
                    storage=storage,
                    num_replicas=options.replicas,
                    duplicate_window=120.0,
                )
            )
        info = await js.stream_info(ASSETS_STREAM)
        epoch = epoch_of(ASSETS_STREAM, str(info.created))
        log.info("on the bus %s: epoch %s, asset stream at %d", options.url, epoch, info.state.last_seq)
        epochs = {name: epoch_of(name, str((await js.stream_info(name)).created)) for name in STREAMS}
        return cls(nc, js, assets, leases, epoch, epochs[ALARMS_STREAM], epochs)

    async def close(self) -> None:
        """Drain (what was sent goes out), or just close when the bus is away."""
        try:
            await self.nc.drain()
        except Exception as exc:  # reconnecting, closed: nothing left to drain
            log.warning("bus: closing without draining (%r)", exc)
            try:
                await self.nc.close()
            except Exception as exc2:  # the socket already gone: closed all the same
                log.warning("bus: closed (%r)", exc2)


def epoch_of(stream: str, created: str) -> str:
    """The cluster's epoch: the same on every replica for the life of the stream (the asset
    stream, or the alarm stream for alarms), new if it is ever recreated (its sequences start
    again)."""
    return hashlib.sha256(f"{stream}@{created}".encode()).hexdigest()[:12]
