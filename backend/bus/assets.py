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
from collections.abc import Callable, Iterable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from vigie.backend.bus.acked import AckedPublisher, Outgoing
from vigie.backend.bus.codec import decode, encode, id_of, key_of
from vigie.backend.bus.connection import ASSETS_STREAM, ASSETS_SUBJECT
from vigie.backend.bus.follow import follow_stream
from vigie.backend.domain.assets import Asset
from vigie.backend.domain.revlog import AssetStore

log = logging.getLogger(__name__)

PUBLISH_QUEUE = 200_000  # states waiting to go out (the city's whole state, several times over)


SEND_BATCH = 5000  # states per round of acknowledgements at most (a queued batch is never split)
FETCH = 2000  # states per pull: one request to the server, applied in one append


class BusAssetStore(AssetStore):
    """An `AssetStore` whose changes come from the bus, numbered by stream sequence. `publish`
    is not for adapters here: they publish through `LeaderPublisher`.

    It pulls from an ephemeral consumer and checks every sequence itself: a missing one is read
    again from where it went missing (a consumer reset), and only when the stream no longer has
    it (a device changed more than ASSETS_HISTORY times while this replica was behind) does the
    history restart, so that consoles resync rather than miss it."""

    def __init__(self, history: int = 200_000) -> None:
        super().__init__(history=history)
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loaded_at = 0
        self._retried = 0  # the sequence last read again after a gap
        self.gaps = 0  # sequences the stream no longer had: each one restarted the history

    async def follow(self, js: JetStreamContext, timeout: float = 60.0) -> None:
        """Load the last state of every device, then follow; returns once loaded."""
        info = await js.stream_info(ASSETS_STREAM)
        # Loaded once the stream's end as it is now is reached: what follows the last states
        # may skip sequences (states replaced meanwhile), which are then read again in order.
        self._loaded_at = info.state.last_seq
        if info.state.messages == 0:
            self._log.restore([], info.state.last_seq)
            self.synced.set()
        self._task = asyncio.get_running_loop().create_task(self._pull(js), name="bus-assets")
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pull(self, js: JetStreamContext) -> None:
        await follow_stream(
            js, ASSETS_STREAM, ASSETS_SUBJECT, FETCH, self.synced, lambda: self._log.last + 1, self._take
        )

    def _take(self, msgs: list[Msg]) -> bool:
        """Apply a pulled batch; False (the rest unapplied) to read again from a missing sequence."""
        run: list[Asset] = []
        for msg in msgs:
            meta = msg.metadata
            seq = meta.sequence.stream
            asset = self._decode(msg, seq)
            if not self.synced.is_set():
                if asset is not None:
                    self._assets[asset.id] = asset
                if meta.num_pending == 0 or seq >= self._loaded_at:
                    self._log.restore([], seq)
                    self.synced.set()
                continue
            expected = self._log.last + 1 + len(run)
            if seq < expected:
                continue  # read twice (a consumer made again): already applied
            if seq > expected:
                self._append(run)
                run = []
                if self._retried != expected:
                    self._retried = expected
                    return False
                self.gaps += 1
                log.warning(
                    "asset stream: %d came after %d, which the stream no longer has (this replica fell"
                    " behind): history restarts",
                    seq,
                    expected - 1,
                )
                self._log.restore([], seq - 1)
            if asset is None:  # not a state (a marker): it still takes its number
                self._append(run)
                run = []
                self._log.restore([], seq)
                continue
            run.append(asset)
        self._append(run)
        return True

    @staticmethod
    def _decode(msg: Msg, seq: int) -> Asset | None:
        if msg.headers and msg.headers.get("KV-Operation"):  # a delete or purge marker
            return None
        try:
            return decode(msg.data, seq)
        except ValueError as exc:
            log.error("asset state %d on %s dropped: %s", seq, msg.subject, exc)
            return None

    def _append(self, states: list[Asset]) -> None:
        for a in states:
            self._assets[a.id] = a
        self._log.append(states)

    def publish(self, assets: Iterable[Asset]) -> int:
        raise RuntimeError("on the bus, states are published through LeaderPublisher")


class LeaderPublisher:
    """What the device adapters publish into: states go to the bus while this replica leads
    (and are dropped otherwise: the leader's are the city's). In order, from one task.

    Each batch is acknowledged by JetStream before the next goes out (backend/bus/acked.py): a
    state that was not (its NATS node died, the stream was electing a leader) is sent again, as
    the last state of its device in the batch, so the bucket never keeps an older state than the
    device's last. While the bus takes nothing, batches wait in the queue (PUBLISH_QUEUE)."""

    def __init__(self, nc: Client, view: AssetStore, owner: str = "") -> None:
        """`view`: the replica's store, what adapters read back (`get`): the city as the bus has
        it; `owner` names this replica in the messages' ids (dedup of what is sent again)."""
        self.nc = nc
        self.view = view
        self.owner = owner or nc.new_inbox().rsplit(".", 1)[-1]
        self.leading = False
        self.may_publish: Callable[[], bool] = lambda: self.leading  # the lease's fence
        self.sent = 0  # states acknowledged by JetStream
        self.fenced = 0  # states not sent: the lease could no longer be proven held
        self.resent = 0  # states sent again, not acknowledged the first time
        self._numbered = 0
        self._acked = AckedPublisher(nc)
        self._queue: asyncio.Queue[list[Asset]] = asyncio.Queue()
        self._queued = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._acked.start()
        self._task = asyncio.get_running_loop().create_task(self._send(), name="bus-publisher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._acked.stop()

    def get(self, asset_id: str) -> Asset | None:
        return self.view.get(asset_id)

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
            # What queued meanwhile goes in the same round of acknowledgements (an adapter that
            # publishes one state at a time must not cost a round trip per state).
            while len(batch) < SEND_BATCH and not self._queue.empty():
                batch += self._queue.get_nowait()
            self._queued -= len(batch)
            out = []
            for a in batch:
                self._numbered += 1
                out.append(
                    Outgoing(f"{ASSETS_SUBJECT}.{key_of(a.id)}", encode(a), f"{self.owner}:{self._numbered}")
                )
            await self._send_acked(out)

    async def _send_acked(self, out: list[Outgoing]) -> None:
        """Until every device's last state of the batch is acknowledged, while this replica may
        publish (a replica that lost the lease sends nothing more)."""
        wait = 0.1
        while out:
            if not self.may_publish():
                self.fenced += len(out)
                return
            missed = await self._acked.send(out)
            self.sent += len(out) - len(missed)
            if not missed:
                return
            unacked = set(missed)
            last = {m.subject: i for i, m in enumerate(out)}  # each device's last state in the batch
            again = [out[i] for i in sorted(last.values()) if i in unacked]
            log.warning(
                "bus publisher: %d states not acknowledged, %d sent again (the last of each device)",
                len(missed),
                len(again),
            )
            self.resent += len(again)
            out = again
            await asyncio.sleep(wait)  # the bus is in trouble: give it time, doubling to 2 s
            wait = min(2.0, wait * 2)


__all__ = ["BusAssetStore", "LeaderPublisher", "id_of"]
