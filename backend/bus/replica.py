"""One backend replica on the bus: its connection, the store it serves from, the publisher its
device adapters write into, and the lease that says whether it leads (runs what must run once)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from vigie.backend.bus.assets import BusAssetStore, LeaderPublisher
from vigie.backend.bus.connection import Bus, BusOptions
from vigie.backend.bus.lease import Lease

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
        self.publisher = LeaderPublisher(bus.nc)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = Lease(bus.leases, LEADER_KEY, self.owner, options.lease_ttl_s, self._gain, self._loss)
        self._lead: Callable[[], Awaitable[None]] | None = None
        self._follow: Callable[[], Awaitable[None]] | None = None

    @classmethod
    async def join(cls, options: BusOptions, history: int = 200_000) -> Replica:
        return cls(await Bus.connect(options), options, history)

    @property
    def leading(self) -> bool:
        return self.lease.held

    async def start(self, lead: Callable[[], Awaitable[None]], follow: Callable[[], Awaitable[None]]) -> None:
        """Load the city's state from the bus, then compete for the lease: `lead()` runs when
        this replica becomes the leader (start the work that runs once), `follow()` when it
        stops being one (stop that work)."""
        self._lead, self._follow = lead, follow
        await self.store.follow(self.bus.js)
        self.publisher.start()
        self.lease.start()

    async def stop(self) -> None:
        await self.lease.stop()
        await self.publisher.stop()
        await self.store.stop()
        await self.bus.close()

    async def _gain(self) -> None:
        self.publisher.leading = True
        if self._lead is not None:
            await self._lead()

    async def _loss(self) -> None:
        self.publisher.leading = False
        if self._follow is not None:
            await self._follow()
