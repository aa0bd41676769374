"""Follows the asset log and the alarm log and writes them to the history store, so that the
city at any kept moment can be answered (GetCityState).

The follower runs on the asyncio loop but only collects: it takes new changes (a list slice) with
the time it saw them and hands them, once a second, to one writer thread, which sorts out what
the map would show and writes it. A full snapshot is written every
`snapshot_every_s`; a moving vehicle's position at most every `POSITION_EVERY_S` unless its
status changes. History older than `retention_days` is pruned every hour.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Asset, Kind
from vigie.backend.domain.changelog import HistoryExpired
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.store.history_sqlite import HistoryStore

log = logging.getLogger(__name__)

POSITION_EVERY_S = 2.0
FLUSH_S = 1.0
PRUNE_EVERY_S = 3600.0


class CityHistory:
    def __init__(
        self,
        store: HistoryStore,
        assets: AssetStore,
        alarms: AlarmEngine,
        retention_days: float = 7.0,
        snapshot_every_s: float = 300.0,
    ) -> None:
        self.store = store
        self.assets = assets
        self.alarms = alarms
        self.retention_days = retention_days
        self.snapshot_every_s = snapshot_every_s
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="history")
        self._task: asyncio.Task[None] | None = None
        self._last_kept: dict[str, tuple[float, Asset]] = {}
        self.written_through = 0.0  # wall time up to which everything is on disk

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="city-history")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        self.pool.shutdown(wait=True)
        self.store.close()

    def _keep(self, a: Asset, now: float) -> bool:
        """A change the map would not show (only the report time) is not kept; a vehicle that
        only moved is kept at most every POSITION_EVERY_S."""
        last = self._last_kept.get(a.id)
        if last is not None:
            t, prev = last
            same_state = (
                prev.status == a.status
                and prev.status_reason == a.status_reason
                and prev.name == a.name
                and prev.attributes == a.attributes
            )
            moved = prev.lat != a.lat or prev.lon != a.lon or prev.heading_deg != a.heading_deg
            if same_state and not moved:
                return False
            if same_state and a.kind is Kind.VEHICLE and now - t < POSITION_EVERY_S:
                return False
        self._last_kept[a.id] = (now, a)
        return True

    def _write(
        self, now: float, snapshot: list[Asset] | None, batch: list[tuple[float, list[Asset]]], alarms: list
    ) -> None:
        """On the writer thread: keep what the map would show, then one transaction."""
        changes = [(t, a) for t, assets in batch for a in assets if self._keep(a, t)]
        self.store.write(now, snapshot, changes, alarms)

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        rev = self.assets.revision
        seq = self.alarms.sequence
        now = time.time()
        snapshot: list[Asset] | None = self.assets.assets()
        last_snapshot = now
        last_prune = 0.0
        await loop.run_in_executor(self.pool, self.store.write, now, snapshot, [], self.alarms.open_alarms())
        self.written_through = now
        stamped: list[tuple[float, list[Asset]]] = []  # (when seen, the changes seen then)
        snapshot = None
        flush_at = time.monotonic() + FLUSH_S
        while True:
            try:
                # Wake at each publish so a change is stamped when it happened, not when flushed.
                await self.assets.wait_for_change(rev, max(0.0, flush_at - time.monotonic()))
                now = time.time()
                try:
                    fresh = self.assets.changes_after(rev)
                    if fresh:
                        rev = fresh[-1].revision
                        stamped.append((now, fresh))
                except HistoryExpired:
                    rev = self.assets.revision
                    snapshot = self.assets.assets()
                if time.monotonic() < flush_at:
                    continue
                flush_at = time.monotonic() + FLUSH_S
                try:
                    alarm_changes = self.alarms.changes_after(seq)
                except HistoryExpired:
                    alarm_changes = self.alarms.open_alarms()
                seq = self.alarms.sequence
                if now - last_snapshot >= self.snapshot_every_s:
                    snapshot = self.assets.assets()
                if snapshot is not None:
                    last_snapshot = now
                batch, stamped = stamped, []
                await loop.run_in_executor(self.pool, self._write, now, snapshot, batch, alarm_changes)
                snapshot = None
                self.written_through = now
                if now - last_prune >= PRUNE_EVERY_S:
                    last_prune = now
                    await loop.run_in_executor(self.pool, self.store.prune, now - self.retention_days * 86400)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("city history: writing failed")
                await asyncio.sleep(5.0)
