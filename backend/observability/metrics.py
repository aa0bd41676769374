"""Prometheus metrics of a running backend (`vigie-backend --metrics HOST:PORT`).

Names follow Prometheus' conventions: the `vigie_` prefix, base units (seconds, bytes), `_total`
on counters. Events are counted where they happen (RPCs in `RpcMetrics`, backend/observability/
interceptor.py; logins and commands as their audit records pass, `MeteredAudit`; alarm changes as
they are committed; store writes timed around the write); states (devices, open alarms, queues,
free disk, open video streams) are sampled on the event loop every few seconds by `Sampler`, so
the HTTP thread that serves scrapes never reads the backend's structures.

Label values are bounded: methods are those with a rule (else "unknown"), kinds, statuses,
states and priorities are enums, results are cut to 32 characters."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.disk_watch import free_bytes
from vigie.backend.domain.alarms import Alarm, AlarmEngine
from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.services.video import VideoService
from vigie.backend.store.alarms_sqlite import AlarmPersister
from vigie.backend.store.audit_sqlite import AuditStore

log = logging.getLogger(__name__)

LOGIN_FAILURES = {"failed", "refused", "invalid"}
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def version() -> str:
    """The installed vigie distribution's version (vigie-backend --version, diagnostics)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("vigie")
    except PackageNotFoundError:
        return "unknown (not installed)"


class Metrics:
    """Every metric of one backend, in a registry of its own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.rpcs = Counter(
            "vigie_rpc_requests", "RPCs finished, by method and status code", ["method", "code"], registry=r
        )
        self.rpc_seconds = Histogram(
            "vigie_rpc_duration_seconds",
            "Time to answer a unary RPC, by method",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.open_streams = Gauge(
            "vigie_open_streams", "Server streams open now, by kind (method)", ["kind"], registry=r
        )
        self.stream_messages = Counter(
            "vigie_stream_messages", "Messages sent on server streams, by kind (method)", ["kind"], registry=r
        )
        self.video_streams = Gauge("vigie_video_streams", "Live video streams open now", registry=r)
        self.video_frames = Counter(
            "vigie_video_frames", "Video frames sent (rate: frames per second over all streams)", registry=r
        )
        self.devices = Gauge("vigie_devices", "Devices by kind and status", ["kind", "status"], registry=r)
        self.alarms = Gauge(
            "vigie_alarms", "Open alarms by state and priority", ["state", "priority"], registry=r
        )
        self.alarms_raised = Counter(
            "vigie_alarms_raised",
            "Alarms raised, by priority and device kind",
            ["priority", "kind"],
            registry=r,
        )
        self.commands = Counter(
            "vigie_command_outcomes",
            "Command outcomes: stage execute (the request) or device (each device's answer), and result",
            ["stage", "result"],
            registry=r,
        )
        self.login_failures = Counter(
            "vigie_login_failures",
            "Logins refused: wrong credentials, limits, invalid requests",
            ["result"],
            registry=r,
        )
        self.store_queue = Gauge(
            "vigie_store_queue_depth", "Changes waiting to be written, by store", ["store"], registry=r
        )
        self.store_write_seconds = Histogram(
            "vigie_store_write_duration_seconds",
            "Time to write one batch to a store, by store",
            ["store"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.free_disk = Gauge(
            "vigie_data_dir_free_bytes", "Free bytes on the data dir's file system", registry=r
        )
        self.server_start = Gauge(
            "vigie_start_time_seconds", "When this backend started (unix time)", registry=r
        )
        self.server_start.set(time.time())
        self.info = Gauge("vigie_build_info", "Always 1; the version in a label", ["version"], registry=r)
        self.info.labels(version()).set(1)

    def on_alarm_changes(self, changes: list[Alarm]) -> None:
        """An alarm engine listener: counts alarms raised (a change at the alarm's raise time)."""
        for a in changes:
            if a.active and a.updated_at == a.raised_at:
                self.alarms_raised.labels(str(a.priority), a.asset_kind.name).inc()

    def time_writes(self, store: str, owner: Any, attribute: str) -> None:
        """Wraps `owner.attribute` (a blocking batch write) to time each call."""
        inner = getattr(owner, attribute)
        histogram = self.store_write_seconds.labels(store)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - start)

        setattr(owner, attribute, timed)

    def serve(self, listen: str) -> Any:
        """Serves /metrics over HTTP on HOST:PORT (a daemon thread). Returns the server; its
        `server_port` is the bound port (port 0: a free one)."""
        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(
            int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry
        )
        return server


class MeteredAudit:
    """An AuditSink in front of the real one that counts login failures and command outcomes as
    their records pass (no service needs to know about metrics)."""

    def __init__(self, inner: AuditSink, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def record(self, entry: AuditEntry) -> None:
        if entry.action == "login" and entry.result in LOGIN_FAILURES:
            self.metrics.login_failures.labels(entry.result).inc()
        elif entry.action == "command.execute":
            self.metrics.commands.labels("execute", entry.result[:32]).inc()
        elif entry.action == "command.device_ack":
            self.metrics.commands.labels("device", entry.result[:32]).inc()
        self.inner.record(entry)


class Sampler:
    """Every `interval_s` on the event loop, sets the gauges from what `sources` return: the
    reads are counts over in-memory structures (tens of thousands of items: a few ms)."""

    def __init__(self, metrics: Metrics, interval_s: float = 5.0) -> None:
        self.metrics = metrics
        self.interval_s = interval_s
        self.devices: Callable[[], Tally[tuple[str, str]]] | None = None
        self.alarms: Callable[[], Tally[tuple[str, str]]] | None = None
        self.queues: dict[str, Callable[[], int]] = {}
        self.video_streams: Callable[[], int] | None = None
        self.data_dir: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, set[tuple[str, ...]]] = {"devices": set(), "alarms": set()}

    async def sample(self) -> None:
        m = self.metrics
        if self.devices is not None:
            self._set(m.devices, "devices", self.devices())
        if self.alarms is not None:
            self._set(m.alarms, "alarms", self.alarms())
        for store, depth in self.queues.items():
            m.store_queue.labels(store).set(depth())
        if self.video_streams is not None:
            m.video_streams.set(self.video_streams())
        if self.data_dir and os.path.isdir(self.data_dir):
            with contextlib.suppress(OSError):  # a vanished mount: the data-dir health says so
                m.free_disk.set(
                    await asyncio.get_running_loop().run_in_executor(None, free_bytes, self.data_dir)
                )

    def _set(self, gauge: Gauge, name: str, tally: Tally[tuple[str, str]]) -> None:
        for gone in self._seen[name] - set(tally):
            gauge.labels(*gone).set(0)  # a label set that emptied reads 0, not its last value
        for labels, n in tally.items():
            gauge.labels(*labels).set(n)
        self._seen[name] |= set(tally)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="metrics-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:  # one failed sample must not end the sampling
                log.exception("sampling metrics failed")
            await asyncio.sleep(self.interval_s)


def watch_backend(
    metrics: Metrics,
    store: AssetStore,
    alarm_engine: AlarmEngine,
    alarm_store: AlarmPersister,
    audit_store: AuditStore,
    video: VideoService,
    data_dir: str | None,
    open_alarms: Callable[[], list[Alarm]] | None = None,
) -> Sampler:
    """Hooks the events counted as they happen (alarms raised, store writes) into the backend's
    parts and returns the sampler of its states (started and stopped by the Backend)."""
    persist = alarm_engine.listener

    def on_alarm_changes(changes: list[Alarm]) -> None:
        if persist is not None:
            persist(changes)
        metrics.on_alarm_changes(changes)

    alarm_engine.listener = on_alarm_changes
    metrics.time_writes("alarms", alarm_store.db, "write")
    metrics.time_writes("audit", audit_store, "_write")
    sampler = Sampler(metrics)
    sampler.devices = lambda: Tally((a.kind.name, a.status.name) for a in store.assets())
    opened = open_alarms or alarm_engine.open_alarms  # a cluster replica's: its view of the stream
    sampler.alarms = lambda: Tally((a.state.name, str(a.priority)) for a in opened())
    sampler.queues = {
        "alarms": lambda: alarm_store.pending,
        "audit": audit_store._queue.qsize,  # the writer thread's queue (records and reads)
    }
    sampler.video_streams = lambda: sum(video.streams.values())
    sampler.data_dir = data_dir
    return sampler
