"""Builds the grpc.aio server: services, health, reflection and keepalive policy."""

from __future__ import annotations

import uuid

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    map_pb2,
    map_pb2_grpc,
    video_pb2,
    video_pb2_grpc,
    wall_pb2,
    wall_pb2_grpc,
)

from backend.adapters.base import DeviceNetwork
from backend.alarm_sources import AlarmSources
from backend.domain.audit import AuditSink, MemoryAuditSink
from backend.domain.revlog import AssetStore
from backend.domain.walls import WallRegistry
from backend.services.alarms import AlarmService
from backend.services.assets import AssetService
from backend.services.map import MapService
from backend.services.video import VideoService
from backend.services.wall import WallService
from backend.store.alarms_sqlite import AlarmPersister
from backend.store.walls_json import WallFile

SERVICE_NAMES = (
    assets_pb2.DESCRIPTOR.services_by_name["AssetService"].full_name,
    video_pb2.DESCRIPTOR.services_by_name["VideoService"].full_name,
    map_pb2.DESCRIPTOR.services_by_name["MapService"].full_name,
    alarms_pb2.DESCRIPTOR.services_by_name["AlarmService"].full_name,
    wall_pb2.DESCRIPTOR.services_by_name["WallService"].full_name,
)

# Clients ping every 10 s; permit that (and a little faster) so the server never sends GOAWAY
# "too_many_pings", and drop connections whose peer stopped answering.
SERVER_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
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
    ) -> None:
        """`data_dir` holds alarms.sqlite3 (None: alarms in memory only); `simulated_alarms` adds
        the simulated field events; `alarm_rate` synthetic alarms per second (benchmarks)."""
        self.store = AssetStore(history=history)
        self.network = network
        self.epoch = uuid.uuid4().hex[:12]
        self.server = grpc.aio.server(options=SERVER_OPTIONS)
        self.health = health.aio.HealthServicer()
        self.assets = AssetService(self.store, network, self.epoch, heartbeat_s=heartbeat_s)
        self.video = VideoService(self.store, network)
        assets_pb2_grpc.add_AssetServiceServicer_to_server(self.assets, self.server)
        video_pb2_grpc.add_VideoServiceServicer_to_server(self.video, self.server)
        self.map = MapService(network, name="Dijon Métropole (simulated)", center=(47.322, 5.041))
        map_pb2_grpc.add_MapServiceServicer_to_server(self.map, self.server)
        self.alarm_store = AlarmPersister(data_dir, history=alarm_history)
        self.alarm_engine = self.alarm_store.open_engine()
        self.alarm_sources = AlarmSources(
            self.alarm_engine, self.store, simulated_events=simulated_alarms, alarm_rate=alarm_rate, seed=seed
        )
        self.alarms = AlarmService(self.alarm_engine, self.alarm_store, heartbeat_s=heartbeat_s)
        alarms_pb2_grpc.add_AlarmServiceServicer_to_server(self.alarms, self.server)
        # Video walls (walls.json in data_dir, unless another backend holds that directory, as
        # for the alarms). Pushes are audited to `self.audit` once the backend has one (looked
        # up at each push), else kept in memory.
        self._memory_audit = MemoryAuditSink()
        self.wall_file = WallFile(data_dir if self.alarm_store.path != ":memory:" else None)
        self.wall_registry = WallRegistry(self.wall_file.load(), listener=self.wall_file.save_soon)
        self.walls = WallService(
            self.wall_registry,
            self.store,
            self.alarm_engine,
            self.alarm_store,
            audit=self._audit_sink,
            heartbeat_s=heartbeat_s,
        )
        wall_pb2_grpc.add_WallServiceServicer_to_server(self.walls, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = 0

    def _audit_sink(self) -> AuditSink:
        sink = getattr(self, "audit", None)
        return self._memory_audit if sink is None else sink

    async def start(self, listen: str) -> int:
        """Bind, start the device network, then serve. Returns the bound port."""
        self.port = self.server.add_insecure_port(listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {listen}")
        await self.network.start(self.store)
        self.alarm_store.start()
        await self.alarm_sources.start()
        await self.server.start()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    async def stop(self, grace: float = 2.0) -> None:
        """Say NOT_SERVING first so balancers drain us, then stop streams and the network."""
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)
        await self.alarm_sources.stop()
        await self.network.stop()
        await self.alarm_store.close()
        await self.wall_file.close()
        self.video.pool.shutdown(wait=False, cancel_futures=True)
