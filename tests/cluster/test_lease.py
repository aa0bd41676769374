"""The leader lease (backend/bus/lease.py) on a real nats-server: one holder at a time; a holder
that dies without a word is replaced within TTL + TRY_S, and by then it no longer counts itself
valid (its fence); a holder that stops releases the lease at once."""

from __future__ import annotations

import asyncio
import contextlib
import time

from vigie.backend.bus.connection import LEASE_BUCKET, Bus, BusOptions
from vigie.backend.bus.lease import TRY_S, Lease

TTL = 2.0


async def contenders(url: str, n: int) -> tuple[list[Bus], list[Lease], list[asyncio.Event]]:
    buses = [await Bus.connect(BusOptions(url, lease_ttl_s=TTL)) for _ in range(n)]
    gained = [asyncio.Event() for _ in range(n)]
    leases = []
    for i, (bus, event) in enumerate(zip(buses, gained, strict=True)):

        async def gain(e: asyncio.Event = event) -> None:
            e.set()

        async def loss() -> None:
            pass

        leases.append(Lease(bus.leases, "leader", f"owner-{i}", TTL, gain, loss))
    return buses, leases, gained


def test_one_holder_then_takeover_after_a_silent_death_and_at_once_after_a_stop(nats_server):
    async def scenario() -> dict[str, float]:
        buses, (first, second, third), (g1, g2, g3) = await contenders(nats_server.url, 3)
        assert buses[0].leases._name == LEASE_BUCKET
        first.start()
        await asyncio.wait_for(g1.wait(), 10)
        second.start()
        # Two full TTLs with both running: the holder renews, the other never gets it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(g2.wait(), 2 * TTL)
        assert not g2.is_set() and first.held and first.valid()

        # The holder dies without releasing (its task stops, as with kill -9).
        assert first._task is not None
        first._task.cancel()
        t_dead = time.monotonic()
        await asyncio.wait_for(g2.wait(), 3 * TTL)
        takeover = time.monotonic() - t_dead
        assert not first.valid(), "the dead holder still counted itself valid when another took over"

        # A holder that stops releases the lease: the next contender gets it at its next try.
        third.start()
        t_stop = time.monotonic()
        await second.stop()
        await asyncio.wait_for(g3.wait(), 3 * TTL)
        handover = time.monotonic() - t_stop
        await third.stop()
        for b in buses:
            await b.close()
        return {"takeover": takeover, "handover": handover}

    times = asyncio.run(scenario())
    assert times["takeover"] <= TTL + TRY_S + 1.0, times  # expiry + one try period + slack
    assert times["handover"] < TTL, times  # released: no waiting for the TTL
