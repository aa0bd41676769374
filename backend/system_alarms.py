"""The backend's own troubles (low disk space, an alarm store that cannot write) as alarms and as
gRPC health, so operators see them on every console and monitoring sees them in health checks.

Each subsystem ("disk", "alarm-store") is a source of alarms on one pseudo-asset of kind SYSTEM
(never in the asset store), and a health service name `vigie.backend.<subsystem>`; a trouble
also turns the health of the gRPC services it affects NOT_SERVING. Runs on the asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from grpc_health.v1 import health, health_pb2

from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Asset, Kind

log = logging.getLogger(__name__)

SYSTEM_ASSET = Asset(
    id="system-backend", kind=Kind.SYSTEM, name="Vigie backend", district="", lat=0.0, lon=0.0
)
HEALTH_PREFIX = "vigie.backend."


@dataclass(frozen=True, slots=True)
class Subsystem:
    name: str  # "disk": source key "system:disk", health service "vigie.backend.disk"
    cause: str  # the alarm's cause, e.g. "disk_space_low"
    priority: int  # 1 (most urgent) .. 4
    affects: tuple[str, ...] = ()  # gRPC service names that are NOT_SERVING during the trouble

    @property
    def health_name(self) -> str:
        return HEALTH_PREFIX + self.name


DISK = Subsystem("disk", "disk_space_low", 2)


class SystemAlarms:
    """Raises and clears the alarm of a subsystem and keeps its health status in step."""

    def __init__(
        self,
        engine: AlarmEngine,
        health_servicer: health.aio.HealthServicer,
        position: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """`position`: where consoles place the alarms on the map (the city's centre: a system
        trouble has no place of its own)."""
        self.engine = engine
        self.position = position
        self.health = health_servicer
        self.problems: dict[str, str] = {}  # subsystem name -> what is wrong now
        self._subsystems: dict[str, Subsystem] = {}
        self._serving = False
        self._pending: set[asyncio.Task] = set()

    async def start(self, subsystems: tuple[Subsystem, ...]) -> None:
        """Publish the health of every subsystem (SERVING unless already in trouble)."""
        self._serving = True
        for s in subsystems:
            self._subsystems[s.name] = s
        for s in subsystems:
            await self._apply_health(s)

    def report(self, subsystem: Subsystem, problem: str | None) -> None:
        """`problem` None: the subsystem is fine (its alarm clears, it serves again); otherwise its
        alarm is raised with `problem` as message (once per trouble). Call from the loop."""
        self._subsystems.setdefault(subsystem.name, subsystem)
        before = self.problems.get(subsystem.name)
        if (problem is None) == (before is None):
            if problem is not None:
                self.problems[subsystem.name] = problem  # still in trouble: no new alarm
            return
        now = time.time()
        key = f"system:{subsystem.name}"
        if problem is None:
            del self.problems[subsystem.name]
            log.warning("%s recovered", subsystem.name)
            self.engine.clear(key, now)
        else:
            self.problems[subsystem.name] = problem
            log.error("%s: %s", subsystem.name, problem)
            self.engine.raise_alarm(
                key, SYSTEM_ASSET, subsystem.cause, subsystem.priority, problem, now, position=self.position
            )
        if self._serving:
            task = asyncio.get_running_loop().create_task(self._apply_health(subsystem))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def clear_stale(self, subsystem: Subsystem) -> None:
        """Clear an alarm of `subsystem` left active by an earlier run that has no trouble now."""
        if subsystem.name not in self.problems:
            self.engine.clear(f"system:{subsystem.name}", time.time())

    async def stop(self) -> None:
        self._serving = False
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def status_of(self, service: str) -> int:
        """SERVING or NOT_SERVING for a health service name, given the troubles now."""
        for s in self._subsystems.values():
            if s.name in self.problems and (service == s.health_name or service in s.affects):
                return health_pb2.HealthCheckResponse.NOT_SERVING
        return health_pb2.HealthCheckResponse.SERVING

    async def _apply_health(self, subsystem: Subsystem) -> None:
        if self._serving:
            for name in (subsystem.health_name, *subsystem.affects):
                await self.health.set(name, self.status_of(name))
