"""Stop asyncio tasks for good: cancel, and cancel again until they have ended.

One `task.cancel()` then `await task` trusts every await inside the task to let the cancellation
through. On Python 3.11 `asyncio.wait_for` does not when what it awaited is done in the same turn
(CPython gh-86296, fixed in 3.12): the task's `while True` loop goes on, and whoever awaits its end
waits for ever. The product no longer calls `wait_for` (tests/unit/test_cancel_not_swallowed.py),
but its libraries do: nats-py's `fetch`, `next_msg` and `request`. A backend's stop that hung so
ignored SIGTERM (docs/soak.md, "The hung stop")."""

from __future__ import annotations

import asyncio

AGAIN_S = 1.0  # a task not ended this long after a cancellation is cancelled again


async def cancel_and_wait(*tasks: asyncio.Task | None) -> None:
    """Cancel every task, wait until all have ended (cancelling again each AGAIN_S while one has
    not), then raise the first exception one of them ended with, if any. A cancellation of the
    caller itself goes through."""
    pending = {t for t in tasks if t is not None}
    for t in pending:
        t.cancel()
    while pending:
        _done, pending = await asyncio.wait(pending, timeout=AGAIN_S)
        for t in pending:
            t.cancel()
    for t in tasks:
        if t is not None and not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]
