"""One backend replica on the bus: its connection, the store it serves from, the publisher its
device adapters write into, the alarm view it serves alarms from and the publisher the leader's
alarm engine writes into, and the lease that says whether it leads (runs what must run once)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from vigie.backend.bus.alarms import AlarmPublisher, AlarmView
from vigie.backend.bus.assets import BusAssetStore, LeaderPublisher
from vigie.backend.bus.connection import LEASE_BUCKET, Bus, BusOptions
from vigie.backend.bus.lease import LeaseThread
from vigie.backend.cancel import cancel_and_wait

log = logging.getLogger(__name__)

LEADER_KEY = "leader"


class Replica:
    """`await Replica.join(options, history)` connects; `start()` follows the bus and runs for
    the lease; `leading` says whether this replica is the leader now."""

    def __init__(self, bus: Bus, options: BusOptions, history: int) -> None:
        self.bus = bus
        self.options = options
        self.epoch = bus.epoch
        self.store = BusAssetStore(history=history)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.publisher = LeaderPublisher(bus.nc, self.store, self.owner)
        self.alarms = AlarmView(bus.alarms_epoch)
        self.alarm_publisher = AlarmPublisher(bus.nc, self.may_publish)
        self.lease: LeaseThread | None = None
        self._changes: asyncio.Queue[bool] = asyncio.Queue()
        self._applier: asyncio.Task[None] | None = None
        self._lead: Callable[[], Awaitable[None]] | None = None
        self._follow: Callable[[], Awaitable[None]] | None = None

    @classmethod
    async def join(cls, options: BusOptions, history: int = 200_000) -> Replica:
        try:
            return cls(await Bus.connect(options), options, history)
        except TimeoutError as exc:
            raise OSError(f"the bus at {options.url} did not answer in time: {exc!r}") from exc

    @property
    def leading(self) -> bool:
        return self.lease is not None and self.lease.held

    async def start(self, lead: Callable[[], Awaitable[None]], follow: Callable[[], Awaitable[None]]) -> None:
        """Load the city's state from the bus, then compete for the lease: `lead()` runs when
        this replica becomes the leader (start the work that runs once), `follow()` when it
        stops being one (stop that work)."""
        self._lead, self._follow = lead, follow
        try:
            await self.store.follow(self.bus.js)
        except TimeoutError as exc:  # an OSError too: say which, for the exit message
            raise OSError(f"the bus did not give this replica the city's state in time: {exc!r}") from exc
        try:
            await self.alarms.follow(self.bus.js)
        except TimeoutError as exc:
            raise OSError(f"the bus did not give this replica the alarms in time: {exc!r}") from exc
        self.publisher.may_publish = self.may_publish
        await self.publisher.start()
        loop = asyncio.get_running_loop()
        self._applier = loop.create_task(self._apply_changes(), name="leadership")
        self.lease = LeaseThread(
            self.options.url,
            LEASE_BUCKET,
            LEADER_KEY,
            self.owner,
            self.options.lease_ttl_s,
            loop,
            self._changes.put_nowait,
        )
        await loop.run_in_executor(None, self.lease.start)

    def may_publish(self) -> bool:
        """The lease's fence: this replica leads, with a renewal confirmed recently."""
        return self.lease is not None and self.lease.valid()

    async def stop(self) -> None:
        if self.publisher.leading and not await self.alarm_publisher.drain(2.0):
            log.warning("stopping: the alarm engine's last changes were not all sent")
        if self.lease is not None:
            await self.lease.stop()
        if self._applier is not None:
            await cancel_and_wait(self._applier)
        if self.publisher.leading:
            await self._loss()
        await self.publisher.stop()
        await self.alarm_publisher.stop()
        await self.store.stop()
        await self.alarms.stop()
        await self.bus.close()

    async def _apply_changes(self) -> None:
        """Leadership changes, one at a time and in order (a start finishes before a stop). A
        failing start or stop is logged and the next change still applied."""
        while True:
            held = await self._changes.get()
            try:
                if held and not self.publisher.leading:
                    await self._gain()
                elif not held and self.publisher.leading:
                    await self._loss()
            except Exception:
                log.exception(
                    "leadership %s: the leader's work failed to %s", self.owner, "start" if held else "stop"
                )

    async def _gain(self) -> None:
        self.publisher.leading = True
        if self._lead is not None:
            await self._lead()

    async def _loss(self) -> None:
        self.publisher.leading = False
        if self._follow is not None:
            await self._follow()
