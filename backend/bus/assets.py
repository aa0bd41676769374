"""Device state on the bus: the leader publishes asset states into the KV bucket; every replica
follows the bucket's stream into its own `AssetStore`, each state numbered by its stream sequence.

That sequence is the revision WatchAssets sends, so revision N is the same change on every
replica and a console resumes on any of them (backend/services/resumable.py). A replica that
starts (or restarts) loads the last state of every device, then follows; its history begins
there, so resuming before that point gets ResyncNeeded, never a wrong answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from nats.aio.client import Client
from nats.aio.msg import Msg

from vigie.backend.bus.acked import AckedPublisher, Outgoing, send_until_acked
from vigie.backend.bus.codec import decode, encode, id_of, key_of
from vigie.backend.bus.connection import ASSETS_STREAM, ASSETS_SUBJECT
from vigie.backend.bus.view import StreamFollower
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.assets import Asset
from vigie.backend.domain.revlog import AssetStore

log = logging.getLogger(__name__)

PUBLISH_QUEUE = 200_000  # states waiting to go out (the city's whole state, several times over)


SEND_BATCH = 5000  # states per round of acknowledgements at most (a queued batch is never split)
FETCH = 2000  # states per pull: one request to the server, applied in one append


class BusAssetStore(AssetStore, StreamFollower[Asset]):
    """An `AssetStore` whose changes come from the bus, numbered by stream sequence. `publish`
    is not for adapters here: they publish through `LeaderPublisher`.

    It pulls from an ephemeral consumer and checks every sequence itself (backend/bus/view.py):
    a missing one is read again from where it went missing (a consumer reset), and only when the
    stream no longer has it (a device changed more than ASSETS_HISTORY times while this replica
    was behind) does the history restart, so that consoles resync rather than miss it. It is
    loaded once the stream's end as it was at the start is reached: what follows the last states
    may skip sequences (states replaced meanwhile), which are then read again in order."""

    stream = ASSETS_STREAM
    subject = ASSETS_SUBJECT
    what = "asset"
    fetch = FETCH

    def __init__(self, history: int = 200_000) -> None:
        super().__init__(history=history)
        self._init_follow()

    def decode(self, msg: Msg, seq: int) -> Asset | None:
        if msg.headers and msg.headers.get("KV-Operation"):  # a delete or purge marker: not a state
            return None
        return decode(msg.data, seq)

    def index(self, item: Asset) -> None:
        self._assets[item.id] = item

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
            await cancel_and_wait(task)
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
        await send_until_acked(self._acked, out, self.may_publish, "bus", self)


__all__ = ["BusAssetStore", "LeaderPublisher", "id_of"]
