"""Health per dependency: each check names a subsystem (`vigie.backend.<name>` in gRPC health)
and says what is wrong with it, or None. A failing check raises the subsystem's system alarm and
turns it, and the gRPC services it affects, NOT_SERVING (backend/system_alarms.py); it clears by
itself when the check passes again.

Checks provided here: the data dir is writable (a probe file written, fsynced and removed: a
read-only mount, a full or failing disk, a lost network share all show) and the device network
is connected. The disk's headroom is backend/disk_watch.py's. Other dependencies (a message bus,
a database) register their own check with `DependencyWatch.register`."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from vigie.backend.adapters.base import DeviceNetwork
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.system_alarms import Subsystem, SystemAlarms

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]

PROBE_NAME = ".vigie-health-probe"


def probe_writable(directory: str) -> str | None:
    """Write, fsync and remove a small file in `directory`; None when that worked, else why not.
    Blocking: run it in an executor."""
    path = os.path.join(directory, PROBE_NAME)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ok\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(path)
    except OSError as exc:
        return f"the data dir {directory} is not writable: {exc.strerror or exc}"
    return None


class DependencyWatch:
    """Runs every registered check each `interval_s` (and once before serving) and reports the
    outcome of each to SystemAlarms, only when it changes."""

    def __init__(self, system_alarms: SystemAlarms, interval_s: float = 10.0) -> None:
        self.system_alarms = system_alarms
        self.interval_s = interval_s
        self.checks: list[tuple[Subsystem, Check]] = []
        self._task: asyncio.Task[None] | None = None

    def register(self, subsystem: Subsystem, check: Check) -> None:
        """Adds a dependency: `check()` returns None when it is fine, else what is wrong."""
        self.checks.append((subsystem, check))

    @property
    def subsystems(self) -> tuple[Subsystem, ...]:
        return tuple(s for s, _ in self.checks)

    def watch_data_dir(self, subsystem: Subsystem, directory: str) -> None:
        async def check() -> str | None:
            return await asyncio.get_running_loop().run_in_executor(None, probe_writable, directory)

        self.register(subsystem, check)

    def watch_network(self, subsystem: Subsystem, network: DeviceNetwork) -> None:
        async def check() -> str | None:
            return network.connection_problem()

        self.register(subsystem, check)

    async def check_all(self) -> None:
        for subsystem, check in self.checks:
            try:
                problem = await check()
            except Exception as exc:  # a check that fails is a problem of its dependency
                log.exception("health check of %s failed", subsystem.name)
                problem = f"its health check failed: {exc}"
            self.system_alarms.report(subsystem, problem)  # a new alarm only when it changes

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dependency-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.check_all()
