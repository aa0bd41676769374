"""The resume contract shared by WatchAssets and WatchAlarms, written once.

A change log (the asset store, the alarm engine) numbers every change; a stream starts after a
position the client saw, or says why it cannot (epoch changed, position unknown or aged out), then
follows the log in batches with heartbeats on quiet links.

Every message is also bounded in bytes (`MAX_MESSAGE_BYTES`): a batch or snapshot chunk whose
items are large is split, so stored content can never make a message that a client (4 MB by
default) refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import grpc

from vigie.backend.domain.changelog import HistoryExpired

# Bytes per streamed message or page: a quarter of a client's default 4 MB receive limit, so one
# item near every text bound (each clipped to 1,000 characters) always fits with room to spare.
MAX_MESSAGE_BYTES = 1024 * 1024

T = TypeVar("T")
M = TypeVar("M")


def fit(
    items: Sequence[T], build: Callable[[Sequence[T]], M], budget: int = MAX_MESSAGE_BYTES
) -> list[tuple[Sequence[T], M]]:
    """[(items, build(items))], or as many pairs as it takes (consecutive items, in order) to keep
    each message within `budget` bytes; a single item is never split."""
    msg = build(items)
    size = msg.ByteSize()  # type: ignore[attr-defined]
    if len(items) <= 1 or size <= budget:
        return [(items, msg)]
    # Cut into one more part than the size asks for (items differ in size), so that most parts
    # fit at once: each item is converted about twice, not once per halving.
    step = -(-len(items) // min(len(items), -(-size // budget) + 1))
    out: list[tuple[Sequence[T], M]] = []
    for i in range(0, len(items), step):
        out += fit(items[i : i + step], build, budget)
    return out


def snapshot(
    items: Sequence[T], chunk: int, build: Callable[[Sequence[T], bool], M], budget: int = MAX_MESSAGE_BYTES
) -> Iterator[M]:
    """A snapshot in messages of at most `chunk` items and `budget` bytes; `build(items, last)`
    makes one, and only the final one has last=True (an empty snapshot is one empty message)."""
    total = len(items)
    for i in range(0, max(total, 1), chunk):
        parts = fit(items[i : i + chunk], lambda xs: build(xs, False), budget)
        final = i + chunk >= total
        for k, (xs, msg) in enumerate(parts):
            yield build(xs, True) if final and k == len(parts) - 1 else msg


def fitting(sizes: Sequence[int], budget: int = MAX_MESSAGE_BYTES) -> int:
    """How many leading items (of these encoded sizes) one page of `budget` bytes holds: at
    least one, so a page always moves forward."""
    used = 0
    for n, size in enumerate(sizes):
        used += size + 6  # the field's tag and length prefix
        if used > budget:
            return max(n, 1)
    return len(sizes)


class ChangeLog(Protocol):
    @property
    def oldest_available(self) -> int: ...

    def changes_after(self, position: int, limit: int | None = None) -> list[Any]: ...

    async def wait_for_change(self, position: int, timeout: float) -> bool: ...


async def wait_until_at(log: Any, position: int, timeout: float) -> None:
    """On a cluster, a client arriving from a replica a little ahead: wait up to `timeout` for
    this one's `log` to reach `position` (resume_refusal then judges)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while log.sequence < position and (left := deadline - loop.time()) > 0:
        await log.wait_for_change(log.sequence, left)


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
            for _, msg in fit(changes, changes_message):
                yield msg
            continue
        if not await log.wait_for_change(position, heartbeat_s):
            yield heartbeat_message(position)
