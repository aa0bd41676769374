"""Users on disk: `<data dir>/users.sqlite3`, or the `users` table of the PostgreSQL database
given with `--db` (backend/store/sql.py): name, role, scrypt hash, disabled, creation time,
credentials version.

The credentials version starts at 1 and grows with every password reset: tokens carry the version
they were issued under, so a reset ends the sessions opened with the old password (see
backend/security/tokens.py). Databases made before it existed get the column when opened.

Plain synchronous calls: the backend makes them on its user-directory thread
(`backend.security.users.UserDirectory`), `vigie-backend --add-user` directly. SQLite's own locking
lets `--add-user` change a user while a backend runs on the same data directory."""

from __future__ import annotations

import sqlite3
import time
import zlib
from dataclasses import dataclass

from vigie.backend.store.files import private_file
from vigie.backend.store.sql import Database, SqlConn

FILE_NAME = "users.sqlite3"

SCHEMA_POSTGRES = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    credentials_version INTEGER NOT NULL DEFAULT 1
);
"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    credentials_version INTEGER NOT NULL DEFAULT 1
);
"""
COLUMNS = "name, role, password_hash, disabled, created_at, credentials_version"


__all__ = ["FILE_NAME", "UserDB", "UserExists", "UserRow", "private_file"]  # private_file: older imports


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    role: int
    password_hash: str
    disabled: bool
    created_at: float
    credentials_version: int = 1


class UserExists(Exception):
    pass


class UserDB:
    """One connection; not thread-safe: use it from one thread at a time."""

    def __init__(self, where: str | None | Database) -> None:
        """`where`: a data dir (None: an in-memory table, for tests and throwaway backends) or a
        Database (SQLite files, or PostgreSQL). Password hashes: the file is owner-only."""
        db = where if isinstance(where, Database) else Database(where)
        self.conn: SqlConn = db.connect(FILE_NAME, "vigie-backend users")
        self.path = self.conn.where
        self.postgres = self.conn.dialect == "postgresql"
        self.conn.script(SCHEMA_POSTGRES if self.postgres else SCHEMA)
        if not self.postgres:
            self._migrate()

    def _migrate(self) -> None:
        """Add what older SQLite files lack (another process may be doing the same right now)."""
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(users)")}
        if "credentials_version" not in columns:
            try:
                self.conn.execute(
                    "ALTER TABLE users ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 1"
                )
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise

    @staticmethod
    def _row(r: tuple) -> UserRow:
        return UserRow(r[0], int(r[1]), r[2], bool(r[3]), float(r[4]), int(r[5]))

    def get(self, name: str) -> UserRow | None:
        r = self.conn.execute(f"SELECT {COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        return self._row(r) if r else None

    def all(self) -> list[UserRow]:
        rows = self.conn.execute(f"SELECT {COLUMNS} FROM users ORDER BY name").fetchall()
        return [self._row(r) for r in rows]

    def credentials_versions(self) -> dict[str, int]:
        """Every user's credentials version."""
        return {n: int(v) for n, v in self.conn.execute("SELECT name, credentials_version FROM users")}

    def data_version(self) -> int:
        """Changes when another connection (another process) commits to the database."""
        if not self.postgres:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        # Every write sets updated_at, and a password reset bumps a credentials version.
        row = self.conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(updated_at), 0), COALESCE(SUM(credentials_version), 0) FROM users"
        ).fetchone()
        return zlib.crc32(repr(tuple(row)).encode())

    def insert(self, name: str, role: int, password_hash: str) -> UserRow:
        now = time.time()
        try:
            self.conn.execute(
                "INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at)"
                " VALUES (?, ?, ?, 0, ?, ?)",
                (name, role, password_hash, now, now),
            )
        except sqlite3.IntegrityError as exc:
            raise UserExists(name) from exc
        except Exception as exc:  # psycopg's UniqueViolation (not imported without --db)
            if type(exc).__name__ == "UniqueViolation":
                raise UserExists(name) from exc
            raise
        return UserRow(name, role, password_hash, False, now)

    def upsert_password(self, name: str, role: int, password_hash: str) -> bool:
        """Create the user, or reset its password and role, enable it and bump its credentials
        version (its sessions end). True if it was created."""
        now = time.time()
        created = self.get(name) is None
        self.conn.execute(
            "INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at)"
            " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT(name) DO UPDATE SET role = excluded.role,"
            " password_hash = excluded.password_hash, disabled = 0, updated_at = excluded.updated_at,"
            " credentials_version = users.credentials_version + 1",
            (name, role, password_hash, now, now),
        )
        return created

    def update(self, name: str, role: int, disabled: bool) -> None:
        self.conn.execute(
            "UPDATE users SET role = ?, disabled = ?, updated_at = ? WHERE name = ?",
            (role, int(disabled), time.time(), name),
        )

    def count_enabled(self, role: int) -> int:
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM users WHERE role = ? AND disabled = 0", (role,)
            ).fetchone()[0]
        )

    def close(self) -> None:
        self.conn.close()
