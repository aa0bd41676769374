"""A backend stop ends its tasks even when a library swallowed the first cancellation
(backend/cancel.py): nats-py's fetch and request use asyncio.wait_for, which on Python 3.11 can
return instead of raising CancelledError (tests/unit/test_cancel_not_swallowed.py)."""

from __future__ import annotations

import asyncio

import pytest

from vigie.backend import cancel
from vigie.backend.cancel import cancel_and_wait


async def _swallows_the_first_cancellation(swallowed: list[int]) -> None:
    """A follower loop around a call that once lost a cancellation, as wait_for does on 3.11."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if not swallowed:
                swallowed.append(1)
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
                continue  # the loop goes on, as after a swallowed cancellation
            raise


def test_a_task_that_swallowed_a_cancellation_is_stopped_all_the_same(monkeypatch):
    monkeypatch.setattr(cancel, "AGAIN_S", 0.05)

    async def main() -> tuple[bool, list[int]]:
        swallowed: list[int] = []
        task = asyncio.get_running_loop().create_task(_swallows_the_first_cancellation(swallowed))
        await asyncio.sleep(0)
        async with asyncio.timeout(10):  # before backend/cancel.py: for ever
            await cancel_and_wait(task)
        return task.cancelled(), swallowed

    cancelled, swallowed = asyncio.run(main())
    assert swallowed == [1] and cancelled


def test_every_task_is_stopped_and_the_first_failure_is_raised():
    async def fails() -> None:
        raise ValueError("broke earlier")

    async def main() -> tuple[asyncio.Task, asyncio.Task]:
        loop = asyncio.get_running_loop()
        failed = loop.create_task(fails())
        sleeper = loop.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        with pytest.raises(ValueError, match="broke earlier"):
            await cancel_and_wait(failed, None, sleeper)
        return failed, sleeper

    failed, sleeper = asyncio.run(main())
    assert failed.done() and sleeper.cancelled()


def test_the_callers_own_cancellation_goes_through(monkeypatch):
    monkeypatch.setattr(cancel, "AGAIN_S", 0.05)

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        stubborn_now = [True]

        async def stubborn() -> None:
            while True:  # swallows every cancellation while stubborn_now
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    if not stubborn_now[0]:
                        raise
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]

        task = loop.create_task(stubborn())
        stopper = loop.create_task(cancel_and_wait(task))
        await asyncio.sleep(0.2)  # a few rounds of cancelling again
        assert not stopper.done()
        stopper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopper
        stubborn_now[0] = False  # let the test's loop end
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return stopper.cancelled()

    assert asyncio.run(main())
