"""Builds the grpc.aio server: services, authorisation, audit, health, reflection, limits and
keepalive policy."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from vigie.backend.access_control import AccessControl
from vigie.backend.adapters.base import DeviceNetwork
from vigie.backend.adapters.simulator.transit.engine import TransitSim
from vigie.backend.adapters.simulator.transit.feed import TransitFeed
from vigie.backend.alarm_sources import AlarmSources
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.command_dispatch import ACK_TIMEOUT_S, CommandDispatcher
from vigie.backend.disk_watch import MIB, DiskWatcher
from vigie.backend.dispatch import DispatchDesk
from vigie.backend.dispatch_sim import CrewSimulation
from vigie.backend.domain.assets import Kind
from vigie.backend.domain.audit import AuditSink
from vigie.backend.domain.commands import CommandBook
from vigie.backend.domain.modes import ModeDef, load_modes
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.domain.walls import MAX_WALLS, WallRegistry
from vigie.backend.emergency_preemption import EmergencyPreemption
from vigie.backend.mode_engine import ModeEngine
from vigie.backend.observability.health import DependencyWatch
from vigie.backend.observability.interceptor import ObservabilityInterceptor
from vigie.backend.observability.metrics import MeteredAudit, Metrics, version, watch_backend
from vigie.backend.observability.reflection import enable_reflection
from vigie.backend.recording.system import RecordingConfig, Recordings
from vigie.backend.security.bounds import BoundsInterceptor
from vigie.backend.security.interceptor import AuthInterceptor
from vigie.backend.security.refusal_audit import WINDOW_S
from vigie.backend.security.tokens import TokenRegistry
from vigie.backend.security.users import UserDirectory
from vigie.backend.services.alarms import AlarmService
from vigie.backend.services.assets import AssetService
from vigie.backend.services.audit import AuditService
from vigie.backend.services.auth import AuthService
from vigie.backend.services.cardholders import CardholderService
from vigie.backend.services.commands import CommandService
from vigie.backend.services.dispatch_relay import DispatchWrites
from vigie.backend.services.incidents import IncidentService
from vigie.backend.services.map import MapService
from vigie.backend.services.modes import ModeService
from vigie.backend.services.playback import PlaybackService
from vigie.backend.services.recording import RecordingService
from vigie.backend.services.transit import TransitService
from vigie.backend.services.units import UnitService
from vigie.backend.services.video import VideoService
from vigie.backend.services.views import ViewService
from vigie.backend.services.wall import WallService
from vigie.backend.store.alarms_sqlite import AlarmPersister
from vigie.backend.store.audit_sqlite import AuditStore
from vigie.backend.store.incidents_sqlite import SqliteIncidentStore
from vigie.backend.store.modes_sqlite import ModesStore
from vigie.backend.store.sql import Database
from vigie.backend.store.views_json import ViewFile
from vigie.backend.store.walls_json import WallFile
from vigie.backend.system_alarms import DISK, Subsystem, SystemAlarms
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    commands_pb2,
    commands_pb2_grpc,
    incidents_pb2,
    incidents_pb2_grpc,
    map_pb2,
    map_pb2_grpc,
    modes_pb2,
    modes_pb2_grpc,
    playback_pb2,
    playback_pb2_grpc,
    transit_pb2,
    transit_pb2_grpc,
    video_pb2,
    video_pb2_grpc,
    views_pb2,
    views_pb2_grpc,
    wall_pb2,
    wall_pb2_grpc,
)

if TYPE_CHECKING:  # nats is imported only by a backend started with --bus
    from vigie.backend.bus.replica import Replica

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    assets_pb2.DESCRIPTOR.services_by_name["AssetService"].full_name,
    video_pb2.DESCRIPTOR.services_by_name["VideoService"].full_name,
    map_pb2.DESCRIPTOR.services_by_name["MapService"].full_name,
    alarms_pb2.DESCRIPTOR.services_by_name["AlarmService"].full_name,
    commands_pb2.DESCRIPTOR.services_by_name["CommandService"].full_name,
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    wall_pb2.DESCRIPTOR.services_by_name["WallService"].full_name,
    views_pb2.DESCRIPTOR.services_by_name["ViewService"].full_name,
    incidents_pb2.DESCRIPTOR.services_by_name["IncidentService"].full_name,
    incidents_pb2.DESCRIPTOR.services_by_name["UnitService"].full_name,
    modes_pb2.DESCRIPTOR.services_by_name["ModeService"].full_name,
    modes_pb2.DESCRIPTOR.services_by_name["CardholderService"].full_name,
    transit_pb2.DESCRIPTOR.services_by_name["TransitService"].full_name,
    playback_pb2.DESCRIPTOR.services_by_name["PlaybackService"].full_name,
    playback_pb2.DESCRIPTOR.services_by_name["RecordingService"].full_name,
)

_WRITERS = tuple(
    m.DESCRIPTOR.services_by_name[name].full_name
    for m, name in (
        (alarms_pb2, "AlarmService"),
        (wall_pb2, "WallService"),
        (incidents_pb2, "IncidentService"),
        (modes_pb2, "ModeService"),
    )
)
# Health names of the backend's dependencies (backend/observability/health.py).
DATA_DIR = Subsystem("data-dir", "data_dir_not_writable", 1, affects=_WRITERS)
DEVICES = Subsystem("devices", "device_network_disconnected", 2)

ALARM_STORE = Subsystem(
    "alarm-store",
    "alarm_store_failing",
    1,
    affects=(alarms_pb2.DESCRIPTOR.services_by_name["AlarmService"].full_name,),
)

# Larger requests are refused with RESOURCE_EXHAUSTED before any handler sees them (the largest
# legitimate ones, lists of ids, stay far below).
MAX_REQUEST_BYTES = 4 * 1024 * 1024

# Clients ping every 10 s; permit that (and a little faster) so the server never sends GOAWAY
# "too_many_pings", and drop connections whose peer stopped answering.
SERVER_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
]


class Backend:
    """The running backend: store, device network, services and the gRPC server around them."""

    def __init__(
        self,
        network: DeviceNetwork,
        history: int = 200_000,
        heartbeat_s: float = 5.0,
        data_dir: str | None = None,
        alarm_rate: float = 0.0,
        simulated_alarms: bool = False,
        seed: int = 1,
        alarm_history: int = 100_000,
        command_ack_timeout_s: float = ACK_TIMEOUT_S,
        token_ttl_s: float = 900.0,
        demo_users: bool = False,
        serve_reflection: bool = True,
        tls: grpc.ServerCredentials | None = None,
        walls: dict[str, tuple[str, ...]] | None = None,
        max_walls: int = MAX_WALLS,
        audit_retention_days: float | None = None,
        audit_max_mb: float | None = None,
        min_free_mb: float = 0.0,
        disk_check_s: float = 10.0,
        refusal_window_s: float = WINDOW_S,
        incident_rate: float = 0.0,
        dispatch_speedup: float = 1.0,
        modes: list[ModeDef] | None = None,
        db_url: str = "",
        health_check_s: float = 10.0,
        metrics: Metrics | None = None,
        replica: Replica | None = None,
        recording: RecordingConfig | None = None,
    ) -> None:
        """`data_dir` holds alarms.sqlite3, users.sqlite3 and audit.sqlite3 (None: in memory
        only); `simulated_alarms` adds the simulated field events; `alarm_rate` synthetic alarms
        per second (benchmarks); `token_ttl_s` the lifetime of a token; `demo_users` seeds the
        demo users (password = name); `tls` serves TLS instead of plaintext;
        `command_ack_timeout_s` how long a device may take to acknowledge a command; `walls` the
        configured walls (name -> displays allowed to attach it), at most `max_walls` walls;
        `audit_retention_days` / `audit_max_mb` the audit trail's limits (None: none);
        `min_free_mb` the free space of `data_dir` below which a system alarm is raised (checked
        every `disk_check_s`); `refusal_window_s` the window refused calls are aggregated over;
        `incident_rate` incidents a day the simulated city opens, `dispatch_speedup` how much
        faster its crews drive and work (docs/dispatch.md); `modes` the city modes (None: the
        provided ones, docs/modes.md); `db_url` a postgresql:// URL: audit, users and incidents
        go there instead of data_dir (backend/store/sql.py); `health_check_s` seconds between
        two checks of the dependencies (data dir writable, device network connected); `metrics`
        the Prometheus metrics to keep (backend/observability/metrics.py; None: none); `replica`
        puts this backend on a NATS JetStream bus (docs/cluster.md): its store, revisions and
        epoch are the cluster's; `recording` what cameras record and how long recordings and
        the city's history are kept (docs/recording.md)."""
        database = Database(data_dir, db_url)
        self.replica = replica
        self.store = AssetStore(history=history) if replica is None else replica.store
        self.network = network
        self.epoch = uuid.uuid4().hex[:12] if replica is None else replica.epoch
        self.tls = tls
        self.demo_users = demo_users
        self.audit_store = AuditStore(
            database,
            retention_days=audit_retention_days,
            max_bytes=None if audit_max_mb is None else int(audit_max_mb * MIB),
        )
        # Kept always (cheap), served only with --metrics.
        self.metrics = metrics = metrics if metrics is not None else Metrics()
        self.audit: AuditSink = MeteredAudit(
            self.audit_store, metrics
        )  # every service that audits writes here
        self.users = UserDirectory(database)
        self.tokens = TokenRegistry(token_ttl_s)
        self.interceptor = AuthInterceptor(self.tokens, self.audit, refusal_window_s=refusal_window_s)
        self.server = grpc.aio.server(
            # Request ids and metrics around everything, then authorisation, then every request's
            # size bounds (backend/security/bounds.py).
            interceptors=[
                ObservabilityInterceptor(metrics, version()),
                self.interceptor,
                BoundsInterceptor(),
            ],
            options=SERVER_OPTIONS,
        )
        self.health = health.aio.HealthServicer()
        self.assets = AssetService(self.store, network, self.epoch, heartbeat_s=heartbeat_s)
        if replica is not None:  # a console moved from a replica a little ahead of this one
            self.assets.catch_up_s = 5.0
        self.video = VideoService(self.store, network)
        assets_pb2_grpc.add_AssetServiceServicer_to_server(self.assets, self.server)
        video_pb2_grpc.add_VideoServiceServicer_to_server(self.video, self.server)
        self.map = MapService(network, name="Dijon Métropole (simulated)", center=(47.322, 5.041))
        map_pb2_grpc.add_MapServiceServicer_to_server(self.map, self.server)
        self.alarm_store = AlarmPersister(
            data_dir, history=alarm_history, on_trouble=lambda p: self.system_alarms.report(ALARM_STORE, p)
        )
        self.alarm_engine = self.alarm_store.open_engine()
        # What serves and reads the alarms, and what the writers other than the alarm sources
        # raise through: the engine itself, or on a cluster the replica's view of the alarm
        # stream and the leader's engine (docs/cluster.md).
        self.alarm_view: Any = self.alarm_engine
        alarm_writer: Any = self.alarm_engine
        self.alarm_relay: Any = None
        if replica is not None:
            from vigie.backend.bus.alarm_relay import AlarmRelay, LeaderOnlyAlarms

            self.alarm_view = replica.alarms
            replica.alarms.listener = self.alarm_store.record  # the journal: the stream's alarms
            self.alarm_engine.listener = replica.alarm_publisher.publish
            self.alarm_relay = AlarmRelay(replica.bus.nc, replica.alarms, self.alarm_store.get_many)
            alarm_writer = LeaderOnlyAlarms(
                self.alarm_engine, replica.alarms, lambda: self.alarm_relay.engine is not None
            )
        self.system_alarms = SystemAlarms(alarm_writer, self.health, position=self.map.center)
        self.disk_watch = (
            DiskWatcher(
                data_dir,
                int(min_free_mb * MIB),
                lambda p: self.system_alarms.report(DISK, p),
                interval_s=disk_check_s,
            )
            if data_dir and min_free_mb > 0
            else None
        )
        self.dependencies = DependencyWatch(self.system_alarms, interval_s=health_check_s)
        if data_dir and self.alarm_store.path != ":memory:":
            self.dependencies.watch_data_dir(DATA_DIR, data_dir)
        self.dependencies.watch_network(DEVICES, network)
        self.alarm_sources = AlarmSources(
            self.alarm_engine, self.store, simulated_events=simulated_alarms, alarm_rate=alarm_rate, seed=seed
        )
        self.dispatcher = CommandDispatcher(
            self.store, network, self.audit, ack_timeout_s=command_ack_timeout_s
        )
        self.command_book = CommandBook(self._asset_kind, self.dispatcher.dispatch, self.audit)
        self.commands = CommandService(self.command_book)
        commands_pb2_grpc.add_CommandServiceServicer_to_server(self.commands, self.server)
        self.alarms = AlarmService(
            self.alarm_view, self.alarm_store, self.audit, heartbeat_s=heartbeat_s, actions=self.alarm_relay
        )
        if replica is not None:  # a console moved from a replica a little ahead of this one
            self.alarms.catch_up_s = 5.0
        alarms_pb2_grpc.add_AlarmServiceServicer_to_server(self.alarms, self.server)
        self.auth = AuthService(self.users, self.tokens, self.audit)
        auth_pb2_grpc.add_AuthServiceServicer_to_server(self.auth, self.server)
        self.audit_service = AuditService(self.audit_store)
        audit_pb2_grpc.add_AuditServiceServicer_to_server(self.audit_service, self.server)
        # Video walls (walls.json in data_dir, unless another backend holds that directory, as
        # for the alarms).
        self.wall_file = WallFile(data_dir if self.alarm_store.path != ":memory:" else None)
        self.wall_registry = WallRegistry(
            self.wall_file.load(), listener=self.wall_file.save_soon, configured=walls, max_walls=max_walls
        )
        self.walls = WallService(
            self.wall_registry,
            self.store,
            self.alarm_view,
            self.alarm_store,
            audit=self.audit,
            heartbeat_s=heartbeat_s,
        )
        wall_pb2_grpc.add_WallServiceServicer_to_server(self.walls, self.server)
        # Saved mosaic views, per user and shared (views.json in data_dir, as for the walls).
        self.view_file = ViewFile(data_dir if self.alarm_store.path != ":memory:" else None)
        self.views = ViewService(self.view_file.load(), self.view_file, self.audit)
        views_pb2_grpc.add_ViewServiceServicer_to_server(self.views, self.server)
        # Interventions and dispatch (docs/dispatch.md): incidents.sqlite3 in data_dir.
        self.dispatch_desk = DispatchDesk(
            self.store,
            network,
            SqliteIncidentStore(database),
            alarms=alarm_writer,
        )
        self.crews = CrewSimulation(
            self.dispatch_desk,
            self.store,
            network,
            alarm_writer,
            rate_per_day=incident_rate,
            speedup=dispatch_speedup,
            seed=seed,
        )
        # "send to wall" of an incident (the desk's book: a new one when a replica takes over)
        self.walls.incident_of = lambda incident_id: self.dispatch_desk.book.get(incident_id)
        # On a cluster, one desk writes (the leader's) and every replica serves the bus's
        # incidents and units (backend/bus/incidents.py, docs/cluster.md).
        self.dispatch_bus: Any = None
        if replica is not None:
            from vigie.backend.bus.incidents import DispatchOnBus

            self.dispatch_bus = DispatchOnBus(
                replica.bus, replica.may_publish, self.dispatch_desk, replica.options.replicas
            )
        writes = DispatchWrites(self.dispatch_bus)
        self.incidents = IncidentService(
            self.dispatch_desk, self.audit, heartbeat_s=heartbeat_s, writes=writes
        )
        self.units = UnitService(self.dispatch_desk, self.audit, heartbeat_s=heartbeat_s, writes=writes)
        if replica is not None:  # a console moved from a replica a little ahead of this one
            self.incidents.catch_up_s = self.units.catch_up_s = 5.0
        incidents_pb2_grpc.add_IncidentServiceServicer_to_server(self.incidents, self.server)
        incidents_pb2_grpc.add_UnitServiceServicer_to_server(self.units, self.server)
        self.sampler = watch_backend(
            metrics,
            self.store,
            self.alarm_engine,
            self.alarm_store,
            self.audit_store,
            self.video,
            data_dir,
            self.alarm_view.open_alarms,
        )
        # Buses, trams, shuttles and signal priority (docs/transport.md), when the network runs them.
        self.transit = TransitService(_transit_of(network), self.epoch, self.audit, heartbeat_s=heartbeat_s)
        transit_pb2_grpc.add_TransitServiceServicer_to_server(self.transit, self.server)
        feed = _transit_feed_of(network)
        if feed is not None:  # P1 dispatches get green along their routes
            self.preemption = EmergencyPreemption(self.dispatch_desk, feed.sim, feed.speed)
        self._build_modes(
            data_dir if self.alarm_store.path != ":memory:" else None, modes, heartbeat_s, alarm_writer
        )
        # Recording, playback, the city's history and exports (docs/recording.md).
        self.recordings = Recordings(
            data_dir if self.alarm_store.path != ":memory:" else None,
            network,
            self.store,
            self.alarm_view,
            recording or RecordingConfig(),
        )
        self.playback = PlaybackService(self.recordings, self.audit)
        self.recording_service = RecordingService(self.recordings, self.audit)
        playback_pb2_grpc.add_PlaybackServiceServicer_to_server(self.playback, self.server)
        playback_pb2_grpc.add_RecordingServiceServicer_to_server(self.recording_service, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if serve_reflection:
            enable_reflection((*SERVICE_NAMES, health.SERVICE_NAME), self.server)
        self.port = 0
        self._credentials_watch: asyncio.Task[None] | None = None
        self._alarm_takeover: asyncio.Task[None] | None = None

    async def start(self, listen: str) -> int:
        """Bind, start the device network, then serve. Returns the bound port."""
        if self.tls is not None:
            self.port = self.server.add_secure_port(listen, self.tls)
        else:
            self.port = self.server.add_insecure_port(listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {listen}")
        if self.demo_users:
            created = await self.users.seed_demo_users()
            log.warning(
                "demo users are on (viewer, operator, supervisor, admin; each one's password is its name)%s:"
                " never use --demo-users on a real installation",
                f", created {', '.join(created)}" if created else "",
            )
        if self.replica is None:
            await self.network.start(self.store)
        else:
            await self._join_cluster(self.replica)
        if self.disk_watch is not None:
            await self.disk_watch.check()  # a full disk is reported before the first write
        await self.dependencies.check_all()
        for subsystem in (DISK, ALARM_STORE, *self.dependencies.subsystems):
            self.system_alarms.clear_stale(subsystem)
        self.alarm_store.start()
        await self.audit_store.start()
        self.interceptor.refusals.start()
        if self.replica is None:  # on the bus, the alarm engine's sources run on the leader
            await self.alarm_sources.start()
        await self.dispatcher.start()
        await self.dispatch_desk.start(add_fleet=self.replica is None)  # on the bus: the leader adds it
        if self.replica is None:  # on the bus, the crews and the city's incidents run on the leader
            await self.crews.start()
        if self.replica is None:  # on the bus, the mode engine runs on the leader
            await self.mode_engine.start()
        await self.access.start()
        await self.recordings.start()
        await self.server.start()
        self._credentials_watch = asyncio.get_running_loop().create_task(
            self.auth.watch_credentials(), name="credentials-watch"
        )
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        # NOT_SERVING where in trouble
        await self.system_alarms.start((DISK, ALARM_STORE, *self.dependencies.subsystems))
        if self.disk_watch is not None:
            self.disk_watch.start()
        self.dependencies.start()
        self.sampler.start()
        return self.port

    async def stop(self, grace: float = 2.0) -> None:
        """Say NOT_SERVING first so balancers drain us, then stop streams and the network."""
        await self.system_alarms.stop()
        troubles = (DISK, ALARM_STORE, *self.dependencies.subsystems)
        for name in ("", *SERVICE_NAMES, *(s.health_name for s in troubles)):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.dependencies.stop()
        await self.sampler.stop()
        if self.disk_watch is not None:
            await self.disk_watch.stop()
        await self.server.stop(grace)
        if self._credentials_watch is not None:
            self._credentials_watch.cancel()
        await self.interceptor.refusals.stop()
        await self.mode_engine.stop()
        await self.dispatcher.stop()
        await self.crews.stop()
        self.network.on_badge(None)
        await self.access.stop()
        await self.alarm_sources.stop()
        await self.recordings.stop()  # before the network: it reads the cameras
        if self.modes_bus is not None:
            await self.modes_bus.stop()
        if self.dispatch_bus is not None:  # a leader sends its desk's last changes first
            await self.dispatch_bus.stop()
        if self.replica is not None:
            await self.replica.stop()  # the leader stops its device adapters here
        else:
            await self.network.stop()
        await self.alarm_store.close()
        await self.dispatch_desk.stop()
        await self.users.close()
        await self.audit_store.close()
        await self.wall_file.close()
        self.view_file.close()
        await self.modes_store.close()
        self.video.pool.shutdown(wait=False, cancel_futures=True)
        self.assets.pool.shutdown(wait=False, cancel_futures=True)

    async def _join_cluster(self, replica: Replica) -> None:
        """The city's state from the bus first; the device adapters run (and publish into the
        bus) only on the leader. A simulator is set up on every replica all the same, for what
        each serves from it (map, video, telemetry), without its ticking. The crews and the city's
        own incidents (backend/dispatch_sim.py) run with the adapters: once, where the simulator
        ticks."""
        publisher = replica.publisher
        begin = getattr(self.network, "begin", None)
        if begin is not None:
            begin(publisher, time.time())

        async def lead() -> None:
            # Beside the devices, not before them: the alarm engine waits for the alarm stream.
            self._alarm_takeover = asyncio.get_running_loop().create_task(
                self._take_over(replica), name="alarm-takeover"
            )
            # The desk takes the incidents over beside the devices (its writes are accepted as
            # soon as it has); its crews start once both are there, on the incidents the bus has.
            desk = asyncio.get_running_loop().create_task(self.dispatch_bus.lead(), name="dispatch-takeover")
            await self.network.start(publisher)  # type: ignore[arg-type]
            await desk
            await self.crews.start()

        async def follow() -> None:
            await self.crews.stop()
            await self.dispatch_bus.step_down()
            await self._follow_alarms(replica)
            await self.modes_bus.step_down()
            await self.network.stop()

        await self.modes_bus.follow()  # the runs as the bus has them before this replica may lead
        await self.dispatch_bus.follow()  # and the incidents and units
        await replica.start(lead=lead, follow=follow)

    async def _take_over(self, replica: Replica) -> None:
        """The alarm engine, then the city modes (their suppressions by design need it)."""
        await self._lead_alarms(replica)
        try:
            await self.modes_bus.lead()
        except Exception:  # in a task of its own: said here, or nobody would know
            log.exception("the city modes failed to start on this leader")

    async def _lead_alarms(self, replica: Replica) -> None:
        """This replica now leads: its engine takes over the alarms as the stream has them (every
        change the last leader had stored), then its sources run and it applies the cluster's
        operator actions. Until its view has the whole stream the engine does not start (it would
        raise open alarms again): the bus in trouble is tried again every second meanwhile."""
        view = replica.alarms
        while True:
            try:
                await view.catch_up(replica.bus.js)
                break
            except Exception as exc:  # the bus away or slow: the engine waits, the leader's other work not
                log.warning("alarm engine waits for the alarm stream: %r", exc)
                await asyncio.sleep(1.0)
        try:
            self.alarm_engine.reload(view.open_alarms(), view.last_change, view.next_id)
            await replica.alarm_publisher.start()
            await self.alarm_relay.serve(self.alarm_engine)
            await self.alarm_sources.start()
        except Exception:  # in a task of its own: said here, or nobody would know
            log.exception("the alarm engine failed to start on this leader")
            return
        log.warning(
            "alarm engine runs here: %d open alarms taken over, next id %d, alarm stream at %d",
            len(view.open_alarms()),
            view.next_id,
            view.sequence,
        )

    async def _follow_alarms(self, replica: Replica) -> None:
        task, self._alarm_takeover = self._alarm_takeover, None
        if task is not None:
            await cancel_and_wait(task)
        await self.alarm_sources.stop()
        await self.alarm_relay.stop_serving()
        await replica.alarm_publisher.stop()

    def _build_modes(
        self, data_dir: str | None, modes: list[ModeDef] | None, heartbeat_s: float, alarms: Any
    ) -> None:
        """City modes and access control (docs/modes.md): modes.sqlite3 in `data_dir`, restored
        here so an active mode and its recorded states survive a restart."""
        self.modes_store = ModesStore(data_dir)
        self.mode_engine = ModeEngine(
            load_modes() if modes is None else modes,
            self.store,
            self.command_book,
            alarms,
            self.audit,
            self.modes_store,
            self.alarm_sources.cameras_for,
        )
        self.access = AccessControl(
            self.store,
            alarms,
            self.audit,
            self.modes_store,
            self.network.cardholders(),
            self.mode_engine.holder,
        )
        self.network.on_badge(self.access.on_badge)
        self.modes_bus: Any = None
        feeds: tuple[Any, Any, Any] = (None, None, None)
        if self.replica is None:
            self.mode_engine.load()
            self.access.load()
        else:  # one engine, on the leader; every replica serves the runs from the bus (docs/cluster.md)
            from vigie.backend.bus.modes import ModesOnBus

            self.modes_bus = ModesOnBus(
                self.replica.bus,
                self.replica.may_publish,
                self.mode_engine,
                self.access,
                self.modes_store,
                self.audit,
            )
            feeds = (self.modes_bus.runs, self.modes_bus.relay, self.modes_bus.decisions)
        self.modes = ModeService(self.mode_engine, heartbeat_s=heartbeat_s, feed=feeds[0], actions=feeds[1])
        modes_pb2_grpc.add_ModeServiceServicer_to_server(self.modes, self.server)
        self.cardholders = CardholderService(self.access, heartbeat_s=heartbeat_s, feed=feeds[2])
        modes_pb2_grpc.add_CardholderServiceServicer_to_server(self.cardholders, self.server)

    def _asset_kind(self, asset_id: str) -> Kind | None:
        a = self.store.get(asset_id)
        return None if a is None else a.kind


def _transit_of(network: DeviceNetwork) -> TransitSim | None:
    """The transit simulation of the network (or of one behind a CompositeNetwork), if any."""
    feed = _transit_feed_of(network)
    return feed.sim if feed is not None else None


def _transit_feed_of(network: DeviceNetwork) -> TransitFeed | None:
    for n in [network, *getattr(network, "networks", [])]:
        feed = getattr(n, "transit", None)
        if feed is not None:
            return feed
    return None
