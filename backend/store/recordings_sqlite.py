"""recordings.sqlite3: the index of recorded video (camera + time -> segment file and offset),
the protection windows, and the per-camera recording settings.

A segment is one file of a few seconds to a minute of one camera; its frames' times are the
segment's `start` plus their presentation time in the file (milliseconds), so the time -> offset
step is a seek inside that one file. Protection is kept as windows (camera, start, end, kept
until), not as a flag on segments, so an alarm can protect the seconds that are still to be
recorded (its post-buffer). Called from recorder threads and worker pools (never from the
asyncio loop): one connection, one lock, `synchronous=FULL`. Files are 0600 in a 0700
directory (backend/store/files.py)."""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass

from vigie.backend.store.files import private_dir, private_file

FILE_NAME = "recordings.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY, camera_id TEXT NOT NULL, path TEXT NOT NULL, codec TEXT NOT NULL,
    start REAL NOT NULL, end REAL NOT NULL, frames INTEGER NOT NULL, bytes INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS segments_camera_time ON segments (camera_id, start);
CREATE INDEX IF NOT EXISTS segments_time ON segments (start);
CREATE TABLE IF NOT EXISTS protections (
    id INTEGER PRIMARY KEY, camera_id TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
    until REAL NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS protections_camera ON protections (camera_id, start);
CREATE TABLE IF NOT EXISTS settings (
    camera_id TEXT PRIMARY KEY, mode TEXT NOT NULL, pre_s REAL NOT NULL, post_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_PROTECTED = (
    "EXISTS (SELECT 1 FROM protections p WHERE p.camera_id = s.camera_id AND p.start < s.end"
    " AND p.end > s.start AND p.until > ?)"
)


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    camera_id: str
    path: str  # relative to the recordings directory
    codec: str  # "mjpeg", "h264", "hevc"
    start: float  # unix seconds of its first frame
    end: float  # of its last frame
    frames: int
    bytes: int
    closed: bool
    protected: bool = False


@dataclass(frozen=True, slots=True)
class CameraSettings:
    camera_id: str
    mode: str  # "continuous", "on_alarm" or "off"
    pre_s: float
    post_s: float


class RecordingIndex:
    """The index; `path` None keeps it in memory (tests)."""

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
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        if directory is not None:
            private_file(self.path)  # the -wal and -shm files too

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- segments ----------------------------------------------------------------------------------

    def add_segment(self, camera_id: str, path: str, codec: str, start: float) -> int:
        """An open segment (being written); returns its id."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO segments (camera_id, path, codec, start, end, frames, bytes) VALUES (?,?,?,?,?,0,0)",
                (camera_id, path, codec, start, start),
            )
            return int(cur.lastrowid or 0)

    def update_segment(self, seg_id: int, end: float, frames: int, size: int, closed: bool) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE segments SET end = ?, frames = ?, bytes = ?, closed = ? WHERE id = ?",
                (end, frames, size, int(closed), seg_id),
            )

    def close_open_segments(self) -> list[Segment]:
        """Segments left open by a process that died: returned for the recorder to check."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM segments WHERE closed = 0").fetchall()
        return [self._segment(r) for r in rows]

    def remove_segments(self, ids: list[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM segments WHERE id = ?", [(i,) for i in ids])

    def segments(self, camera_id: str, start: float, end: float, now: float) -> list[Segment]:
        """Segments of `camera_id` that overlap [start, end], in time order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT s.*, {_PROTECTED} FROM segments s WHERE s.camera_id = ? AND s.start <= ?"
                " AND s.end >= ? AND s.frames > 0 ORDER BY s.start",
                (now, camera_id, end, start),
            ).fetchall()
        return [self._segment(r) for r in rows]

    def segment_at_or_after(self, camera_id: str, t: float, now: float) -> Segment | None:
        """The segment holding `t`, or the first one after it."""
        with self._lock:
            row = self._db.execute(
                f"SELECT s.*, {_PROTECTED} FROM segments s WHERE s.camera_id = ? AND s.end >= ?"
                " AND s.frames > 0 ORDER BY s.start LIMIT 1",
                (now, camera_id, t),
            ).fetchone()
        return None if row is None else self._segment(row)

    def segment_at_or_before(self, camera_id: str, t: float, now: float) -> Segment | None:
        """The segment holding `t`, or the last one before it."""
        with self._lock:
            row = self._db.execute(
                f"SELECT s.*, {_PROTECTED} FROM segments s WHERE s.camera_id = ? AND s.start <= ?"
                " AND s.frames > 0 ORDER BY s.start DESC LIMIT 1",
                (now, camera_id, t),
            ).fetchone()
        return None if row is None else self._segment(row)

    def neighbour(self, camera_id: str, seg_start: float, forward: bool, now: float) -> Segment | None:
        """The segment after (or before) the one starting at `seg_start`."""
        op, order = (">", "ASC") if forward else ("<", "DESC")
        with self._lock:
            row = self._db.execute(
                f"SELECT s.*, {_PROTECTED} FROM segments s WHERE s.camera_id = ? AND s.start {op} ?"
                f" AND s.frames > 0 ORDER BY s.start {order} LIMIT 1",
                (now, camera_id, seg_start),
            ).fetchone()
        return None if row is None else self._segment(row)

    def deletable(self, now: float, limit: int = 200) -> list[Segment]:
        """Closed segments, unprotected first, oldest first: the order the quota deletes them in."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT s.*, {_PROTECTED} AS prot FROM segments s WHERE s.closed = 1"
                " ORDER BY prot, s.start LIMIT ?",
                (now, limit),
            ).fetchall()
        return [self._segment(r) for r in rows]

    def older_than(self, camera_id: str | None, before: float, now: float) -> list[Segment]:
        """Closed segments that ended before `before` (one camera, or all), with protection."""
        where, args = ("AND s.camera_id = ?", [camera_id]) if camera_id else ("", [])
        with self._lock:
            rows = self._db.execute(
                f"SELECT s.*, {_PROTECTED} FROM segments s WHERE s.closed = 1 AND s.end < ? {where}",
                (now, before, *args),
            ).fetchall()
        return [self._segment(r) for r in rows]

    def totals(self, now: float) -> tuple[int, int]:
        """(bytes of every segment, bytes of the protected ones)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT COALESCE(SUM(s.bytes), 0), COALESCE(SUM(CASE WHEN {_PROTECTED} THEN s.bytes ELSE 0 END), 0)"
                " FROM segments s",
                (now,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def camera_totals(self, camera_id: str) -> tuple[int, float]:
        """(bytes stored, oldest start; 0 when none) of one camera."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(bytes), 0), COALESCE(MIN(start), 0) FROM segments WHERE camera_id = ?",
                (camera_id,),
            ).fetchone()
        return int(row[0]), float(row[1])

    # --- protection -------------------------------------------------------------------------------

    def protect(self, camera_id: str, start: float, end: float, until: float, reason: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO protections (camera_id, start, end, until, reason) VALUES (?,?,?,?,?)",
                (camera_id, start, end, until, reason[:200]),
            )

    def unprotect(self, camera_id: str, start: float, end: float) -> int:
        """Remove the windows overlapping [start, end]; returns how many segments they covered."""
        with self._lock:
            covered = self._db.execute(
                "SELECT COUNT(*) FROM segments s WHERE s.camera_id = ? AND s.start < ? AND s.end > ?"
                " AND EXISTS (SELECT 1 FROM protections p WHERE p.camera_id = s.camera_id"
                " AND p.start < s.end AND p.end > s.start AND p.start < ? AND p.end > ?)",
                (camera_id, end, start, end, start),
            ).fetchone()[0]
            self._db.execute(
                "DELETE FROM protections WHERE camera_id = ? AND start < ? AND end > ?",
                (camera_id, end, start),
            )
        return int(covered)

    def count_segments(self, camera_id: str, start: float, end: float) -> int:
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM segments WHERE camera_id = ? AND start < ? AND end > ?",
                    (camera_id, end, start),
                ).fetchone()[0]
            )

    def drop_expired_protections(self, now: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM protections WHERE until <= ?", (now,))

    # --- settings ---------------------------------------------------------------------------------

    def settings(self) -> dict[str, CameraSettings]:
        with self._lock:
            rows = self._db.execute("SELECT camera_id, mode, pre_s, post_s FROM settings").fetchall()
        return {r[0]: CameraSettings(r[0], r[1], float(r[2]), float(r[3])) for r in rows}

    def save_settings(self, s: CameraSettings) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO settings (camera_id, mode, pre_s, post_s) VALUES (?,?,?,?)",
                (s.camera_id, s.mode, s.pre_s, s.post_s),
            )

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @staticmethod
    def _segment(r: tuple) -> Segment:
        return Segment(
            id=int(r[0]),
            camera_id=r[1],
            path=r[2],
            codec=r[3],
            start=float(r[4]),
            end=float(r[5]),
            frames=int(r[6]),
            bytes=int(r[7]),
            closed=bool(r[8]),
            protected=bool(r[9]) if len(r) > 9 else False,
        )
