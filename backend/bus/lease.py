"""Leader election through a lease in a JetStream KV bucket whose TTL is the lease's.

The holder renews its key with a revision-checked update every third of the TTL; the others try
a create (which succeeds only when the key is absent) as often. If the holder dies, its key
expires with the bucket's TTL and the next create wins: a new leader within TTL + TTL/3. A holder
that cannot renew (partition, another won) steps down at once, before the TTL runs out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)


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
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"lease-{self.key}")

    async def stop(self) -> None:
        """Stop trying; a held lease is released (deleted) so another replica takes over at once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.held:
            await self._lose("stopping")
            with contextlib.suppress(Exception):  # best effort: the TTL ends it anyway
                await self.bucket.delete(self.key, last=self._revision)

    async def _run(self) -> None:
        period = self.ttl_s / 3
        while True:
            try:
                if self.held:
                    self._revision = await self.bucket.update(
                        self.key, self.owner.encode(), last=self._revision
                    )
                else:
                    self._revision = await self.bucket.create(self.key, self.owner.encode())
                    self.held = True
                    self.gained_at = time.monotonic()
                    log.warning("lease %s: %s is now the leader", self.key, self.owner)
                    await self.on_gain()
            except (KeyWrongLastSequenceError, NotFoundError):
                if not await self._still_ours() and self.held:  # another holds it: never two leaders
                    await self._lose("another replica holds it")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus unreachable, a timeout: cannot prove we still hold it
                if self.held:
                    await self._lose(f"cannot renew: {exc!r}")
                else:
                    log.debug("lease %s: cannot try: %r", self.key, exc)
            await asyncio.sleep(period)

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
