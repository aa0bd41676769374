"""The asset store: current state of every asset plus a bounded log of changes.

Every published asset state gets the next city-wide revision. The log (domain/changelog.py) keeps
the most recent `history` changes so a client that lost its stream can resume exactly where it
stopped; a client older than that gets `HistoryExpired` and must reload a snapshot.
Single-threaded: use it from the backend's asyncio loop only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from vigie.backend.domain.assets import Asset
from vigie.backend.domain.changelog import ChangeLog, HistoryExpired

__all__ = ["AssetStore", "HistoryExpired"]


class AssetStore:
    def __init__(self, history: int = 200_000) -> None:
        self._log: ChangeLog[Asset] = ChangeLog(history)
        self.history = history
        self._assets: dict[str, Asset] = {}

    @property
    def revision(self) -> int:
        return self._log.last

    @property
    def oldest_available(self) -> int:
        """The oldest revision still in the log (resuming after oldest_available - 1 works)."""
        return self._log.oldest_available

    def __len__(self) -> int:
        return len(self._assets)

    def get(self, asset_id: str) -> Asset | None:
        return self._assets.get(asset_id)

    def assets(self) -> list[Asset]:
        """Every asset's current state, in a stable (insertion) order."""
        return list(self._assets.values())

    def publish(self, assets: Iterable[Asset]) -> int:
        """Record new states; each gets the next revision. Returns the new city revision."""
        rev = self._log.last
        store = self._assets
        stamped_all = []
        for asset in assets:
            rev += 1
            stamped = dataclasses.replace(asset, revision=rev) if asset.revision != 0 else asset
            stamped.revision = rev
            store[stamped.id] = stamped
            stamped_all.append(stamped)
        self._log.append(stamped_all)
        return rev

    def changes_after(self, revision: int, limit: int | None = None) -> list[Asset]:
        """The states published after `revision`, oldest first (at most `limit`)."""
        return self._log.after(revision, limit)

    async def wait_for_change(self, revision: int, timeout: float) -> bool:
        """Wait until the city revision exceeds `revision`; False on timeout."""
        return await self._log.wait_beyond(revision, timeout)
