"""Alarms on the bus: the leader's alarm engine publishes each change into the stream
VIGIE_ALARMS (`AlarmPublisher`); every replica, the leader included, follows that stream into an
`AlarmView` and serves WatchAlarms, ListAlarms and the journal from it.

A change's number on the bus is its stream sequence: the same change has the same sequence on
every replica, and the view's epoch is derived from the stream's identity
(backend/bus/connection.py), so a console's alarm resume point is valid on every replica. Each
message is the whole alarm (one subject per alarm, `vigie-alarms.<id>`) with the engine's own
number of the change in its `sequence` field (the view keeps it as `last_change`, and renumbers
the alarm by the stream); its `Nats-Msg-Id` is `<alarm id>:<that number>`, so a change sent again
after a lost acknowledgement is stored once. A new leader's engine starts from the view
(`AlarmEngine.reload`): the same ids, open alarms, next id and change numbers after the last one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from vigie.backend.bus.acked import AckedPublisher, Outgoing
from vigie.backend.bus.connection import ALARMS_STREAM, ALARMS_SUBJECT
from vigie.backend.bus.follow import follow_stream
from vigie.backend.domain.alarms import Alarm
from vigie.backend.domain.changelog import ChangeLog
from vigie.backend.store.alarms_sqlite import alarm_from_json, alarm_to_json

log = logging.getLogger(__name__)

FETCH = 1000  # alarm states per pull
SEND_BATCH = 2000  # alarm states per round of acknowledgements at most
PUBLISH_QUEUE = 100_000  # changes waiting to go out


def alarm_number(alarm_id: str) -> int:
    """The number in an id "alm-000123" (0 for an id of another form)."""
    try:
        return int(alarm_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


class AlarmView:
    """The cluster's alarms as the stream has them: the open ones, and the recent changes
    numbered by stream sequence. It reads like an `AlarmEngine` (open_alarms, get, sequence,
    changes_after, wait_for_change, epoch, oldest_available) and is never written to except by
    the stream. `listener` sees every state applied (the replica's journal).

    A replica that starts loads the last state of every alarm, then follows, checking each
    sequence: its history begins there (a console resuming from before gets ResyncNeeded)."""

    def __init__(self, epoch: str, history: int = 100_000) -> None:
        self.epoch = epoch
        self.listener: Callable[[list[Alarm]], None] | None = None
        self.synced = asyncio.Event()
        self.next_id = 1  # above every alarm id the stream holds
        self.last_change = 0  # the engine's number of the newest change applied
        self.gaps = 0
        self._log: ChangeLog[Alarm] = ChangeLog(history)
        self._open: dict[str, Alarm] = {}
        self._by_source: dict[str, str] = {}
        self._loaded_at = 0
        self._retried = 0
        self._task: asyncio.Task[None] | None = None

    # --- what the services read -----------------------------------------------------------------------

    @property
    def sequence(self) -> int:
        return self._log.last

    @property
    def oldest_available(self) -> int:
        return self._log.oldest_available

    def open_alarms(self) -> list[Alarm]:
        return list(self._open.values())

    def get(self, alarm_id: str) -> Alarm | None:
        return self._open.get(alarm_id)

    def open_for(self, source_key: str) -> Alarm | None:
        i = self._by_source.get(source_key)
        return None if i is None else self._open[i]

    def changes_after(self, sequence: int, limit: int | None = None) -> list[Alarm]:
        return self._log.after(sequence, limit)

    async def wait_for_change(self, sequence: int, timeout: float) -> bool:
        return await self._log.wait_beyond(sequence, timeout)

    async def wait_for_change_number(self, change: int, timeout: float) -> bool:
        """Wait until the engine's change `change` (or a later one) has come through the stream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.last_change < change:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await self._log.wait_beyond(self._log.last, left)
        return True

    # --- following the stream -------------------------------------------------------------------------

    async def follow(self, js: JetStreamContext, timeout: float = 60.0) -> None:
        """Load the last state of every alarm, then follow; returns once loaded."""
        info = await js.stream_info(ALARMS_STREAM)
        self._loaded_at = info.state.last_seq
        if info.state.messages == 0:
            self._log.restore([], info.state.last_seq)
            self.synced.set()
        self._task = asyncio.get_running_loop().create_task(self._pull(js), name="bus-alarms")
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def catch_up(self, js: JetStreamContext, timeout: float = 10.0) -> None:
        """Wait until everything the stream holds now has been applied (a new leader's engine
        starts from it). Raises TimeoutError."""
        last = (await js.stream_info(ALARMS_STREAM)).state.last_seq
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._log.last < last:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"the alarm stream is at {last}, this replica at {self._log.last}")
            await self._log.wait_beyond(self._log.last, left)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pull(self, js: JetStreamContext) -> None:
        await follow_stream(
            js, ALARMS_STREAM, ALARMS_SUBJECT, FETCH, self.synced, lambda: self._log.last + 1, self._take
        )

    def _take(self, msgs: list[Msg]) -> bool:
        """Apply a pulled batch; False (the rest unapplied) to read again from a missing sequence."""
        run: list[Alarm] = []
        for msg in msgs:
            meta = msg.metadata
            seq = meta.sequence.stream
            alarm = self._decode(msg, seq)
            if not self.synced.is_set():
                if alarm is not None:
                    self._index(alarm)
                    run.append(alarm)  # for the journal only: the history starts after the load
                if meta.num_pending == 0 or seq >= self._loaded_at:
                    self._tell(run)
                    run = []
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
                    "alarm stream: %d came after %d, which the stream no longer has: history restarts",
                    seq,
                    expected - 1,
                )
                self._log.restore([], seq - 1)
            if alarm is None:  # unreadable: it still takes its number
                self._append(run)
                run = []
                self._log.restore([], seq)
                continue
            run.append(alarm)
        if self.synced.is_set():
            self._append(run)
        else:
            self._tell(run)
        return True

    def _decode(self, msg: Msg, seq: int) -> Alarm | None:
        try:
            alarm = alarm_from_json(msg.data.decode())
        except (ValueError, TypeError, KeyError) as exc:
            log.error("alarm state %d on %s dropped: %s", seq, msg.subject, exc)
            return None
        self.last_change = max(self.last_change, alarm.sequence)
        alarm.sequence = seq
        return alarm

    def _index(self, a: Alarm) -> None:
        self.next_id = max(self.next_id, alarm_number(a.id) + 1)
        if a.closed:
            self._open.pop(a.id, None)
            if self._by_source.get(a.source_key) == a.id:
                del self._by_source[a.source_key]
        else:
            self._open[a.id] = a
            self._by_source[a.source_key] = a.id

    def _append(self, alarms: list[Alarm]) -> None:
        if not alarms:
            return
        for a in alarms:
            self._index(a)
        self._log.append(alarms)
        self._tell(alarms)

    def _tell(self, alarms: list[Alarm]) -> None:
        if alarms and self.listener is not None:
            try:
                self.listener(alarms)
            except Exception:  # the journal's trouble is its own (reported there): the view goes on
                log.exception("alarm journal refused %d states", len(alarms))


class AlarmPublisher:
    """The leader engine's listener: each change goes out to the stream, acknowledged, in order,
    while `may_publish()` (the lease's fence) holds. A change not acknowledged in time is sent
    again with the same id, as the last state of its alarm in the batch; a replica that does not
    lead drops what it would send (the leader's changes are the cluster's)."""

    def __init__(self, nc: Client, may_publish: Callable[[], bool]) -> None:
        self.nc = nc
        self.may_publish = may_publish
        self.sent = 0
        self.fenced = 0
        self.resent = 0
        self._acked = AckedPublisher(nc)
        self._queue: asyncio.Queue[list[Outgoing]] = asyncio.Queue()
        self._queued = 0
        self._idle = asyncio.Event()  # nothing queued or being sent
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    async def drain(self, timeout: float) -> bool:
        """Wait until what was queued has been sent (a leader stopping hands its last changes
        over); False if it took longer than `timeout`."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def publish(self, changes: list[Alarm]) -> None:
        """Called by the engine, synchronously, with the states of one change."""
        if self._task is None:
            self.fenced += len(changes)
            return
        if self._queued + len(changes) > PUBLISH_QUEUE:
            log.error("alarm publisher: %d changes waiting, %d dropped", self._queued, len(changes))
            return
        out = [
            Outgoing(f"{ALARMS_SUBJECT}.{a.id}", alarm_to_json(a).encode(), f"{a.id}:{a.sequence}")
            for a in changes
        ]
        self._queued += len(out)
        self._idle.clear()
        self._queue.put_nowait(out)

    async def start(self) -> None:
        await self._acked.start()
        self._task = asyncio.get_running_loop().create_task(self._send(), name="bus-alarm-publisher")

    async def stop(self) -> None:
        """Stop sending; what waits is dropped (a new leader's engine starts from the stream)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._acked.stop()
        while not self._queue.empty():
            self.fenced += len(self._queue.get_nowait())
        self._queued = 0
        self._idle.set()

    async def _send(self) -> None:
        while True:
            batch = await self._queue.get()
            while len(batch) < SEND_BATCH and not self._queue.empty():
                batch += self._queue.get_nowait()
            self._queued -= len(batch)
            await self._send_acked(batch)
            if self._queue.empty():
                self._idle.set()

    async def _send_acked(self, out: list[Outgoing]) -> None:
        wait = 0.1
        while out:
            if not self.may_publish():
                self.fenced += len(out)
                log.warning("alarm publisher: %d changes not sent, this replica no longer leads", len(out))
                return
            missed = await self._acked.send(out)
            self.sent += len(out) - len(missed)
            if not missed:
                return
            unacked = set(missed)
            last = {m.subject: i for i, m in enumerate(out)}  # each alarm's last state in the batch
            again = [out[i] for i in sorted(last.values()) if i in unacked]
            log.warning(
                "alarm publisher: %d changes not acknowledged, %d sent again (the last of each alarm)",
                len(missed),
                len(again),
            )
            self.resent += len(again)
            out = again
            await asyncio.sleep(wait)
            wait = min(2.0, wait * 2)
