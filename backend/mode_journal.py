"""Saving mode runs and publishing their changes, in that order (the asyncio loop's).

The engine marks what changed (`touch_run`, `touch_record`); every `progress_s`, or at once on
`flush()`, the changed runs are counted, numbered with the next sequences, written with the
changed device records in one transaction (store/modes_sqlite.py, serialised off the loop), and
only then appended to the WatchModes change log. Nothing is streamed that a kill -9 could lose,
so the epoch survives restarts and clients resume without a resync. On a cluster, `sink` is the
leader's publisher instead (backend/bus/modes.py): saved means acknowledged by the bus, and the
replicas' views stream it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.changelog import ChangeLog
from vigie.backend.domain.mode_runs import DeviceRecord, RunInfo
from vigie.backend.store.modes_sqlite import Loaded, ModesStore

log = logging.getLogger(__name__)

HISTORY = 20_000  # changes kept for clients to resume from (the file keeps as many)


class RunJournal:
    def __init__(
        self, db: ModesStore, records_of: Callable[[str], list[DeviceRecord] | None], progress_s: float
    ) -> None:
        self.db = db
        self.records_of = records_of
        self.progress_s = progress_s
        # Where a flush saves: (runs, (run id, record) pairs, log entries); raises if not saved.
        self.sink: Callable[[list, list, list], Awaitable[None]] = db.write
        self.epoch = ""
        self._log: ChangeLog[RunInfo] = ChangeLog(HISTORY)
        self._runs: dict[str, RunInfo] = {}
        self._recs: dict[tuple[str, str, str], DeviceRecord] = {}
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    def restore(self, loaded: Loaded) -> None:
        self.epoch = loaded.epoch
        self._log = ChangeLog(HISTORY, last=loaded.sequence)
        tail = [RunInfo.from_json(e) for e in loaded.log]
        if tail and tail[-1].sequence == loaded.sequence:
            self._log.restore(tail, loaded.sequence)

    def touch_run(self, run: RunInfo) -> None:
        self._runs[run.run_id] = run
        self._dirty.set()

    def touch_record(self, run_id: str, rec: DeviceRecord) -> None:
        self._recs[(run_id, *rec.key)] = rec
        self._dirty.set()

    def discard(self) -> None:
        """Forget what was not saved (a new leader replica starts from what the bus stored)."""
        self._runs, self._recs = {}, {}
        self._dirty.clear()

    @property
    def pending(self) -> bool:
        return bool(self._runs or self._recs)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="modes-flush")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        await self.flush()

    # --- the change log (resumable.ChangeLog) ---------------------------------------------------------

    @property
    def sequence(self) -> int:
        return self._log.last

    @property
    def oldest_available(self) -> int:
        return self._log.oldest_available

    def changes_after(self, position: int, limit: int | None = None) -> list[RunInfo]:
        return self._log.after(position, limit)

    async def wait_for_change(self, position: int, timeout: float) -> bool:
        return await self._log.wait_beyond(position, timeout)

    # --- saving ---------------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.progress_s)
            try:
                await self.flush()
            except Exception:
                log.exception("saving mode runs failed (retrying)")
                await asyncio.sleep(1.0)

    async def flush(self) -> None:
        """Save what changed, then publish one change per changed run."""
        async with self._lock:
            self._dirty.clear()
            runs, recs = self._runs, self._recs
            self._runs, self._recs = {}, {}
            if not runs and not recs:
                return
            now = time.time()
            seq = self._log.last
            snaps = []
            for run in runs.values():
                records = self.records_of(run.run_id)
                if records is not None:
                    run.count(records)
                seq += 1
                run.sequence, run.updated_at = seq, now
                snaps.append(dataclasses.replace(run, keys=dict(run.keys)))
            devices = [(k[0], r) for k, r in recs.items()]
            try:
                await self.sink(snaps, devices, snaps)
            except BaseException:
                for k, r in recs.items():  # kept for the next attempt
                    self._recs.setdefault(k, r)
                for run in runs.values():
                    self._runs.setdefault(run.run_id, run)
                self._dirty.set()
                raise
            self._log.append(snaps)
