"""Alarms on disk: `<data dir>/alarms.sqlite3`, so a restart keeps every alarm, ack and shelf.

Tables: `alarms` (the current state of every alarm ever raised: the journal), `alarm_log` (the last
`history` changes, so clients resume across a restart), `meta` (epoch, sequence, next id, and a
`clean` flag). The epoch is kept after a clean shutdown; after a crash (the flag is still 0) the
last ~100 ms of changes may be missing, so the backend takes a new epoch and clients resync instead
of silently reusing sequence numbers.

Writes never run on the asyncio loop: `AlarmPersister` collects the engine's changes and writes
them every 100 ms in one transaction on a dedicated writer thread; journal queries run on that
same thread (after a flush, so they see everything the engine did).

When writes fail (a full disk, an I/O error) the changes wait in memory, retried with a growing
delay (up to RETRY_MAX_S), and the persister reports the trouble (`on_trouble`: a system alarm and
NOT_SERVING health, see backend/system_alarms.py). While they fail the queue is bounded by
`max_pending` (while writes work it is not: the writer catches up within a flush): past it,
only the latest change of each alarm is kept (the alarms table stays right, the resume log loses
steps, so clients resync after the next restart); if that is still too many, the changes of the
longest-unchanged alarms are dropped, counted in `dropped` and logged (memory: at most
`max_pending` queued changes plus the batch being written). Writes that succeed again
end the trouble.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.alarms import Alarm, AlarmEngine, AlarmState
from vigie.backend.domain.assets import Kind
from vigie.backend.store import journal_query
from vigie.backend.store.files import claim_db
from vigie.backend.store.sharing import ValuePool

log = logging.getLogger(__name__)

FILE_NAME = "alarms.sqlite3"
FLUSH_S = 0.1
MAX_PENDING = 50_000  # queued changes while writes fail (about 1 KiB each)
RETRY_MAX_S = 2.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    num INTEGER PRIMARY KEY,          -- the number in the id "alm-000123"
    id TEXT NOT NULL UNIQUE,
    raised_at REAL NOT NULL,
    asset_id TEXT NOT NULL,
    asset_kind TEXT NOT NULL,
    district TEXT NOT NULL,
    state INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    search TEXT NOT NULL,             -- lower-cased message, asset name and cause
    data TEXT NOT NULL                -- the whole alarm as JSON
);
CREATE INDEX IF NOT EXISTS alarms_raised ON alarms (raised_at DESC, num DESC);
CREATE INDEX IF NOT EXISTS alarms_state ON alarms (state);
CREATE TABLE IF NOT EXISTS alarm_log (sequence INTEGER PRIMARY KEY, data TEXT NOT NULL);
"""


def alarm_to_json(a: Alarm) -> str:
    d = dataclasses.asdict(a)
    d["asset_kind"] = a.asset_kind.value
    d["state"] = int(a.state)
    return json.dumps(d, separators=(",", ":"))


def alarm_from_json(text: str, pool: ValuePool | None = None) -> Alarm:
    """One alarm; with a `pool`, its strings and times are shared with the rows decoded before."""
    d = json.loads(text)
    d["asset_kind"] = Kind(d["asset_kind"])
    d["state"] = AlarmState(d["state"])
    d["camera_ids"] = tuple(d["camera_ids"])
    if pool is not None:
        pool.fields(d)
        d["camera_ids"] = pool.share(tuple(pool.share(c) for c in d["camera_ids"]))
    d["recent"] = tuple(d["recent"])
    return Alarm(**d)


@dataclass(slots=True)
class JournalQuery:
    """ListAlarms filters (empty = any); `after` is the keyset cursor (raised_at, num)."""

    start: float | None = None
    end: float | None = None
    kinds: list[str] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)
    asset_ids: list[str] = field(default_factory=list)
    states: list[int] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    text: str = ""
    after: tuple[float, int] | None = None
    limit: int = 200


@dataclass(slots=True)
class Loaded:
    epoch: str
    sequence: int
    next_id: int
    open_alarms: list[Alarm]
    log: list[Alarm]


class AlarmDB:
    """The SQLite file. Not thread-safe: every call must come from the one writer thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def load(self, history: int) -> Loaded:
        """The saved state; marks the file in use (clean=0) until `close(clean=True)`."""
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        sequence = int(meta.get("sequence", "0"))
        next_id = int(meta.get("next_id", "1"))
        epoch = meta.get("epoch", "")
        crashed = meta.get("clean") == "0"
        if not epoch or crashed:
            if crashed:
                log.warning("alarm store %s was not closed cleanly: new epoch, clients resync", self.path)
            epoch = uuid.uuid4().hex[:12]
        opened = [
            alarm_from_json(r[0])
            for r in self.conn.execute(
                "SELECT data FROM alarms WHERE state != ? ORDER BY num", (int(AlarmState.NORMAL),)
            )
        ]
        tail: list[Alarm] = []
        if not crashed:
            rows = self.conn.execute(
                "SELECT data FROM alarm_log WHERE sequence > ? ORDER BY sequence", (sequence - history,)
            ).fetchall()
            pool = ValuePool()  # the versions of one alarm share their strings (backend/store/sharing.py)
            tail = [alarm_from_json(r[0], pool) for r in rows]
        self._put_meta({"epoch": epoch, "sequence": str(sequence), "next_id": str(next_id), "clean": "0"})
        return Loaded(epoch, sequence, next_id, opened, tail)

    def _put_meta(self, values: dict[str, str]) -> None:
        self.conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def write(self, changes: list[Alarm], epoch: str, next_id: int, history: int) -> None:
        """One transaction: upsert the latest state of each alarm, append the log, move the meta."""
        if not changes:
            return
        latest: dict[str, Alarm] = {}
        for a in changes:
            latest[a.id] = a
        c = self.conn
        c.execute("BEGIN")
        try:
            c.executemany(
                "INSERT OR REPLACE INTO alarms (num, id, raised_at, asset_id, asset_kind, district, state,"
                " priority, search, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        int(a.id.rsplit("-", 1)[1]),
                        a.id,
                        a.raised_at,
                        a.asset_id,
                        a.asset_kind.value,
                        a.district,
                        int(a.state),
                        a.priority,
                        f"{a.message}\n{a.asset_name}\n{a.cause}".lower(),
                        alarm_to_json(a),
                    )
                    for a in latest.values()
                ],
            )
            c.executemany(
                "INSERT OR REPLACE INTO alarm_log (sequence, data) VALUES (?, ?)",
                [(a.sequence, alarm_to_json(a)) for a in changes],
            )
            last = changes[-1].sequence
            c.execute("DELETE FROM alarm_log WHERE sequence <= ?", (last - history,))
            self._put_meta({"epoch": epoch, "sequence": str(last), "next_id": str(next_id)})
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:  # SQLite has already rolled back after SQLITE_FULL or an I/O error
                c.execute("ROLLBACK")
            raise

    def query(self, q: JournalQuery) -> tuple[list[Alarm], int]:
        """Matching alarms newest first (raised_at, then id), and how many match in all."""
        cond, args = journal_query.where(
            "raised_at",
            q.start,
            q.end,
            [
                ("asset_kind", q.kinds),
                ("district", q.districts),
                ("asset_id", q.asset_ids),
                ("state", q.states),
                ("priority", q.priorities),
            ],
            q.text,
        )
        rows, total = journal_query.page(self.conn, "alarms", "raised_at", cond, args, q.after, q.limit)
        return [alarm_from_json(r) for r in rows], total

    def get_many(self, ids: list[str]) -> dict[str, Alarm]:
        if not ids:
            return {}
        rows = self.conn.execute(
            f"SELECT data FROM alarms WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        found = [alarm_from_json(r[0]) for r in rows]
        return {a.id: a for a in found}

    def close(self, clean: bool) -> None:
        if clean:
            self._put_meta({"clean": "1"})
        self.conn.close()


class AlarmPersister:
    """Batches engine changes to SQLite on one writer thread (every FLUSH_S, and on demand)."""

    def __init__(
        self,
        data_dir: str | None,
        history: int,
        max_pending: int = MAX_PENDING,
        on_trouble: Callable[[str | None], None] | None = None,
    ) -> None:
        """Opens `<data_dir>/alarms.sqlite3`. With no dir, or a dir another backend holds, the
        alarms live in memory only (logged) rather than two backends mixing sequences in one file.
        `on_trouble(problem)` is called on the loop when writes start failing (`problem` says why)
        and when they succeed again (None)."""
        self.history = history
        self.max_pending = max(1, max_pending)
        self.on_trouble = on_trouble
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="alarm-db")
        path, self._lock_fd = claim_db(data_dir, FILE_NAME, "alarms")
        self.path = path
        self.db: AlarmDB = self._pool.submit(AlarmDB, path).result()
        self._pending: list[Alarm] = []
        self.dropped = 0  # changes dropped from a full queue since the trouble began
        self.failing: str | None = None  # why writes fail, None while they succeed
        self._retry_s = 0.0
        self._retry_at = 0.0
        self._shrink_logged = -1e9
        self._engine: AlarmEngine | None = None
        self._task: asyncio.Task | None = None
        self._flushing: asyncio.Lock | None = None

    @property
    def pending(self) -> int:
        """Changes waiting to be written."""
        return len(self._pending)

    def open_engine(self) -> AlarmEngine:
        """An engine restored from the file, whose changes come back here."""
        loaded = self._pool.submit(self.db.load, self.history).result()
        engine = AlarmEngine(
            history=self.history,
            epoch=loaded.epoch,
            sequence=loaded.sequence,
            next_id=loaded.next_id,
            listener=self._queue,
        )
        engine.restore(loaded.open_alarms, loaded.log)
        self._engine = engine
        return engine

    def record(self, changes: list[Alarm]) -> None:
        """Write these states too (a cluster replica's journal is fed from the alarm stream)."""
        self._queue(changes)

    def _queue(self, changes: list[Alarm]) -> None:
        self._pending.extend(changes)
        if self.failing is not None and len(self._pending) > self.max_pending:
            self._shrink()  # bounded only while writes fail: otherwise the writer catches up

    def _shrink(self) -> None:
        """Keep the latest change of each alarm, then (if still too many) the most recent
        three quarters of the bound, so the next changes do not shrink again at once."""
        before = len(self._pending)
        latest: dict[str, Alarm] = {}
        for a in self._pending:
            latest.pop(a.id, None)  # re-inserted last: the dict stays in sequence order
            latest[a.id] = a
        kept = list(latest.values())
        room = max(1, self.max_pending * 3 // 4)
        if len(kept) > room:
            kept = kept[-room:]
        self._pending[:] = kept
        self.dropped += before - len(kept)
        now = time.monotonic()
        if now - self._shrink_logged >= 10.0:  # at most one line per 10 s, however fast alarms come
            self._shrink_logged = now
            log.error(
                "alarm writes are failing and the queue is full: kept the latest state of %d alarms"
                " (%d changes dropped so far)",
                len(kept),
                self.dropped,
            )

    def start(self) -> None:
        self._flushing = asyncio.Lock()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alarm-persister")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            with contextlib.suppress(Exception):  # reported by flush (log, on_trouble)
                await self.flush()

    async def flush(self, force: bool = False) -> None:
        """Write everything the engine did so far (journal reads call this first). While writes
        fail, tries again only after the retry delay (unless `force`) and raises what failed."""
        if self._flushing is None or self._engine is None:
            return
        loop = asyncio.get_running_loop()
        async with self._flushing:
            if not self._pending:
                return
            if self.failing is not None and not force and loop.time() < self._retry_at:
                raise OSError(f"alarm writes are failing: {self.failing}")
            batch, self._pending[:] = list(self._pending), []
            engine = self._engine
            try:
                await loop.run_in_executor(
                    self._pool, self.db.write, batch, engine.epoch, engine.next_id, self.history
                )
            except BaseException as exc:
                self._pending[:0] = batch  # keep order: retried by a later flush
                if isinstance(exc, Exception):
                    self._failed(exc, loop.time())
                    if len(self._pending) > self.max_pending:
                        self._shrink()
                raise
            if self.failing is not None:
                self._recovered()

    def _failed(self, exc: Exception, now: float) -> None:
        self._retry_s = min(RETRY_MAX_S, max(FLUSH_S, self._retry_s * 2))
        self._retry_at = now + self._retry_s
        if self.failing is None:
            self.failing = f"{type(exc).__name__}: {exc}"
            log.error("writing alarms to %s failed (%s): retrying, changes wait in memory", self.path, exc)
            if self.on_trouble is not None:
                self.on_trouble(
                    f"alarm changes cannot be saved to {self.path} ({self.failing}); they are kept in"
                    f" memory (at most {self.max_pending}) until writing works again"
                )

    def _recovered(self) -> None:
        log.warning("alarm writes work again (%d changes were dropped while they failed)", self.dropped)
        self.failing = None
        self._retry_s = 0.0
        self.dropped = 0
        if self.on_trouble is not None:
            self.on_trouble(None)

    async def query(self, q: JournalQuery) -> tuple[list[Alarm], int]:
        await self._flush_for_read()
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.db.query, q)

    async def get_many(self, ids: list[str]) -> dict[str, Alarm]:
        await self._flush_for_read()
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.db.get_many, ids)

    async def _flush_for_read(self) -> None:
        """Flush before a read; while writes fail the read still answers, from what is saved."""
        try:
            await self.flush()
        except Exception as exc:
            log.debug("journal read without the latest changes: %s", exc)

    async def close(self) -> None:
        """Flush, mark the file cleanly closed (the epoch survives), release it."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        clean = True
        try:
            await self.flush(force=True)
        except Exception:
            log.exception("final alarm flush failed: %d changes are lost", len(self._pending))
            clean = False
        await asyncio.get_running_loop().run_in_executor(self._pool, self.db.close, clean)
        self._pool.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
