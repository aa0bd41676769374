"""The asset store: current state of every asset plus a bounded log of changes.

Every published asset state gets the next city-wide revision. The log keeps the most recent
`history` changes so a client that lost its stream can resume exactly where it stopped; a
client older than that gets `HistoryExpired` and must reload a snapshot. Single-threaded: use
it from the backend's asyncio loop only.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable

from backend.domain.assets import Asset


class HistoryExpired(Exception):
    """The requested revision is older than the retained history."""

    def __init__(self, requested: int, oldest_available: int) -> None:
        super().__init__(f"revision {requested} is older than the oldest retained change {oldest_available}")
        self.requested = requested
        self.oldest_available = oldest_available


class AssetStore:
    def __init__(self, history: int = 200_000) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        self.history = history
        self._assets: dict[str, Asset] = {}
        self._log: list[Asset] = []  # _log[i].revision == self._base + i
        self._base = 1
        self._revision = 0
        self._changed = asyncio.Event()

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def oldest_available(self) -> int:
        """The oldest revision still in the log (resuming after oldest_available - 1 works)."""
        return self._base

    def __len__(self) -> int:
        return len(self._assets)

    def get(self, asset_id: str) -> Asset | None:
        return self._assets.get(asset_id)

    def assets(self) -> list[Asset]:
        """Every asset's current state, in a stable (insertion) order."""
        return list(self._assets.values())

    def publish(self, assets: Iterable[Asset]) -> int:
        """Record new states; each gets the next revision. Returns the new city revision."""
        rev = self._revision
        log = self._log
        store = self._assets
        for asset in assets:
            rev += 1
            stamped = dataclasses.replace(asset, revision=rev) if asset.revision != 0 else asset
            stamped.revision = rev
            store[stamped.id] = stamped
            log.append(stamped)
        if rev == self._revision:
            return rev
        self._revision = rev
        if len(log) > 2 * self.history:  # amortised trim keeps appends O(1)
            cut = len(log) - self.history
            del log[:cut]
            self._base += cut
        self._changed.set()
        self._changed = asyncio.Event()
        return rev

    def changes_after(self, revision: int, limit: int | None = None) -> list[Asset]:
        """The states published after `revision`, oldest first (at most `limit`)."""
        if revision < 0:
            raise ValueError("revision must not be negative")
        if revision >= self._revision:
            return []
        if revision + 1 < self._base:
            raise HistoryExpired(revision, self._base)
        start = revision + 1 - self._base
        end = len(self._log) if limit is None else min(len(self._log), start + limit)
        return self._log[start:end]

    async def wait_for_change(self, revision: int, timeout: float) -> bool:
        """Wait until the city revision exceeds `revision`; False on timeout."""
        if self._revision > revision:
            return True
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return self._revision > revision
        return True
