"""The audit trail on disk: `<data dir>/audit.sqlite3`, or the `audit` table of the PostgreSQL
database given with `--db` (backend/store/sql.py), kept across restarts.

`AuditStore.record` never blocks: it queues the entry; a writer thread writes what is queued in
one transaction. Queries run on that same thread, after everything queued before them, so a reader
always sees the records of the calls that came before its own.

Retention: `prune` (run periodically by `AuditStore.start`, on the writer thread) deletes records
older than `retention_days`, then the oldest records while the file holds more than `max_bytes`
of records (down to 90 % of it, so pruning is not needed again at once). Freed pages are reused by
new records, so the file stays near `max_bytes`; the WAL is checkpointed and truncated after."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.audit import AuditEntry
from vigie.backend.store.sql import Database, SqlConn

log = logging.getLogger(__name__)

FILE_NAME = "audit.sqlite3"
MAX_BATCH = 1000
PRUNE_EVERY_S = 300.0
DAY_S = 86_400.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    user TEXT NOT NULL,
    console TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    search TEXT NOT NULL              -- lower-cased reason, detail and target
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
CREATE INDEX IF NOT EXISTS audit_user ON audit (user, id);
"""
SCHEMA_POSTGRES = """
CREATE TABLE IF NOT EXISTS audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time DOUBLE PRECISION NOT NULL,
    "user" TEXT NOT NULL,
    console TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    search TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
CREATE INDEX IF NOT EXISTS audit_user ON audit ("user", id);
"""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    entry: AuditEntry


@dataclass(slots=True)
class AuditQuery:
    """ListAudit filters (empty: any); `before_id` is the keyset cursor (newest first)."""

    start: float | None = None
    end: float | None = None
    user: str = ""
    action_prefix: str = ""
    target: str = ""
    result: str = ""
    text: str = ""
    before_id: int | None = None
    limit: int = 200


def encode_page_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{last_id}".encode()).decode()


def decode_page_token(token: str) -> int | None:
    try:
        prefix, num = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        value = int(num)
    except (ValueError, UnicodeError):
        return None
    return value if prefix == "audit" and value > 0 else None


class _Call:
    """A function to run on the writer thread, in queue order."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.future: concurrent.futures.Future = concurrent.futures.Future()


class AuditStore:
    """An AuditSink on SQLite (`data_dir` None: an in-memory database, same code path) or on
    PostgreSQL (`data_dir` a Database with a URL)."""

    def __init__(
        self,
        data_dir: str | None | Database,
        retention_days: float | None = None,
        max_bytes: int | None = None,
        prune_every_s: float = PRUNE_EVERY_S,
    ) -> None:
        """`retention_days` / `max_bytes` None: no limit of that kind."""
        self.retention_days = retention_days
        self.max_bytes = max_bytes
        self.prune_every_s = prune_every_s
        self._pruner: asyncio.Task | None = None
        self.lost = 0  # records that could not be written (a full disk, an I/O error)
        self._lost_logged = -1e9
        # Who did what, and their comments: an owner-only file (Database.connect), or the server.
        self._db = data_dir if isinstance(data_dir, Database) else Database(data_dir)
        self.path = self._db.describe() if self._db.postgres else ":memory:"
        if not self._db.postgres and self._db.data_dir:
            self.path = os.path.join(self._db.data_dir, FILE_NAME)
        self._queue: queue.SimpleQueue[AuditEntry | _Call | None] = queue.SimpleQueue()
        self._conn: SqlConn | None = None
        self._closed = False
        opened: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(opened,), name="audit-db", daemon=True)
        self._thread.start()
        opened.result()  # raises here if the file cannot be opened

    # --- AuditSink ------------------------------------------------------------------------------

    def record(self, entry: AuditEntry) -> None:
        """Queue one record (any thread; never blocks)."""
        self._queue.put(entry)

    # --- reading --------------------------------------------------------------------------------

    async def _on_writer(self, fn: Callable[[], Any]) -> Any:
        if self._closed:
            raise RuntimeError("the audit store is closed")
        call = _Call(fn)
        self._queue.put(call)
        return await asyncio.wrap_future(call.future)

    async def flush(self) -> None:
        await self._on_writer(lambda: None)

    async def query(self, q: AuditQuery) -> tuple[list[AuditRecord], int]:
        """Matching records newest first, and how many match in all."""
        return await self._on_writer(lambda: self._query(q))

    async def prune(self) -> int:
        """Apply the retention limits now; returns how many records were deleted."""
        return await self._on_writer(self._prune)

    async def start(self) -> None:
        """Prune now (before the backend serves), then every `prune_every_s` (when a limit is set)."""
        if self.retention_days is not None or self.max_bytes is not None:
            await self.prune()
            self._pruner = asyncio.get_running_loop().create_task(self._prune_loop(), name="audit-prune")

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.prune_every_s)
            try:
                await self.prune()
            except Exception:  # one failed pass must not end retention
                log.exception("pruning the audit trail failed")

    async def close(self) -> None:
        """Write what is queued, then close the file."""
        pruner, self._pruner = self._pruner, None
        if pruner is not None:
            await cancel_and_wait(pruner)
        await asyncio.get_running_loop().run_in_executor(None, self.close_blocking)

    def close_blocking(self) -> None:
        """`close` for code without an event loop (vigie-backend --add-user)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    # --- the writer thread ----------------------------------------------------------------------

    def _run(self, opened: concurrent.futures.Future) -> None:
        try:
            conn = self._db.connect(FILE_NAME, "vigie-backend audit")
            conn.script(SCHEMA_POSTGRES if conn.dialect == "postgresql" else SCHEMA)
        except Exception as exc:
            opened.set_exception(exc)
            return
        self._conn = conn
        opened.set_result(None)
        stop = False
        while not stop:
            batch: list[AuditEntry] = []
            calls: list[_Call] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stop = True
                elif isinstance(item, _Call):
                    calls.append(item)
                    break  # write the entries before it, then run it
                else:
                    batch.append(item)
                if stop or len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._write(batch)
            for call in calls:
                try:
                    call.future.set_result(call.fn())
                except Exception as exc:
                    call.future.set_exception(exc)
        conn.close()

    def _write(self, batch: list[AuditEntry]) -> None:
        if not batch:
            return
        assert self._conn is not None
        rows = [
            (
                e.time,
                e.user,
                e.console,
                e.action,
                e.target,
                e.reason,
                e.result,
                e.detail,
                f"{e.reason}\n{e.detail}\n{e.target}".lower(),
            )
            for e in batch
        ]
        try:
            with self._conn.transaction():
                self._conn.executemany(
                    'INSERT INTO audit (time, "user", console, action, target, reason, result, detail, search)'
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except Exception as exc:  # sqlite3.Error, psycopg.Error: a full disk, a lost server
            self.lost += len(batch)
            now = time.monotonic()
            if now - self._lost_logged >= 10.0:  # a full disk: one line per 10 s, not one per batch
                self._lost_logged = now
                log.error("writing audit records failed (%s): %d lost so far", exc, self.lost)

    def _used_bytes(self) -> int:
        assert self._conn is not None
        if self._conn.dialect == "postgresql":
            # The rows' own size: deleted rows leave the table's file only at VACUUM.
            return int(
                self._conn.execute("SELECT COALESCE(SUM(pg_column_size(a.*)), 0) FROM audit a").fetchone()[0]
            )
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def _prune(self) -> int:
        assert self._conn is not None
        c = self._conn
        deleted = 0
        if self.retention_days is not None:
            cur = c.execute("DELETE FROM audit WHERE time < ?", (time.time() - self.retention_days * DAY_S,))
            deleted += max(cur.rowcount, 0)
        if self.max_bytes is not None and (used := self._used_bytes()) > self.max_bytes:
            target = int(self.max_bytes * 0.9)
            for _ in range(20):  # each pass deletes the share of rows that should free enough
                rows = c.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
                if used <= target or rows == 0:
                    break
                n = int(rows * (used - target) / used) + 1
                cur = c.execute(
                    "DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id LIMIT ?)", (n,)
                )
                deleted += max(cur.rowcount, 0)
                used = self._used_bytes()
        if deleted:
            if c.dialect == "sqlite" and self.path != ":memory:":
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            log.info("audit retention: deleted %d old records", deleted)
        return deleted

    def _query(self, q: AuditQuery) -> tuple[list[AuditRecord], int]:
        assert self._conn is not None
        where: list[str] = []
        args: list[object] = []
        if q.start is not None:
            where.append("time >= ?")
            args.append(q.start)
        if q.end is not None:
            where.append("time < ?")
            args.append(q.end)
        if q.user:
            where.append('"user" = ?')
            args.append(q.user)
        if q.action_prefix:
            where.append("substr(action, 1, ?) = ?")
            args += [len(q.action_prefix), q.action_prefix]
        if q.target:
            where.append("instr(target, ?) > 0")
            args.append(q.target)
        if q.result:
            where.append("result = ?")
            args.append(q.result)
        if q.text:
            where.append("instr(search, ?) > 0")
            args.append(q.text.lower())
        cond = " AND ".join(where) or "TRUE"
        total = self._conn.execute(f"SELECT COUNT(*) FROM audit WHERE {cond}", args).fetchone()[0]
        if q.before_id is not None:
            cond += " AND id < ?"
            args.append(q.before_id)
        rows = self._conn.execute(
            'SELECT id, time, "user", console, action, target, reason, result, detail FROM audit'
            f" WHERE {cond} ORDER BY id DESC LIMIT ?",
            [*args, q.limit],
        ).fetchall()
        records = [
            AuditRecord(
                r[0],
                AuditEntry(
                    user=r[2],
                    console=r[3],
                    action=r[4],
                    target=r[5],
                    reason=r[6],
                    result=r[7],
                    detail=r[8],
                    time=r[1],
                ),
            )
            for r in rows
        ]
        return records, int(total)
