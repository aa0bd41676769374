"""Incidents and units on disk: `<data dir>/incidents.sqlite3`, or the PostgreSQL database given
with `--db` (backend/store/sql.py), so a restart keeps every incident, its timeline, every unit's
status and the idempotency keys.

Tables: `incidents` (every incident's current state: the journal ListIncidents reads), `units`,
`incident_log` and `unit_log` (the last `history` changes of each, so clients resume across a
restart), `idempotency` (the answers of CreateIncident and Assign by user and key, a day long) and
`meta` (epoch, sequences, next id, a `clean` flag). As for the alarms (backend/store/alarms_sqlite.py):
the epoch survives a clean shutdown; after a crash (the flag still 0) the last ~100 ms may be
missing, so the backend takes a new epoch and clients resync. Files are 0600 in a 0700 directory
(backend/store/files.py); a second backend on the same directory keeps its incidents in memory,
and so does a second backend on the same PostgreSQL database (an advisory lock stands for the
lock file there, released when its holder's connection ends, a killed backend's included).

Writes never run on the asyncio loop: changes are queued and written every FLUSH_S in one
transaction on a dedicated thread, which also answers the queries (after a flush). While writes
fail the changes wait (the latest state of each incident and unit at most, past MAX_PENDING).

`IncidentStore` is the interface the services use, so another store can replace this one. Like
backend/store/alarms_sqlite.py, the schema, its JSON, the writer and the queries stay in one file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.incidents import (
    RECENT_S,
    Entry,
    EntryKind,
    Incident,
    IncidentStatus,
    Step,
    UnitRoute,
)
from vigie.backend.domain.units import Capability, Unit, UnitStatus
from vigie.backend.store import journal_query
from vigie.backend.store.files import claim_db
from vigie.backend.store.sharing import ValuePool
from vigie.backend.store.sql import Database, PostgresConn, SqlConn, SqliteConn

log = logging.getLogger(__name__)

FILE_NAME = "incidents.sqlite3"
FLUSH_S = 0.1
MAX_PENDING = 50_000
KEY_TTL_S = 24 * 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
    num INTEGER PRIMARY KEY,          -- the number in the id "inc-000123"
    id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    closed_at REAL NOT NULL,
    status INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    type TEXT NOT NULL,
    district TEXT NOT NULL,
    units TEXT NOT NULL,              -- ",unit,unit," every unit ever assigned
    search TEXT NOT NULL,             -- lower-cased description, street, type and notes
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_created ON incidents (created_at DESC, num DESC);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status);
CREATE TABLE IF NOT EXISTS incident_log (sequence INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS unit_log (sequence INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    user TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL, result TEXT NOT NULL, time REAL NOT NULL,
    PRIMARY KEY (user, kind, key)
);
"""
SCHEMA_POSTGRES = """
CREATE TABLE IF NOT EXISTS incident_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
    num BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL,
    closed_at DOUBLE PRECISION NOT NULL,
    status INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    type TEXT NOT NULL,
    district TEXT NOT NULL,
    units TEXT NOT NULL,
    search TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_created ON incidents (created_at DESC, num DESC);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status);
CREATE TABLE IF NOT EXISTS incident_log (sequence BIGINT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS unit_log (sequence BIGINT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    "user" TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL, result TEXT NOT NULL, time DOUBLE PRECISION NOT NULL,
    PRIMARY KEY ("user", kind, key)
);
"""
# An advisory lock key for "this database's incidents have a writer" (any fixed 64-bit number).
PG_LOCK_KEY = 0x76696769_65696E63  # "vigieinc"
PG_LOCK_WAIT_S = 10.0  # a killed holder's connection takes a moment to end on the server


# --- JSON ------------------------------------------------------------------------------------------


def incident_to_json(i: Incident) -> str:
    d = dataclasses.asdict(i)
    d["status"] = int(i.status)
    d["timeline"] = [[e.time, e.user, int(e.kind), e.text, e.unit_id, e.unit_status] for e in i.timeline]
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def incident_from_json(text: str, pool: ValuePool | None = None) -> Incident:
    """One incident; with a `pool`, its strings, steps, entries and routes are shared with the
    versions decoded before (a reloaded log holds one version per change)."""
    d = json.loads(text)
    d["status"] = IncidentStatus(d["status"])
    d["steps"] = tuple(Step(**s) for s in d["steps"])
    d["timeline"] = tuple(Entry(t, u, EntryKind(k), x, uid, us) for t, u, k, x, uid, us in d["timeline"])
    for k in ("alarm_ids", "asset_ids", "camera_ids", "unit_ids", "units_ever"):
        d[k] = tuple(d[k])
    if pool is not None:
        pool.fields(d)
        d["steps"] = tuple(pool.share(s) for s in d["steps"])
        d["timeline"] = tuple(pool.share(e) for e in d["timeline"])
        for k in ("alarm_ids", "asset_ids", "camera_ids", "unit_ids", "units_ever"):
            d[k] = pool.share(tuple(pool.share(x) for x in d[k]))
    d["routes"] = tuple(  # absent in rows written before routes were kept
        UnitRoute(
            r["unit_id"],
            r["callsign"],
            tuple((lat, lon) for lat, lon in r["points"]),
            r["distance_m"],
            r["eta_at"],
        )
        for r in d.get("routes", ())
    )
    if pool is not None:
        d["routes"] = tuple(pool.share(r) for r in d["routes"])
    return Incident(**d)


def unit_to_json(u: Unit) -> str:
    d = dataclasses.asdict(u)
    d["status"] = int(u.status)
    d["capabilities"] = [int(c) for c in u.capabilities]
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def unit_from_json(text: str, pool: ValuePool | None = None) -> Unit:
    d = json.loads(text)
    if pool is not None:
        pool.fields(d)
    d["status"] = UnitStatus(d["status"])
    d["capabilities"] = tuple(Capability(c) for c in d["capabilities"])
    return Unit(**d)


def _search_text(i: Incident) -> str:
    notes = " ".join(e.text for e in i.timeline if e.kind is EntryKind.NOTE)
    return f"{i.description}\n{i.street}\n{i.type}\n{notes}".lower()


# --- queries and loading ---------------------------------------------------------------------------


@dataclass(slots=True)
class IncidentQuery:
    """ListIncidents filters (empty = any); `after` is the keyset cursor (created_at, num)."""

    statuses: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)
    unit_id: str = ""
    start: float | None = None
    end: float | None = None
    text: str = ""
    after: tuple[float, int] | None = None
    limit: int = 100


@dataclass(slots=True)
class Loaded:
    epoch: str
    incident_seq: int
    unit_seq: int
    next_id: int
    live: list[Incident]
    incident_log: list[Incident]
    units: list[Unit]
    unit_log: list[Unit]
    keys: dict[
        tuple[str, str, str], tuple[str, str, float]
    ]  # (user, kind, key) -> (fingerprint, result, time)


class IncidentStore(Protocol):
    """What the dispatch services need from a store (this module's SQLite one, or another)."""

    path: str

    def load(self, history: int, now: float) -> Loaded: ...

    def queue_incidents(self, changes: list[Incident]) -> None: ...

    def queue_units(self, changes: list[Unit]) -> None: ...

    def queue_key(
        self, user: str, kind: str, key: str, fingerprint: str, result: str, now: float
    ) -> None: ...

    def set_meta(self, epoch: str, next_id: int) -> None: ...

    def start(self) -> None: ...

    async def flush(self) -> None: ...

    async def query(self, q: IncidentQuery) -> tuple[list[Incident], int]: ...

    async def get(self, incident_id: str) -> Incident | None: ...

    async def close(self) -> None: ...


class _DB:
    """The tables. Not thread-safe: every call comes from the one writer thread."""

    def __init__(self, conn: SqlConn) -> None:
        self.path = conn.where
        self.conn = conn
        postgres = conn.dialect == "postgresql"
        self.meta = "incident_meta" if postgres else "meta"  # one PostgreSQL database holds every store
        conn.script(SCHEMA_POSTGRES if postgres else SCHEMA)
        self.lock_key: int | None = None  # PostgreSQL: the advisory lock held (released at close)

    def _meta(self) -> dict[str, str]:
        return dict(self.conn.execute(f"SELECT key, value FROM {self.meta}").fetchall())

    def _put_meta(self, values: dict[str, str]) -> None:
        self.conn.executemany(
            f"INSERT INTO {self.meta} (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def load(self, history: int, now: float) -> Loaded:
        meta = self._meta()
        inc_seq = int(meta.get("incident_seq", "0"))
        unit_seq = int(meta.get("unit_seq", "0"))
        next_id = int(meta.get("next_id", "1"))
        epoch = meta.get("epoch", "")
        crashed = meta.get("clean") == "0"
        if not epoch or crashed:
            if crashed:
                log.warning("incident store %s was not closed cleanly: new epoch, clients resync", self.path)
            epoch = uuid.uuid4().hex[:12]
        c = self.conn
        live = [
            incident_from_json(r[0])
            for r in c.execute(
                "SELECT data FROM incidents WHERE status != ? OR closed_at >= ? ORDER BY num",
                (int(IncidentStatus.CLOSED), now - RECENT_S),
            )
        ]
        units = [unit_from_json(r[0]) for r in c.execute("SELECT data FROM units")]
        inc_log: list[Incident] = []
        unit_log: list[Unit] = []
        if not crashed:
            pool = ValuePool()  # one change's version shares what the others have (backend/store/sharing.py)
            inc_log = [
                incident_from_json(r[0], pool)
                for r in c.execute(
                    "SELECT data FROM incident_log WHERE sequence > ? ORDER BY sequence", (inc_seq - history,)
                )
            ]
            unit_log = [
                unit_from_json(r[0], pool)
                for r in c.execute(
                    "SELECT data FROM unit_log WHERE sequence > ? ORDER BY sequence", (unit_seq - history,)
                )
            ]
        c.execute("DELETE FROM idempotency WHERE time < ?", (now - KEY_TTL_S,))
        keys = {
            (u, k, key): (f, r, t)
            for u, key, k, f, r, t in c.execute(
                'SELECT "user", key, kind, fingerprint, result, time FROM idempotency'
            )
        }
        self._put_meta({"epoch": epoch, "clean": "0"})
        return Loaded(epoch, inc_seq, unit_seq, next_id, live, inc_log, units, unit_log, keys)

    def write(self, batch: _Batch, epoch: str, next_id: int, history: int) -> None:
        c = self.conn
        with c.transaction():
            latest: dict[str, Incident] = {}
            for i in batch.incidents:
                latest[i.id] = i
            c.executemany(
                "INSERT INTO incidents (num, id, created_at, closed_at, status, priority, type,"
                " district, units, search, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(num) DO UPDATE SET id = excluded.id, created_at = excluded.created_at,"
                " closed_at = excluded.closed_at, status = excluded.status, priority = excluded.priority,"
                " type = excluded.type, district = excluded.district, units = excluded.units,"
                " search = excluded.search, data = excluded.data",
                [
                    (
                        int(i.id.rsplit("-", 1)[1]),
                        i.id,
                        i.created_at,
                        i.closed_at,
                        int(i.status),
                        i.priority,
                        i.type,
                        i.district,
                        "," + ",".join(i.units_ever) + ",",
                        _search_text(i),
                        incident_to_json(i),
                    )
                    for i in latest.values()
                ],
            )
            c.executemany(
                "INSERT INTO incident_log (sequence, data) VALUES (?, ?)"
                " ON CONFLICT(sequence) DO UPDATE SET data = excluded.data",
                [(i.sequence, incident_to_json(i)) for i in batch.incidents],
            )
            units: dict[str, Unit] = {}
            for u in batch.units:
                units[u.id] = u
            c.executemany(
                "INSERT INTO units (id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                [(u.id, unit_to_json(u)) for u in units.values()],
            )
            c.executemany(
                "INSERT INTO unit_log (sequence, data) VALUES (?, ?)"
                " ON CONFLICT(sequence) DO UPDATE SET data = excluded.data",
                [(u.sequence, unit_to_json(u)) for u in batch.units],
            )
            c.executemany(
                'INSERT INTO idempotency ("user", key, kind, fingerprint, result, time)'
                ' VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT("user", kind, key) DO UPDATE SET'
                " fingerprint = excluded.fingerprint, result = excluded.result, time = excluded.time",
                batch.keys,
            )
            meta = {"epoch": epoch, "next_id": str(next_id)}
            if batch.incidents:
                last = batch.incidents[-1].sequence
                c.execute("DELETE FROM incident_log WHERE sequence <= ?", (last - history,))
                meta["incident_seq"] = str(last)
            if batch.units:
                last = batch.units[-1].sequence
                c.execute("DELETE FROM unit_log WHERE sequence <= ?", (last - history,))
                meta["unit_seq"] = str(last)
            self._put_meta(meta)

    def query(self, q: IncidentQuery) -> tuple[list[Incident], int]:
        columns = [
            ("status", q.statuses),
            ("type", q.types),
            ("priority", q.priorities),
            ("district", q.districts),
        ]
        cond, args = journal_query.where("created_at", q.start, q.end, columns, q.text)
        if q.unit_id:  # any unit ever assigned ("units" is ",u1,u2,")
            cond += " AND instr(units, ?) > 0"
            args.append(f",{q.unit_id},")
        rows, total = journal_query.page(self.conn, "incidents", "created_at", cond, args, q.after, q.limit)
        return [incident_from_json(r) for r in rows], total

    def get(self, incident_id: str) -> Incident | None:
        row = self.conn.execute("SELECT data FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return None if row is None else incident_from_json(row[0])

    def close(self, clean: bool) -> None:
        if clean:
            self._put_meta({"clean": "1"})
        if self.lock_key is not None and isinstance(self.conn, PostgresConn):
            self.conn.unlock(self.lock_key)
        self.conn.close()


@dataclass(slots=True)
class _Batch:
    incidents: list[Incident] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    keys: list[tuple[str, str, str, str, str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.incidents) + len(self.units) + len(self.keys)


class SqliteIncidentStore:
    """The `IncidentStore` on SQLite or PostgreSQL: batches changes to one writer thread every
    FLUSH_S."""

    def __init__(self, data_dir: str | None | Database) -> None:
        """Opens `<data_dir>/incidents.sqlite3`, or the PostgreSQL database of a Database with a
        URL (None, or a directory or database another backend holds: in memory only)."""
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="incident-db")
        self._lock_fd: int | None = None
        where = data_dir if isinstance(data_dir, Database) else Database(data_dir)
        self.db: _DB = self._pool.submit(self._open, where).result()
        self.path = self.db.path
        self._pending = _Batch()
        self._epoch = ""
        self._next_id = 1
        self.history = 20_000
        self.failing: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._flushing: asyncio.Lock | None = None

    def _open(self, where: Database) -> _DB:
        """The tables, on the writer thread (a connection stays on the thread that made it)."""
        if where.postgres:
            conn = where.connect(FILE_NAME, "vigie-backend incidents")
            assert isinstance(conn, PostgresConn)
            if conn.try_lock(PG_LOCK_KEY, wait_s=PG_LOCK_WAIT_S):
                db = _DB(conn)
                db.lock_key = PG_LOCK_KEY
                return db
            conn.close()
            log.warning("%s is used by another backend: incidents are kept in memory only", where.describe())
            return _DB(SqliteConn(":memory:"))
        path, self._lock_fd = claim_db(where.data_dir, FILE_NAME, "incidents")
        return _DB(SqliteConn(path, synchronous="NORMAL"))

    def load(self, history: int, now: float) -> Loaded:
        self.history = history
        loaded = self._pool.submit(self.db.load, history, now).result()
        self._epoch, self._next_id = loaded.epoch, loaded.next_id
        return loaded

    def set_meta(self, epoch: str, next_id: int) -> None:
        self._epoch, self._next_id = epoch, next_id

    def queue_incidents(self, changes: list[Incident]) -> None:
        self._pending.incidents.extend(changes)
        if changes:
            self._next_id = max(self._next_id, int(changes[-1].id.rsplit("-", 1)[1]) + 1)
        self._bound()

    def queue_units(self, changes: list[Unit]) -> None:
        self._pending.units.extend(changes)
        self._bound()

    def queue_key(self, user: str, kind: str, key: str, fingerprint: str, result: str, now: float) -> None:
        self._pending.keys.append((user, key, kind, fingerprint, result, now))

    def _bound(self) -> None:
        """While writes fail, keep only the latest state of each incident and unit (the
        tables stay right; the resume log loses steps, so clients resync after a restart)."""
        p = self._pending
        if self.failing is None or len(p) <= MAX_PENDING:
            return
        inc: dict[str, Incident] = {}
        for i in p.incidents:
            inc.pop(i.id, None)
            inc[i.id] = i
        units: dict[str, Unit] = {}
        for u in p.units:
            units.pop(u.id, None)
            units[u.id] = u
        p.incidents[:] = list(inc.values())
        p.units[:] = list(units.values())
        log.error("incident writes are failing: kept the latest state of %d incidents", len(inc))

    def start(self) -> None:
        self._flushing = asyncio.Lock()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="incident-store")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            with contextlib.suppress(Exception):  # logged by flush
                await self.flush()

    async def flush(self) -> None:
        """Write everything queued so far; raises what failed (the batch waits for the next try)."""
        if self._flushing is None:
            return
        loop = asyncio.get_running_loop()
        async with self._flushing:
            if not len(self._pending):
                return
            batch, self._pending = self._pending, _Batch()
            try:
                await loop.run_in_executor(
                    self._pool, self.db.write, batch, self._epoch, self._next_id, self.history
                )
            except BaseException as exc:
                self._pending.incidents[:0] = batch.incidents
                self._pending.units[:0] = batch.units
                self._pending.keys[:0] = batch.keys
                if isinstance(exc, Exception) and self.failing is None:
                    self.failing = f"{type(exc).__name__}: {exc}"
                    log.error("writing incidents to %s failed (%s): changes wait in memory", self.path, exc)
                raise
            if self.failing is not None:
                log.warning("incident writes work again")
                self.failing = None

    async def _read_flush(self) -> None:
        try:
            await self.flush()
        except Exception as exc:
            log.debug("incident read without the latest changes: %s", exc)

    async def query(self, q: IncidentQuery) -> tuple[list[Incident], int]:
        await self._read_flush()
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.db.query, q)

    async def get(self, incident_id: str) -> Incident | None:
        await self._read_flush()
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.db.get, incident_id)

    async def close(self) -> None:
        """Flush, mark the file cleanly closed (the epoch survives), release it."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        clean = True
        try:
            await self.flush()
        except Exception:
            log.exception("final incident flush failed: the last changes are lost")
            clean = False
        await asyncio.get_running_loop().run_in_executor(self._pool, self.db.close, clean)
        self._pool.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
