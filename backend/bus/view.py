"""A replica's copy of a JetStream stream, numbered by the stream's sequence: the asset store
(backend/bus/assets.py, a `StreamFollower`), and the `StreamView`s of the alarms
(backend/bus/alarms.py), the mode runs, their device records and the access decisions
(backend/bus/modes.py).

It loads the last message of every subject, then follows (backend/bus/follow.py), checking each
sequence: a batch that skips one is read again from it once; a sequence the stream no longer has
restarts the history there (the view's consoles resync rather than miss a change). The stream's
sequence is the number its consoles resume from, the same on every replica; a view's `epoch` is
derived from the stream's identity (backend/bus/connection.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from vigie.backend.bus.follow import follow_stream
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.changelog import ChangeLog

log = logging.getLogger(__name__)

T = TypeVar("T")


class StreamFollower(Generic[T]):
    """Following one stream into a replica's own state, numbered by the stream's sequence.
    Subclasses name `stream`, `subject` (the messages are on `<subject>.>`) and `what` (for the
    logs), give `decode` (a message into an item numbered by its sequence, None when it is not
    one), `index` (their own state from an item, loaded or followed) and a ChangeLog `_log`, and
    call `_init_follow()`. `listener` sees every item applied (the replica's journal);
    `load_last` False skips the load (the history starts at the stream's end: decisions, not
    states). The asset store (backend/bus/assets.py) and every StreamView follow this way."""

    stream = ""
    subject = ""
    what = ""
    fetch = 1000
    load_last = True
    _log: ChangeLog[T]

    def _init_follow(self) -> None:
        self.listener: Callable[[list[T]], None] | None = None
        self.synced = asyncio.Event()
        self.gaps = 0  # sequences the stream no longer had: each one restarted the history
        self._loaded_at = 0
        self._retried = 0  # the sequence last read again after a gap
        self._task: asyncio.Task[None] | None = None

    # --- following the stream -------------------------------------------------------------------------

    async def follow(self, js: JetStreamContext, timeout: float = 60.0) -> None:
        """Load the last message of every subject, then follow; returns once loaded."""
        info = await js.stream_info(self.stream)
        self._loaded_at = info.state.last_seq
        if info.state.messages == 0 or not self.load_last:
            self._log.restore([], info.state.last_seq)
            self.synced.set()
        self._task = asyncio.get_running_loop().create_task(self._pull(js), name=f"bus-{self.what}")
        async with asyncio.timeout(timeout):
            await self.synced.wait()

    async def catch_up(self, js: JetStreamContext, timeout: float = 10.0) -> None:
        """Wait until everything the stream holds now has been applied (a new leader starts from
        it; a relayed call answers once its effect is here). Raises TimeoutError."""
        last = (await js.stream_info(self.stream)).state.last_seq
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._log.last < last:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"the {self.what} stream is at {last}, this replica at {self._log.last}")
            await self._log.wait_beyond(self._log.last, left)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _pull(self, js: JetStreamContext) -> None:
        await follow_stream(
            js, self.stream, self.subject, self.fetch, self.synced, lambda: self._log.last + 1, self._take
        )

    def _take(self, msgs: list[Msg]) -> bool:
        """Apply a pulled batch; False (the rest unapplied) to read again from a missing sequence."""
        run: list[T] = []
        for msg in msgs:
            meta = msg.metadata
            seq = meta.sequence.stream
            item = self._decode_logged(msg, seq)
            if not self.synced.is_set():
                if item is not None:
                    self.index(item)
                    run.append(item)  # for the journal only: the history starts after the load
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
                    "%s stream: %d came after %d, which the stream no longer has (this replica fell"
                    " behind): history restarts",
                    self.what,
                    seq,
                    expected - 1,
                )
                self._log.restore([], seq - 1)
            if item is None:  # unreadable: it still takes its number
                self._append(run)
                run = []
                self._log.restore([], seq)
                continue
            run.append(item)
        if self.synced.is_set():
            self._append(run)
        else:
            self._tell(run)
        return True

    def _decode_logged(self, msg: Msg, seq: int) -> T | None:
        try:
            return self.decode(msg, seq)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("%s %d on %s dropped: %s", self.what, seq, msg.subject, exc)
            return None

    def decode(self, msg: Msg, seq: int) -> T | None:
        raise NotImplementedError

    def index(self, item: T) -> None:
        """The subclass's own state (open alarms, runs...) from one item."""

    def _append(self, items: list[T]) -> None:
        if not items:
            return
        for item in items:
            self.index(item)
        self._log.append(items)
        self._tell(items)

    def _tell(self, items: list[T]) -> None:
        if items and self.listener is not None:
            try:
                self.listener(items)
            except Exception:  # the journal's trouble is its own (reported there): the view goes on
                log.exception("%s journal refused %d items", self.what, len(items))


class StreamView(StreamFollower[T]):
    """A stream followed into its own change log, which consoles resume from (resumable.ChangeLog:
    sequence, oldest_available, changes_after, wait_for_change) in `epoch`."""

    def __init__(self, epoch: str, history: int) -> None:
        self.epoch = epoch
        self._log = ChangeLog(history)
        self._init_follow()

    @property
    def sequence(self) -> int:
        return self._log.last

    @property
    def oldest_available(self) -> int:
        return self._log.oldest_available

    def changes_after(self, sequence: int, limit: int | None = None) -> list[T]:
        return self._log.after(sequence, limit)

    async def wait_for_change(self, sequence: int, timeout: float) -> bool:
        return await self._log.wait_beyond(sequence, timeout)


class NumberedView(StreamView[T]):
    """A StreamView of a leader's changes, each carrying the leader's own number of it:
    `last_change` is the newest number applied, which a relayed write waits for (its answer says
    the number) before the asking replica answers from its view. The alarm view and the dispatch
    views (backend/bus/incidents.py); subclasses keep `last_change` up to date in `decode`."""

    def __init__(self, epoch: str, history: int) -> None:
        super().__init__(epoch, history)
        self.last_change = 0

    async def wait_for_change_number(self, change: int, timeout: float) -> bool:
        """Wait until the leader's change `change` (or a later one) has come through the stream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.last_change < change:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await self._log.wait_beyond(self._log.last, left)
        return True
