"""A bounded log of numbered changes that clients resume from: the asset store's and the alarm
engine's. Entries are numbered 1, 2, 3... by their owner (revision, sequence) before they are
appended; the log keeps the most recent `history` of them, answers "what came after N" (or
`HistoryExpired`), and wakes the streams waiting for more. Single-threaded: the asyncio loop's.

It holds at most `history` + `slack` entries: past that, one cut takes it back to `history`. The
cut moves `history` pointers once every `slack` appends, so appends stay O(1) amortised; a slack of
a quarter keeps the peak at 1.25 times the history (it was twice: the backend grew by the other
three quarters of a full ring before it was flat, docs/soak.md)."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class HistoryExpired(Exception):
    """The requested position is older than the retained history."""

    def __init__(self, requested: int, oldest_available: int) -> None:
        super().__init__(f"{requested} is older than the oldest retained change {oldest_available}")
        self.requested = requested
        self.oldest_available = oldest_available


class ChangeLog(Generic[T]):
    def __init__(self, history: int, last: int = 0) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        self.history = history
        self.slack = max(1, history // 4)
        self._entries: list[T] = []  # _entries[i] is change number self._base + i
        self._base = last + 1
        self._last = last
        self._changed = asyncio.Event()

    @property
    def last(self) -> int:
        """The number of the newest change (0 before any)."""
        return self._last

    @property
    def oldest_available(self) -> int:
        """The oldest change still kept (resuming after oldest_available - 1 works)."""
        return self._base

    def append(self, entries: list[T]) -> None:
        """Add changes numbered last + 1, last + 2, ... and wake the waiting streams."""
        if not entries:
            return
        self._entries.extend(entries)
        self._last += len(entries)
        if len(self._entries) > self.history + self.slack:  # one cut every `slack` appends
            cut = len(self._entries) - self.history
            del self._entries[:cut]
            self._base += cut
        self._changed.set()
        self._changed = asyncio.Event()

    def restore(self, entries: list[T], last: int) -> None:
        """Reload the tail of a previous run's log (its newest entry is change `last`)."""
        self._entries = list(entries[-self.history :])
        self._last = last
        self._base = last - len(self._entries) + 1

    def after(self, position: int, limit: int | None = None) -> list[T]:
        """The changes after `position`, oldest first (at most `limit`)."""
        if position < 0:
            raise ValueError("position must not be negative")
        if position >= self._last:
            return []
        if position + 1 < self._base:
            raise HistoryExpired(position, self._base)
        start = position + 1 - self._base
        end = len(self._entries) if limit is None else min(len(self._entries), start + limit)
        return self._entries[start:end]

    async def wait_beyond(self, position: int, timeout: float) -> bool:
        """Wait until a change after `position` exists; False on timeout."""
        if self._last > position:
            return True
        event = self._changed
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return self._last > position
        return True
