"""ClientCore.replace_task (app/client/core.py): a replacing task starts once the task it
replaces has ended (gRPC kept native memory for streams opened in the same turn as another's
cancellation, docs/soak.md), and nothing keeps the replaced tasks alive."""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref

from vigie.app.client.core import ClientCore


def test_the_new_task_starts_only_after_the_replaced_one_has_ended() -> None:
    order: list[str] = []
    started = asyncio.Event()

    async def old_work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            order.append("old cancelled")
            await asyncio.sleep(0.2)  # a call that takes a while to end
            order.append("old ended")
            raise

    async def new_work() -> None:
        order.append("new started")

    async def scenario() -> None:
        core = ClientCore("127.0.0.1:1")
        await core.replace_task("video:tile", old_work())
        await asyncio.wait_for(started.wait(), 5)
        await core.replace_task("video:tile", new_work())
        await asyncio.wait_for(core.tasks["video:tile"], 5)

    asyncio.run(scenario())
    assert order == ["old cancelled", "old ended", "new started"]


def test_a_task_replaced_before_it_started_never_runs_and_is_closed() -> None:
    """Closed, not left to the collector: an unstarted coroutine warns "never awaited"."""
    ran: list[str] = []
    running: dict[str, asyncio.Event] = {}

    async def work(name: str) -> None:
        ran.append(name)
        running[name].set()
        await asyncio.Event().wait()

    async def scenario() -> None:
        core = ClientCore("127.0.0.1:1")
        running.update(first=asyncio.Event(), second=asyncio.Event(), third=asyncio.Event())
        await core.replace_task("k", work("first"))
        await asyncio.wait_for(running["first"].wait(), 5)
        await core.replace_task("k", work("second"))  # waits for "first" to end...
        await core.replace_task("k", work("third"))  # ...and is replaced before it starts
        await asyncio.wait_for(running["third"].wait(), 5)
        last = core.tasks["k"]
        await core.replace_task("k", None)
        await asyncio.wait([last], timeout=5)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(scenario())
        gc.collect()
    assert ran == ["first", "third"]
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_replaced_tasks_are_freed_while_their_successor_runs() -> None:
    """Each replacing task waits on the one before: if it kept it, every task ever replaced
    (and the call in its frames) would stay alive behind the current one."""

    class Call:  # stands for the grpc call a stream's frame holds
        pass

    refs: list[weakref.ref[Call]] = []

    async def stream(opened: asyncio.Event) -> None:
        call = Call()
        refs.append(weakref.ref(call))
        opened.set()
        await asyncio.Event().wait()

    async def scenario() -> int:
        core = ClientCore("127.0.0.1:1")
        for _ in range(50):
            opened = asyncio.Event()
            await core.replace_task("video:tile", stream(opened))
            await asyncio.wait_for(opened.wait(), 5)
        gc.collect()
        alive = sum(1 for r in refs if r() is not None)
        await core.replace_task("video:tile", None)
        return alive

    alive = asyncio.run(scenario())
    assert len(refs) == 50
    assert alive == 1  # only the current stream's
