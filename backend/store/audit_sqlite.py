"""The audit trail on disk: `<data dir>/audit.sqlite3`, kept across restarts.

`AuditStore.record` never blocks: it queues the entry; a writer thread writes what is queued in
one transaction. Queries run on that same thread, after everything queued before them, so a reader
always sees the records of the calls that came before its own."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.domain.audit import AuditEntry
from backend.store.files import private_dir, private_file

log = logging.getLogger(__name__)

FILE_NAME = "audit.sqlite3"
MAX_BATCH = 1000

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
    """An AuditSink on SQLite (`data_dir` None: an in-memory database, same code path)."""

    def __init__(self, data_dir: str | None) -> None:
        path = ":memory:"
        if data_dir:
            private_dir(data_dir)
            path = os.path.join(data_dir, FILE_NAME)
            private_file(path)  # who did what, and their comments: not for every local account
        self.path = path
        self._queue: queue.SimpleQueue[AuditEntry | _Call | None] = queue.SimpleQueue()
        self._conn: sqlite3.Connection | None = None
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

    async def close(self) -> None:
        """Write what is queued, then close the file."""
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
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
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
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.executemany(
                    "INSERT INTO audit (time, user, console, action, target, reason, result, detail, search)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error:
            log.exception("writing %d audit records failed: they are lost", len(batch))

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
            where.append("user = ?")
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
        cond = " AND ".join(where) or "1"
        total = self._conn.execute(f"SELECT COUNT(*) FROM audit WHERE {cond}", args).fetchone()[0]
        if q.before_id is not None:
            cond += " AND id < ?"
            args.append(q.before_id)
        rows = self._conn.execute(
            "SELECT id, time, user, console, action, target, reason, result, detail FROM audit"
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
