"""One small connection interface over SQLite and PostgreSQL, so the audit, user and incident
stores keep one copy of their SQL and run on either (`vigie-backend --db postgresql://...`).

The stores write their SQL once, in the dialect both accept: `?` placeholders, `INSERT ...
ON CONFLICT (...) DO UPDATE`, `instr(haystack, needle)`, the column `"user"` quoted, `TRUE` for
an empty condition. The PostgreSQL connection translates the two differences (`?` → `%s`,
`instr` → `strpos`); only the schemas (types, identity columns) are written per dialect.

Not thread-safe, like the connections they wrap: each store uses its connection from one thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vigie.backend.store.files import private_dir, private_file

log = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class SqlConn(Protocol):
    dialect: str  # "sqlite" | "postgresql"
    where: str  # the file or the server, for messages (never the password)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def script(self, sql: str) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


class SqliteConn:
    dialect = "sqlite"

    def __init__(self, path: str, timeout: float = 10.0, synchronous: str = "") -> None:
        self.where = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=timeout)
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            if synchronous:
                self.conn.execute(f"PRAGMA synchronous={synchronous}")

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def script(self, sql: str) -> None:
        self.conn.executescript(sql)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


_PLACEHOLDER = re.compile(r"\?")
_INSTR = re.compile(r"\binstr\(")


def _to_pg(sql: str) -> str:
    return _INSTR.sub("strpos(", _PLACEHOLDER.sub("%s", sql.replace("%", "%%")))


class PostgresConn:
    dialect = "postgresql"

    def __init__(self, url: str, application: str) -> None:
        import psycopg  # only a backend given --db postgresql://... needs it loaded

        self.where = redact(url)
        self.conn = psycopg.connect(url, autocommit=True, application_name=application, connect_timeout=10)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(_to_pg(sql), list(args))  # type: ignore[return-value]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [list(r) for r in rows]
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_to_pg(sql), rows)

    def script(self, sql: str) -> None:
        for statement in (s.strip() for s in sql.split(";")):
            if statement and not all(line.strip().startswith("--") for line in statement.splitlines()):
                self.conn.execute(statement)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def try_lock(self, key: int, wait_s: float = 0.0) -> bool:
        """A session-level advisory lock: the PostgreSQL counterpart of a lock file, released
        when its connection ends, a dead backend's with it. The server notices a closed
        connection a moment later: a restarted backend waits up to `wait_s` for it."""
        deadline = time.monotonic() + wait_s
        while True:
            if self.conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)  # on the store's own thread, before it serves

    def unlock(self, key: int) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s)", [key])

    def close(self) -> None:
        self.conn.close()


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


@dataclass(frozen=True)
class Database:
    """Where the audit, user and incident stores live: SQLite files in `data_dir` (None: in
    memory), or one PostgreSQL database (`url`)."""

    data_dir: str | None = None
    url: str = ""

    @property
    def postgres(self) -> bool:
        return bool(self.url)

    def describe(self) -> str:
        return redact(self.url) if self.url else (self.data_dir or "memory")

    def connect(self, file_name: str, application: str, synchronous: str = "") -> SqlConn:
        """A connection for one store (`file_name`: its SQLite file in the data dir)."""
        if self.url:
            return PostgresConn(self.url, application)
        path = ":memory:"
        if self.data_dir:
            private_dir(self.data_dir)
            path = os.path.join(self.data_dir, file_name)
            private_file(path)  # before SQLite opens it: its -wal and -shm copy the mode
        return SqliteConn(path, synchronous=synchronous)


def database(data_dir: str | None, url: str | None) -> Database:
    """`--db` checked: empty or a postgresql:// URL (anything else is a ValueError saying why)."""
    if not url:
        return Database(data_dir)
    if not url.startswith(POSTGRES_SCHEMES):
        raise ValueError(f"--db must be a postgresql://... URL, got {redact(url)!r}")
    return Database(data_dir, url)
