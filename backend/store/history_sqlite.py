"""history.sqlite3: the city as it was, so the map can show any moment of the kept history.

Three tables: `snapshots` (every asset, zlib-compressed JSON, every few minutes), `states` (each
asset change after that, one compact JSON row; moving vehicles at most every few seconds) and
`alarms` (each alarm's last state with when it was raised and closed). The city at T is the
latest snapshot at or before T plus the changes between it and T; the alarms open at T are those
raised at or before T and not closed by then. Rows older than the retention are pruned.
Blocking: called on the history writer's thread and from worker pools, never on the loop.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib

from vigie.backend.domain.alarms import Alarm
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.store.alarms_sqlite import alarm_from_json, alarm_to_json
from vigie.backend.store.files import private_dir, private_file

FILE_NAME = "history.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (t REAL PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS states (t REAL NOT NULL, asset_id TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS states_time ON states (t);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY, raised_at REAL NOT NULL, closed_at REAL NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarms_raised ON alarms (raised_at);
"""


def asset_to_row(a: Asset) -> list:
    return [
        a.id,
        a.kind.value,
        a.name,
        a.district,
        round(a.lat, 6),
        round(a.lon, 6),
        a.status.value,
        a.status_reason,
        round(a.last_seen, 3),
        round(a.heading_deg, 1),
        a.attributes,
    ]


def asset_from_row(r: list) -> Asset:
    return Asset(r[0], Kind(r[1]), r[2], r[3], r[4], r[5], Status(r[6]), r[7], r[8], r[9], dict(r[10]))


def _dump(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class HistoryStore:
    def __init__(self, directory: str | None) -> None:
        if directory is None:
            self.path = ":memory:"
        else:
            private_dir(directory)
            self.path = os.path.join(directory, FILE_NAME)
            private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        if directory is not None:
            private_file(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def write(
        self, t: float, snapshot: list[Asset] | None, changes: list[tuple[float, Asset]], alarms: list[Alarm]
    ) -> None:
        """One transaction: an optional full snapshot at `t`, asset changes, alarm states."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                if snapshot is not None:
                    blob = zlib.compress(_dump([asset_to_row(a) for a in snapshot]).encode(), 6)
                    db.execute("INSERT OR REPLACE INTO snapshots (t, data) VALUES (?, ?)", (t, blob))
                db.executemany(
                    "INSERT INTO states (t, asset_id, data) VALUES (?, ?, ?)",
                    [(ct, a.id, _dump(asset_to_row(a))) for ct, a in changes],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO alarms (id, raised_at, closed_at, data) VALUES (?, ?, ?, ?)",
                    [
                        (al.id, al.raised_at, al.updated_at if al.closed else 0.0, alarm_to_json(al))
                        for al in alarms
                    ],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def start_time(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(t) FROM snapshots").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def city_at(self, t: float) -> tuple[dict[str, Asset], bool]:
        """Every asset as it was at `t`, and whether the history reaches back that far."""
        with self._lock:
            row = self._db.execute(
                "SELECT t, data FROM snapshots WHERE t <= ? ORDER BY t DESC LIMIT 1", (t,)
            ).fetchone()
            if row is None:
                return {}, False
            snap_t = float(row[0])
            assets = {r[0]: r for r in json.loads(zlib.decompress(row[1]))}
            for (data,) in self._db.execute(
                "SELECT data FROM states WHERE t > ? AND t <= ? ORDER BY t, rowid", (snap_t, t)
            ):
                r = json.loads(data)
                assets[r[0]] = r
        return {k: asset_from_row(v) for k, v in assets.items()}, True

    def alarms_open_at(self, t: float, limit: int = 2000) -> list[Alarm]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM alarms WHERE raised_at <= ? AND (closed_at = 0 OR closed_at > ?)"
                " ORDER BY raised_at DESC LIMIT ?",
                (t, t, limit),
            ).fetchall()
        return [alarm_from_json(r[0]) for r in rows]

    def alarm_markers(self, camera_id: str, start: float, end: float, limit: int = 2000) -> list[Alarm]:
        """Alarms raised in [start, end] on the camera or covered by it (for a timeline)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM alarms WHERE raised_at >= ? AND raised_at <= ? AND"
                " (data LIKE ? OR data LIKE ?) ORDER BY raised_at LIMIT ?",
                (start, end, f'%"asset_id":"{camera_id}"%', f'%"{camera_id}"%', limit),
            ).fetchall()
        out = [alarm_from_json(r[0]) for r in rows]
        return [a for a in out if a.asset_id == camera_id or camera_id in a.camera_ids]

    def prune(self, before: float) -> None:
        """Drop what is older than `before`, keeping the last snapshot before it (the base of
        the oldest moment still answered)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(t) FROM snapshots WHERE t <= ?", (before,)).fetchone()
            keep_from = before if row is None or row[0] is None else float(row[0])
            self._db.execute("DELETE FROM snapshots WHERE t < ?", (keep_from,))
            self._db.execute("DELETE FROM states WHERE t <= ?", (keep_from,))
            self._db.execute("DELETE FROM alarms WHERE closed_at > 0 AND closed_at < ?", (keep_from,))
