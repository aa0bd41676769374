"""Leader election through a lease in a JetStream KV bucket whose TTL is the lease's.

The holder renews its key with a revision-checked update every third of the TTL; the others try
a create (which succeeds only when the key is absent) every TRY_S. If the holder dies, its key
expires with the bucket's TTL and the next create wins: a new leader within TTL + TRY_S. A holder
that cannot renew (partition, another won) steps down at once, before the TTL runs out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from vigie.backend.cancel import cancel_and_wait

log = logging.getLogger(__name__)

# A holder whose renewals fail (timeouts, the bus away) holds on until this share of the TTL has
# passed since its last confirmed write, then steps down: before the key can expire and another
# replica take it, so there are never two leaders (clocks permitting).
MARGIN = 0.7
# How often a replica that does not hold the lease tries to create it: a new leader within
# TTL + TRY_S of the old one's last renewal (a refused create is one small KV request). At 0.5 s
# the new leader came 0.31-0.74 s after the old key expired (docs/cluster.md, commands' failover).
TRY_S = 0.2


class Lease:
    """Hold `key` in `bucket` as `owner`; `on_gain`/`on_loss` run when leadership changes."""

    def __init__(
        self,
        bucket: KeyValue,
        key: str,
        owner: str,
        ttl_s: float,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.owner = owner
        self.ttl_s = ttl_s
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.held = False
        self.gained_at = 0.0
        self._revision = 0
        self._renewed = 0.0  # monotonic time of the last write the bus confirmed
        self._task: asyncio.Task[None] | None = None

    def valid(self) -> bool:
        """Held, and renewed recently enough that no other replica can hold it yet: what a
        leader checks before each write it makes as the leader (a fence against a stalled one)."""
        return self.held and time.monotonic() - self._renewed < MARGIN * self.ttl_s

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"lease-{self.key}")

    async def stop(self) -> None:
        """Stop trying; a held lease is released (deleted) so another replica takes over at once."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        if self.held:
            await self._lose("stopping")
            with contextlib.suppress(Exception):  # best effort: the TTL ends it anyway
                await self.bucket.delete(self.key, last=self._revision)

    async def _run(self) -> None:
        renew = self.ttl_s / 3
        try_again = min(renew, TRY_S)
        while True:
            try:
                if self.held:
                    self._revision = await self.bucket.update(
                        self.key, self.owner.encode(), last=self._revision
                    )
                    self._renewed = time.monotonic()
                else:
                    self._revision = await self.bucket.create(self.key, self.owner.encode())
                    self._renewed = time.monotonic()
                    self.held = True
                    self.gained_at = time.monotonic()
                    log.warning("lease %s: %s is now the leader", self.key, self.owner)
                    await self.on_gain()
            except (KeyWrongLastSequenceError, NotFoundError):
                if not await self._still_ours() and self.held:  # another holds it: never two leaders
                    await self._lose("another replica holds it")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus unreachable, a timeout: the lease runs on meanwhile
                if self.held and time.monotonic() - self._renewed > MARGIN * self.ttl_s:
                    await self._lose(f"cannot renew: {exc!r}")
                else:
                    log.debug("lease %s: cannot try: %r", self.key, exc)
            await asyncio.sleep(renew if self.held else try_again)

    async def _still_ours(self) -> bool:
        """After a refused write: is the key ours all the same (an earlier write that timed out
        here had reached the server)? Then hold it at its revision rather than leave the city
        leaderless until it expires."""
        try:
            entry = await self.bucket.get(self.key)
        except Exception:
            return False
        if entry.value != self.owner.encode() or entry.revision is None:
            return False
        self._revision = entry.revision
        self._renewed = time.monotonic()
        if not self.held:
            self.held = True
            self.gained_at = time.monotonic()
            log.warning("lease %s: %s is the leader (again)", self.key, self.owner)
            await self.on_gain()
        return True

    async def _lose(self, why: str) -> None:
        self.held = False
        log.warning("lease %s: %s steps down (%s)", self.key, self.owner, why)
        await self.on_loss()


class LeaseThread:
    """A `Lease` run on its own thread, event loop and connection, so that a busy backend loop
    (thousands of changes a second) cannot delay its renewals into losing it. `on_change(held)`
    is called on `loop` (the backend's) in the order the changes happened."""

    def __init__(
        self,
        servers: str | list[str],
        bucket: str,
        key: str,
        owner: str,
        ttl_s: float,
        loop: asyncio.AbstractEventLoop,
        on_change: Callable[[bool], None],
    ) -> None:
        self.servers = servers
        self.bucket_name = bucket
        self.key = key
        self.owner = owner
        self.ttl_s = ttl_s
        self.loop = loop
        self.on_change = on_change
        self.lease: Lease | None = None
        self._ready = threading.Event()
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"lease-{key}", daemon=True)

    def valid(self) -> bool:
        return self.lease is not None and self.lease.valid()

    @property
    def held(self) -> bool:
        return self.lease is not None and self.lease.held

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise OSError(f"the lease could not start: {self._error!r}")

    async def stop(self) -> None:
        """Release the lease (another replica takes over at once) and end the thread."""
        if self._own_loop is not None and self._stop is not None:
            self._own_loop.call_soon_threadsafe(self._stop.set)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 15.0)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        import nats

        try:

            async def error(exc: Exception) -> None:  # the backend's own connection logs the bus's state
                log.debug("lease connection: %r", exc)

            nc = await nats.connect(
                self.servers,
                name=f"vigie-lease-{self.owner}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=error,
            )
            bucket = await nc.jetstream().key_value(self.bucket_name)
        except Exception as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._own_loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        async def gain() -> None:
            self.loop.call_soon_threadsafe(self.on_change, True)

        async def loss() -> None:
            self.loop.call_soon_threadsafe(self.on_change, False)

        self.lease = Lease(bucket, self.key, self.owner, self.ttl_s, gain, loss)
        self.lease.start()
        self._ready.set()
        await self._stop.wait()
        await self.lease.stop()
        with contextlib.suppress(Exception):
            await nc.close()
