"""modes.sqlite3: mode runs with their per-device records (the states recorded before a mode
touched each device), the WatchModes change log, access exceptions and the access decisions.

Everything is written on one writer thread, in one transaction per batch, with
`synchronous=FULL`: a run's recorded states are on disk before its first command leaves, and a
change is on disk before any stream sends it, so an active mode survives a restart or a kill -9
and "Return to normal" still restores exactly. Files are 0600 in a 0700 directory
(backend/store/files.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any

from vigie.backend.store.files import private_dir, private_file

log = logging.getLogger(__name__)

FILE_NAME = "modes.sqlite3"
LOG_KEEP = 20_000  # WatchModes changes kept for clients to resume from
ACCESS_KEEP = 200_000  # access decisions kept in the journal

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, activated_at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_time ON runs (activated_at DESC);
CREATE TABLE IF NOT EXISTS devices (
    run_id TEXT NOT NULL, step TEXT NOT NULL, asset_id TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_id, step, asset_id)
);
CREATE TABLE IF NOT EXISTS mode_log (sequence INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exceptions (exception_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_events (
    sequence INTEGER PRIMARY KEY, asset_id TEXT NOT NULL, person_id TEXT NOT NULL,
    granted INTEGER NOT NULL, data TEXT NOT NULL
);
"""


def _dump(d: dict) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class Loaded:
    epoch: str
    sequence: int
    runs: list[dict]
    devices: dict[str, list[dict]]  # of the open runs
    log: list[dict]
    exceptions: list[dict]
    access_epoch: str
    access_sequence: int
    access_tail: list[dict] = field(default_factory=list)


class ModesDB:
    """The SQLite file; every call comes from the one writer thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)

    def load(self, open_run_ids: set[str] | None = None) -> Loaded:
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        epoch = meta.get("epoch") or uuid.uuid4().hex[:12]
        access_epoch = meta.get("access_epoch") or uuid.uuid4().hex[:12]
        self._put_meta({"epoch": epoch, "access_epoch": access_epoch})
        runs = [json.loads(r[0]) for r in self.conn.execute("SELECT data FROM runs ORDER BY activated_at")]
        devices: dict[str, list[dict]] = {}
        for run in runs:
            if run["state"] in (1, 2, 3, 4):  # not returned: its records are needed
                devices[run["run_id"]] = self.run_devices(run["run_id"])
        log = [
            json.loads(r[0])
            for r in self.conn.execute(
                "SELECT data FROM mode_log ORDER BY sequence DESC LIMIT ?", (LOG_KEEP,)
            ).fetchall()
        ][::-1]
        exceptions = [json.loads(r[0]) for r in self.conn.execute("SELECT data FROM exceptions")]
        tail = [
            json.loads(r[0])
            for r in self.conn.execute(
                "SELECT data FROM access_events ORDER BY sequence DESC LIMIT 2000"
            ).fetchall()
        ][::-1]
        return Loaded(
            epoch,
            int(meta.get("sequence", "0")),
            runs,
            devices,
            log,
            exceptions,
            access_epoch,
            int(meta.get("access_sequence", "0")),
            tail,
        )

    def _put_meta(self, values: dict[str, str]) -> None:
        self.conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def write(self, runs: list, devices: list[tuple[str, Any]], log: list) -> None:
        """One transaction: runs, device records and log entries (objects with `to_json()`,
        serialised here, off the loop), and the sequence."""
        c = self.conn
        run_rows = [(r.run_id, r.activated_at, _dump(r.to_json())) for r in runs]
        device_rows = [(run_id, d.step, d.asset_id, _dump(d.to_json())) for run_id, d in devices]
        log_rows = [(e.sequence, _dump(e.to_json())) for e in log]
        c.execute("BEGIN")
        try:
            c.executemany(
                "INSERT OR REPLACE INTO runs (run_id, activated_at, data) VALUES (?, ?, ?)", run_rows
            )
            c.executemany(
                "INSERT OR REPLACE INTO devices (run_id, step, asset_id, data) VALUES (?, ?, ?, ?)",
                device_rows,
            )
            c.executemany("INSERT OR REPLACE INTO mode_log (sequence, data) VALUES (?, ?)", log_rows)
            if log:
                last = log[-1].sequence
                self._put_meta({"sequence": str(last)})
                if last % 1000 < len(log):
                    c.execute("DELETE FROM mode_log WHERE sequence <= ?", (last - LOG_KEEP,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def run_devices(self, run_id: str) -> list[dict]:
        return [
            json.loads(r[0])
            for r in self.conn.execute("SELECT data FROM devices WHERE run_id = ? ORDER BY rowid", (run_id,))
        ]

    def list_runs(self, before: float | None, limit: int) -> list[dict]:
        rows = self.conn.execute(
            "SELECT data FROM runs WHERE activated_at < ? ORDER BY activated_at DESC LIMIT ?",
            (1e18 if before is None else before, limit),
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def put_exception(self, d: dict | None, remove: str = "") -> None:
        if remove:
            self.conn.execute("DELETE FROM exceptions WHERE exception_id = ?", (remove,))
        if d is not None:
            self.conn.execute(
                "INSERT OR REPLACE INTO exceptions (exception_id, data) VALUES (?, ?)",
                (d["exception_id"], _dump(d)),
            )

    def add_access(self, events: list[dict]) -> None:
        c = self.conn
        c.execute("BEGIN")
        try:
            c.executemany(
                "INSERT OR REPLACE INTO access_events (sequence, asset_id, person_id, granted, data)"
                " VALUES (?, ?, ?, ?, ?)",
                [(e["sequence"], e["asset_id"], e["person_id"], int(e["granted"]), _dump(e)) for e in events],
            )
            last = events[-1]["sequence"]
            self._put_meta({"access_sequence": str(last)})
            if last % 1000 < len(events):
                c.execute("DELETE FROM access_events WHERE sequence <= ?", (last - ACCESS_KEEP,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def query_access(
        self, asset_id: str, person_id: str, only_refused: bool, before: int | None, limit: int
    ) -> list[dict]:
        sql = "SELECT data FROM access_events WHERE sequence < ?"
        args: list = [before if before is not None else 2**62]
        if asset_id:
            sql += " AND asset_id = ?"
            args.append(asset_id)
        if person_id:
            sql += " AND person_id = ?"
            args.append(person_id)
        if only_refused:
            sql += " AND granted = 0"
        sql += " ORDER BY sequence DESC LIMIT ?"
        args.append(limit)
        return [json.loads(r[0]) for r in self.conn.execute(sql, args).fetchall()]

    def close(self) -> None:
        self.conn.close()


class ModesStore:
    """The database behind one writer thread; `data_dir` None keeps it in memory."""

    def __init__(self, data_dir: str | None) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="modes-db")
        path = ":memory:"
        if data_dir:
            private_dir(data_dir)
            path = os.path.join(data_dir, FILE_NAME)
            private_file(path)  # before SQLite opens it: its -wal and -shm copy the mode
        self.path = path
        self.db: ModesDB = self._pool.submit(ModesDB, path).result()
        self._closed = False

    def load(self) -> Loaded:
        """At startup, before the loop serves anything (blocking is fine then)."""
        return self._pool.submit(self.db.load).result()

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def write(self, runs: list, devices: list[tuple[str, Any]], log: list) -> None:
        await self._call(self.db.write, runs, devices, log)

    async def run_devices(self, run_id: str) -> list[dict]:
        return await self._call(self.db.run_devices, run_id)

    async def list_runs(self, before: float | None, limit: int) -> list[dict]:
        return await self._call(self.db.list_runs, before, limit)

    async def put_exception(self, d: dict | None, remove: str = "") -> None:
        await self._call(self.db.put_exception, d, remove)

    async def add_access(self, events: list[dict]) -> None:
        await self._call(self.db.add_access, events)

    async def query_access(
        self, asset_id: str, person_id: str, only_refused: bool, before: int | None, limit: int
    ) -> list[dict]:
        return await self._call(self.db.query_access, asset_id, person_id, only_refused, before, limit)

    def soon(self, what: str, fn, *args) -> None:
        """Write without waiting, in order with every other call (one writer thread): a
        replica's journal of what the bus streamed (backend/bus/modes.py). A failure is logged."""
        if self._closed:
            return

        def done(f: concurrent.futures.Future) -> None:
            exc = f.exception()
            if exc is not None:
                log.error("modes.sqlite3: %s not written: %r", what, exc)

        self._pool.submit(fn, *args).add_done_callback(done)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._call(self.db.close)
        self._pool.shutdown(wait=True)
