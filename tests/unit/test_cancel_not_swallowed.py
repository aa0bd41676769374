"""A task waiting for a change stops when cancelled, even when the change comes in the same turn
of the loop. On Python 3.11 `asyncio.wait_for` returns the result instead of raising when its
awaitable is done by the time the cancellation lands (CPython gh-86296, fixed in 3.12): a
follower's loop then goes on for ever and whoever awaits its end after `cancel()` hangs. The soak
saw it as a backend that ignored SIGTERM (its stop awaited the command dispatcher's follower of the
asset store: docs/soak.md). The waits now use `asyncio.timeout`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from vigie.backend.domain.changelog import ChangeLog

ROOT = Path(__file__).resolve().parents[2]


async def _follower(log: ChangeLog[int]) -> None:
    """Like the command dispatcher's follower: wait for more, read it, wait again."""
    seen = 0
    while True:
        await log.wait_beyond(seen, 5.0)
        seen = log.last


async def _cancel_as_a_change_comes(turns_between: int) -> bool:
    """True when the follower ended cancelled within 2 s of cancel()."""
    log: ChangeLog[int] = ChangeLog(history=100)
    task = asyncio.get_running_loop().create_task(_follower(log))
    for _ in range(3):
        await asyncio.sleep(0)  # the follower is waiting now
    log.append([1])
    for _ in range(turns_between):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2.0)
    if not done:
        task.cancel()  # once more, so the test's own loop can end
        await asyncio.wait({task}, timeout=2.0)
        return False
    return task.cancelled()


def test_a_follower_cancelled_as_a_change_comes_stops():
    async def main() -> list[int]:
        return [n for n in range(6) if not await _cancel_as_a_change_comes(n)]

    assert asyncio.run(main()) == []  # every interleaving ended cancelled


def test_no_asyncio_wait_for_in_the_product():
    """wait_for swallows a cancellation on Python 3.11 (above): the product uses asyncio.timeout."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("app", "backend", "widgets")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bwait_for\(", line) and "asyncio" in line
    ]
    assert offenders == []
