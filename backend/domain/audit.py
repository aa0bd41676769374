"""The audit trail's record and the interface every writer uses (Qt-free, gRPC-free).

Writers (auth, commands, alarms) call `AuditSink.record`; the SQLite store implements it for the
running backend, `MemoryAuditSink` for unit tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AuditEntry:
    user: str
    console: str
    action: str  # "login", "logout", "command.execute", "command.device_ack", "alarm.acknowledge", ...
    target: str  # asset ids, alarm ids or a user name, comma-separated
    reason: str
    result: str  # "ok", "denied", "failed", "invalid", "replayed", ...
    detail: str = ""
    time: float = field(default_factory=time.time)  # unix seconds


class AuditSink(Protocol):
    def record(self, entry: AuditEntry) -> None:
        """Keep one record; must not block the event loop for long (queue, then write)."""


class MemoryAuditSink:
    """Keeps records in a list: for unit tests and backends without a data directory."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


def join_targets(ids: list[str] | tuple[str, ...], limit: int = 500, id_len: int = 128) -> str:
    """Comma-separated ids for `AuditEntry.target`: the first `limit` of them (then a count), each
    cut to `id_len` characters, so no request (even a refused one) writes a huge record."""
    shown = ",".join(i[:id_len] for i in ids[:limit])
    return shown + (f",… (+{len(ids) - limit} more)" if len(ids) > limit else "")
