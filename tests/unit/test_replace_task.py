"""ClientCore.replace_task (app/client/core.py): a replacing task starts once the task it
replaces has ended (gRPC kept native memory for streams opened in the same turn as another's
cancellation, docs/soak.md), and nothing keeps the replaced tasks alive."""

from __future__ import annotations

import asyncio
import gc
import weakref

from vigie.app.client.core import ClientCore


def test_the_new_task_starts_only_after_the_replaced_one_has_ended() -> None:
    order: list[str] = []

    async def old_work() -> None:
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
        await asyncio.sleep(0.05)
        await core.replace_task("video:tile", new_work())
        await asyncio.wait_for(core.tasks["video:tile"], 5)

    asyncio.run(scenario())
    assert order == ["old cancelled", "old ended", "new started"]


def test_a_task_replaced_before_it_started_never_runs() -> None:
    ran: list[str] = []

    async def work(name: str) -> None:
        ran.append(name)
        await asyncio.Event().wait()

    async def scenario() -> None:
        core = ClientCore("127.0.0.1:1")
        await core.replace_task("k", work("first"))
        await asyncio.sleep(0.05)
        await core.replace_task("k", work("second"))  # waits for "first" to end...
        await core.replace_task("k", work("third"))  # ...and is replaced before it starts
        await asyncio.sleep(0.2)
        await core.replace_task("k", None)
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert ran == ["first", "third"]


def test_replaced_tasks_are_freed_while_their_successor_runs() -> None:
    """Each replacing task waits on the one before: if it kept it, every task ever replaced
    (and the call in its frames) would stay alive behind the current one."""

    class Call:  # stands for the grpc call a stream's frame holds
        pass

    refs: list[weakref.ref[Call]] = []

    async def stream() -> None:
        call = Call()
        refs.append(weakref.ref(call))
        await asyncio.Event().wait()

    async def scenario() -> int:
        core = ClientCore("127.0.0.1:1")
        for _ in range(50):
            await core.replace_task("video:tile", stream())
            await asyncio.sleep(0.01)
        gc.collect()
        alive = sum(1 for r in refs if r() is not None)
        await core.replace_task("video:tile", None)
        return alive

    alive = asyncio.run(scenario())
    assert len(refs) == 50
    assert alive == 1  # only the current stream's
