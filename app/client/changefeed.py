"""The console side of a snapshot-then-changes watch (WatchAlarms, WatchIncidents, WatchUnits...),
written once: it gathers the snapshot's chunks, keeps the latest change per id until the next flush,
and moves the resume position as backend/services/resumable.py sends them. The stream itself (login
wait, resume, backoff, staleness) is app/client/streams.py; this is what a message means."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from vigie.app.client.streams import Resume, ResyncNeeded

R = TypeVar("R")  # the dataclass the console gets


class ChangeFeed(Generic[R]):
    """`item` names a change's message field (`alarm`), `items` the snapshot's list (`alarms`);
    `convert` turns one protobuf message into its record. Records reach `on_snapshot(records, seq)`
    when a snapshot is whole, and `on_changes(records, seq)` at each `flush()` that has some.
    `key` names a message's identity (its `id` unless told: a mode run's is `run_id`)."""

    def __init__(
        self,
        resume: Resume,
        item: str,
        items: str,
        convert: Callable[[Any], R],
        on_snapshot: Callable[[list[R], int], None],
        on_changes: Callable[[list[R], int], None],
        key: Callable[[Any], str] = lambda m: str(m.id),
    ) -> None:
        self.resume = resume
        self._key = key
        self._item, self._items, self._convert = item, items, convert
        self._on_snapshot, self._on_changes = on_snapshot, on_changes
        self._pending: dict[str, Any] = {}  # id -> latest message; bounded by the ids that exist
        self._snapshot: list[R] = []

    def reset(self) -> None:
        """A new call: a snapshot half received on the old one is dropped."""
        self._snapshot = []

    def feed(self, msg: Any) -> None:
        """One message of the watch (`on_message` of ResilientStream)."""
        kind = msg.WhichOneof("event")
        if kind == "changes":
            for c in msg.changes.changes:
                m = getattr(c, self._item)
                self._pending[self._key(m)] = m
            self.resume.position = msg.sequence
        elif kind == "snapshot":
            self._snapshot.extend(self._convert(m) for m in getattr(msg.snapshot, self._items))
            if msg.snapshot.last:
                self.resume.position, self.resume.epoch = msg.sequence, msg.epoch
                self._pending.clear()
                records, self._snapshot = self._snapshot, []
                self._on_snapshot(records, msg.sequence)
        elif kind == "resync_needed":
            raise ResyncNeeded(msg.resync_needed.reason)

    def flush(self) -> None:
        """Hand the changes gathered since the last flush over, converted (off the GUI thread)."""
        if self._pending:
            pending, self._pending = self._pending, {}
            self._on_changes([self._convert(m) for m in pending.values()], self.resume.position)

    async def flush_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.flush()
