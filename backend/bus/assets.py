"""Device state on the bus: the leader publishes asset states into the KV bucket; every replica
follows the bucket's stream into its own `AssetStore`, each state numbered by its stream sequence.

That sequence is the revision WatchAssets sends, so revision N is the same change on every
replica and a console resumes on any of them (backend/services/resumable.py). A replica that
starts (or restarts) loads the last state of every device, then follows; its history begins
there, so resuming before that point gets ResyncNeeded, never a wrong answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from vigie.backend.bus.codec import decode, encode, id_of, key_of
from vigie.backend.bus.connection import ASSETS_STREAM, ASSETS_SUBJECT
from vigie.backend.domain.assets import Asset
from vigie.backend.domain.revlog import AssetStore

log = logging.getLogger(__name__)

PUBLISH_QUEUE = 200_000  # states waiting to go out (the city's whole state, several times over)


class BusAssetStore(AssetStore):
    """An `AssetStore` whose changes come from the bus, numbered by stream sequence. `publish`
    is not for adapters here: they publish through `LeaderPublisher`."""

    def __init__(self, history: int = 200_000) -> None:
        super().__init__(history=history)
        self.synced = asyncio.Event()
        self._pending: list[Asset] = []
        self._flush_scheduled = False
        self._sub: Subscription | None = None
        self.gaps = 0  # stream sequences skipped (should stay 0: each one resets the history)

    async def follow(self, js: JetStreamContext, timeout: float = 60.0) -> None:
        """Load the last state of every device, then follow; returns once loaded."""
        info = await js.stream_info(ASSETS_STREAM)
        if info.state.messages == 0:
            self._log.restore([], info.state.last_seq)
            self.synced.set()
        self._sub = await js.subscribe(
            f"{ASSETS_SUBJECT}.>",
            stream=ASSETS_STREAM,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            cb=self._on_msg,
            pending_msgs_limit=1_000_000,
            pending_bytes_limit=512 * 1024 * 1024,
        )
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        meta = msg.metadata
        seq = meta.sequence.stream
        if msg.headers and msg.headers.get("KV-Operation"):  # a delete or purge marker
            asset = None
        else:
            try:
                asset = decode(msg.data, seq)
            except ValueError as exc:
                log.error("asset state %d on %s dropped: %s", seq, msg.subject, exc)
                asset = None
        if not self.synced.is_set():
            if asset is not None:
                self._assets[asset.id] = asset
            if meta.num_pending == 0:
                self._log.restore([], seq)
                self.synced.set()
            return
        if asset is None:
            # Not a state (a marker): the next change cannot follow seq - 1 in this log.
            self._flush()
            self._reset(seq)
            return
        self._pending.append(asset)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Apply the states received since the last turn of the loop, in one append."""
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        run: list[Asset] = []
        expected = self._log.last + 1
        for a in batch:
            if a.revision != expected:
                self._append(run)
                run = []
                self._reset(a.revision - 1)
                expected = a.revision
            run.append(a)
            expected += 1
        self._append(run)

    def _append(self, states: list[Asset]) -> None:
        for a in states:
            self._assets[a.id] = a
        self._log.append(states)

    def _reset(self, last: int) -> None:
        """A gap in the sequence: the history restarts after `last` (older resumes resync)."""
        if last != self._log.last:
            self.gaps += 1
            log.warning(
                "asset stream: %d came after %d (this replica fell behind): history restarts",
                last + 1,
                self._log.last,
            )
            self._log.restore([], last)

    def publish(self, assets: Iterable[Asset]) -> int:
        raise RuntimeError("on the bus, states are published through LeaderPublisher")


class LeaderPublisher:
    """What the device adapters publish into: states go to the bus while this replica leads
    (and are dropped otherwise: the leader's are the city's). In order, from one task."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.leading = False
        self.sent = 0
        self._queue: asyncio.Queue[list[Asset]] = asyncio.Queue()
        self._queued = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._send(), name="bus-publisher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def publish(self, assets: Iterable[Asset]) -> int:
        if not self.leading:
            return 0
        batch = list(assets)
        if self._queued + len(batch) > PUBLISH_QUEUE:
            log.warning("bus publisher: %d states waiting, %d dropped", self._queued, len(batch))
            return 0
        self._queued += len(batch)
        self._queue.put_nowait(batch)
        return 0

    async def _send(self) -> None:
        while True:
            batch = await self._queue.get()
            self._queued -= len(batch)
            for a in batch:
                await self.nc.publish(f"{ASSETS_SUBJECT}.{key_of(a.id)}", encode(a))
            self.sent += len(batch)


__all__ = ["BusAssetStore", "LeaderPublisher", "id_of"]
