"""The resume contract shared by WatchAssets and WatchAlarms, written once.

A change log (the asset store, the alarm engine) numbers every change; a stream starts after a
position the client saw, or says why it cannot (epoch changed, position unknown or aged out), then
follows the log in batches with heartbeats on quiet links.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import grpc

from backend.domain.changelog import HistoryExpired


class ChangeLog(Protocol):
    @property
    def oldest_available(self) -> int: ...

    def changes_after(self, position: int, limit: int | None = None) -> list[Any]: ...

    async def wait_for_change(self, position: int, timeout: float) -> bool: ...


async def resume_refusal(
    after: int,
    client_epoch: str,
    epoch: str,
    current: int,
    oldest: int,
    unit: str,
    context: grpc.aio.ServicerContext,
) -> str:
    """Why a stream cannot resume after `after` ("" when it can). A position ahead of the
    server in the same epoch is a client bug: INVALID_ARGUMENT."""
    if client_epoch and client_epoch != epoch:
        return "the backend restarted: its history is new (epoch changed)"
    if after > current:
        if client_epoch:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"after_{unit} {after} is ahead of the server's {unit} {current}",
            )
        return f"{unit} {after} is unknown to this server (it is at {current})"
    if after + 1 < oldest:
        return f"{unit} {after} has aged out of the server's history"
    return ""


async def follow(
    log: ChangeLog,
    after: int,
    batch: int,
    heartbeat_s: float,
    position_of: Callable[[Any], int],
    changes_message: Callable[[list[Any]], Any],
    heartbeat_message: Callable[[int], Any],
    resync_message: Callable[[int, str], Any],
    unit: str,
) -> AsyncIterator[Any]:
    """Every change after `after`, in batches; a heartbeat when quiet; a resync if the stream
    fell so far behind that its next change left the history."""
    position = after
    while True:
        try:
            changes = log.changes_after(position, limit=batch)
        except HistoryExpired:
            yield resync_message(
                position, f"the stream fell behind: {unit} {position} has aged out of the history"
            )
            return
        if changes:
            position = position_of(changes[-1])
            yield changes_message(changes)
            continue
        if not await log.wait_for_change(position, heartbeat_s):
            yield heartbeat_message(position)
