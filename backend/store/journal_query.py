"""The one way the journals (alarms, incidents; SQLite, or PostgreSQL through backend/store/sql.py) turn a list request's filters into SQL and
read one page of it, newest first, so their filtering and paging cannot drift apart."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from vigie.backend.store.sql import SqlConn


def where(
    time_col: str,
    start: float | None,
    end: float | None,
    columns: Sequence[tuple[str, Sequence[Any]]],
    text: str = "",
) -> tuple[str, list[Any]]:
    """The condition and its arguments: `time_col` in [start, end), each column IN its values (an
    empty list: any), and `text` (lower-cased) in the table's `search` column."""
    parts: list[str] = []
    args: list[Any] = []
    if start is not None:
        parts.append(f"{time_col} >= ?")
        args.append(start)
    if end is not None:
        parts.append(f"{time_col} < ?")
        args.append(end)
    for col, values in columns:
        if values:
            parts.append(f"{col} IN ({','.join('?' * len(values))})")
            args.extend(values)
    if text:
        parts.append("instr(search, ?) > 0")
        args.append(text.lower())
    return " AND ".join(parts) or "TRUE", args


def page(
    conn: sqlite3.Connection | SqlConn,
    table: str,
    time_col: str,
    cond: str,
    args: list[Any],
    after: tuple[float, int] | None,
    limit: int,
) -> tuple[list[str], int]:
    """The `data` of one page matching `cond`, newest first by (`time_col`, num), after the page
    token's (time, num), and how many rows match in all."""
    total = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {cond}", args).fetchone()[0]
    page_cond, page_args = cond, list(args)
    if after is not None:
        page_cond += f" AND ({time_col} < ? OR ({time_col} = ? AND num < ?))"
        page_args += [after[0], after[0], after[1]]
    rows = conn.execute(
        f"SELECT data FROM {table} WHERE {page_cond} ORDER BY {time_col} DESC, num DESC LIMIT ?",
        [*page_args, limit],
    ).fetchall()
    return [r[0] for r in rows], total
