"""Publishing into JetStream with acknowledgements, pipelined: a batch goes out as plain
publishes, each with its own reply subject, and JetStream's PubAck for each comes back there.
`send` returns the messages that were not acknowledged in time (a NATS node died with them, the
stream had no leader, no stream took the subject), so the caller can send them again.

Each message carries a `Nats-Msg-Id` that stays the same when it is sent again: one that was
stored but whose acknowledgement was lost is then dropped by JetStream as a duplicate (within the
stream's duplicate window) and acknowledged, never stored twice. One request per message would
cost a round trip each; this costs one wait per batch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from vigie.backend.cancel import cancel_and_wait

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
ROUND = 5000  # messages sent at once at most: one round of acknowledgements


@dataclass(frozen=True, slots=True)
class Outgoing:
    subject: str
    data: bytes
    msg_id: str  # the same on every send of this message


class AckedPublisher:
    """`await start()`, then `await send(batch)` from one task at a time."""

    def __init__(self, nc: Client, timeout_s: float = ACK_TIMEOUT_S) -> None:
        self.nc = nc
        self.timeout_s = timeout_s
        self._prefix = nc.new_inbox()
        self._sub: Subscription | None = None
        self._round = 0
        self._waiting: set[int] = set()
        self._all_in = asyncio.Event()
        self.refused = 0  # answers that were not a PubAck (no stream, an error): sent again

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(f"{self._prefix}.*.*", cb=self._on_ack)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def send(self, batch: Sequence[Outgoing]) -> list[int]:
        """Publish the batch in order; the indexes of the messages not acknowledged in time."""
        self._round += 1
        self._waiting = set(range(len(batch)))
        self._all_in.clear()
        for i, m in enumerate(batch):
            await self.nc.publish(
                m.subject,
                m.data,
                reply=f"{self._prefix}.{self._round}.{i}",
                headers={"Nats-Msg-Id": m.msg_id},
            )
        if self._waiting:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timeout_s):
                    await self._all_in.wait()
        return sorted(self._waiting)

    async def _on_ack(self, msg: Msg) -> None:
        _, round_s, index_s = msg.subject.rsplit(".", 2)
        if int(round_s) != self._round:
            return  # late, for a round given up already (its messages were sent again)
        try:
            ack = json.loads(msg.data) if msg.data else {}
        except json.JSONDecodeError:
            ack = {}
        if not isinstance(ack, dict) or "seq" not in ack:  # an error, or no responders (503)
            self.refused += 1
            return
        self._waiting.discard(int(index_s))
        if not self._waiting:
            self._all_in.set()


@dataclass(slots=True)
class Sent:
    """Counts of what `send_until_acked` did (a publisher keeps the same three as attributes)."""

    sent: int = 0  # acknowledged by JetStream
    resent: int = 0  # sent again, not acknowledged the first time
    fenced: int = 0  # not sent: this replica no longer leads


async def send_until_acked(
    acked: AckedPublisher, out: list[Outgoing], may_publish: Callable[[], bool], what: str, counts: Any
) -> None:
    """Send `out` until JetStream has acknowledged all of it, while `may_publish()` (the lease's
    fence) holds. What was not acknowledged in time is sent again with the same ids, only the last
    message of each subject in the batch (a newer state replaces an older one), after a pause
    that doubles up to 2 s. `counts` (a `Sent`, or the publisher itself) is kept up to date as it
    goes: its `sent`, `resent` and `fenced`. Shared by the leader's asset, alarm and mode
    publishers.

    A batch larger than `ROUND` goes out in slices of `ROUND`, each acknowledged before the next:
    a replica that starts leading puts the whole city in one batch (50,000 states on a large
    city), and sent at once it overflowed the NATS client's buffer and could not all be
    acknowledged within the timeout, so it went out again whole every few seconds (the MQTT
    cluster bench, docs/cluster.md)."""
    for i in range(0, len(out), ROUND):
        if not await _send_round(acked, out[i : i + ROUND], may_publish, what, counts):
            counts.fenced += max(0, len(out) - i - ROUND)  # the slices after this one
            return


async def _send_round(
    acked: AckedPublisher, out: list[Outgoing], may_publish: Callable[[], bool], what: str, counts: Any
) -> bool:
    """One slice of `send_until_acked`; False if the fence fell (the rest is not sent)."""
    wait = 0.1
    while out:
        if not may_publish():
            counts.fenced += len(out)
            log.warning("%s publisher: %d changes not sent, this replica no longer leads", what, len(out))
            return False
        missed = await acked.send(out)
        counts.sent += len(out) - len(missed)
        if not missed:
            return True
        unacked = set(missed)
        last = {m.subject: i for i, m in enumerate(out)}  # each subject's last message in the batch
        again = [out[i] for i in sorted(last.values()) if i in unacked]
        log.warning(
            "%s publisher: %d changes not acknowledged, %d sent again (the last of each subject)",
            what,
            len(missed),
            len(again),
        )
        counts.resent += len(again)
        out = again
        await asyncio.sleep(wait)
        wait = min(2.0, wait * 2)
    return True


class QueuedPublisher:
    """A leader's changes out to JetStream, acknowledged, in order (`send_until_acked`), while
    `may_publish()` (the lease's fence) holds: `put()` is called synchronously by the writer
    (an engine's or a desk's listener), a task sends up to `batch` messages per round. Before
    `start()` or after `stop()` what is put is dropped (counted in `fenced`): a replica that does
    not lead publishes nothing. Shared by the alarm and the dispatch publishers."""

    def __init__(
        self, nc: Client, may_publish: Callable[[], bool], what: str, batch: int = 2000, limit: int = 100_000
    ) -> None:
        """`limit`: messages waiting at most (more are dropped, said in the log)."""
        self.nc = nc
        self.may_publish = may_publish
        self.what = what
        self.batch = batch
        self.limit = limit
        self.sent = 0  # acknowledged by JetStream
        self.resent = 0  # sent again, not acknowledged the first time
        self.fenced = 0  # not sent: this replica no longer leads
        self.dropped = 0  # not sent: the queue was full
        self._acked = AckedPublisher(nc)
        self._queue: asyncio.Queue[list[Outgoing]] = asyncio.Queue()
        self._queued = 0
        self._idle = asyncio.Event()  # nothing queued or being sent
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def put(self, out: list[Outgoing]) -> None:
        if self._task is None:
            self.fenced += len(out)
            return
        if self._queued + len(out) > self.limit:
            log.error("%s publisher: %d changes waiting, %d dropped", self.what, self._queued, len(out))
            self.dropped += len(out)
            return
        self._queued += len(out)
        self._idle.clear()
        self._queue.put_nowait(out)

    async def drain(self, timeout: float) -> bool:
        """Wait until what was put has been sent (a leader stopping hands its last changes
        over); False if it took longer than `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        await self._acked.start()
        self._task = asyncio.get_running_loop().create_task(self._send(), name=f"bus-{self.what}-publisher")

    async def stop(self) -> None:
        """Stop sending; what waits is dropped (a new leader starts from the stream)."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        await self._acked.stop()
        while not self._queue.empty():
            self.fenced += len(self._queue.get_nowait())
        self._queued = 0
        self._idle.set()

    async def _send(self) -> None:
        while True:
            batch = await self._queue.get()
            while len(batch) < self.batch and not self._queue.empty():
                batch += self._queue.get_nowait()
            self._queued -= len(batch)
            await send_until_acked(self._acked, batch, self.may_publish, self.what, self)
            if self._queue.empty():
                self._idle.set()
