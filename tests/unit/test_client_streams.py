"""The console's one resilient-stream helper (app/client/streams.py), driven by fake calls.

The fake stands for a grpc.aio call at the one boundary this test cannot run for real in a unit
test (the network); the real streams are covered through the console's GUI tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from vigie.app.client.streams import ResilientStream, Resume, ResyncNeeded, StreamEvent, StreamState

HANG = object()  # the call stays silent (a dead link the server never closes)


def rpc_error(code: grpc.StatusCode, details: str = "") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class FakeCall:
    """Hands out `script` items in order: a message, an exception to raise, EOF, or HANG."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.cancelled = False

    async def read(self) -> Any:
        if not self.script:
            return grpc.aio.EOF
        item = self.script.pop(0)
        if item is HANG:
            await asyncio.Event().wait()
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class Harness:
    """Opens one scripted FakeCall per attempt and records what the helper did."""

    def __init__(self, scripts: list[list[Any]], **kwargs: Any) -> None:
        self.scripts = list(scripts)
        self.opened: list[Resume] = []  # the resume point each call was opened with (copies)
        self.calls: list[FakeCall] = []
        self.events: list[StreamEvent] = []
        self.messages: list[Any] = []
        self.delays_asked: list[int] = []
        self.all_opened = asyncio.Event()
        handle: Callable[[Any], None] = kwargs.pop("on_message", self.handle)
        self.stream = ResilientStream(
            "test",
            self.open,
            handle,
            on_event=self.events.append,
            backoff=self.backoff,
            **kwargs,
        )

    async def open(self, resume: Resume) -> FakeCall:
        self.opened.append(Resume(resume.position, resume.epoch))
        if not self.scripts:
            self.all_opened.set()
            return FakeCall([HANG])
        call = FakeCall(self.scripts.pop(0))
        self.calls.append(call)
        return call

    def backoff(self, attempt: int) -> float:
        self.delays_asked.append(attempt)
        return 0.0

    def handle(self, msg: Any) -> None:
        """Messages are ("snapshot", position, epoch), ("changes", position) or ("resync",)."""
        self.messages.append(msg)
        if msg[0] == "snapshot":
            self.stream.resume.position, self.stream.resume.epoch = msg[1], msg[2]
        elif msg[0] == "changes":
            self.stream.resume.position = msg[1]
        elif msg[0] == "resync":
            raise ResyncNeeded("epoch changed")

    def states(self) -> list[StreamState]:
        return [e.state for e in self.events]

    async def run_until_all_opened(self, timeout: float = 5.0) -> None:
        task = asyncio.ensure_future(self.stream.run())
        try:
            await asyncio.wait_for(self.all_opened.wait(), timeout)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


UNAVAILABLE = rpc_error(grpc.StatusCode.UNAVAILABLE, "connection reset")


def test_resume_point_is_passed_on_reconnect() -> None:
    async def main() -> Harness:
        h = Harness(
            [
                [("snapshot", 10, "e1"), ("changes", 12), UNAVAILABLE],
                [("changes", 15), grpc.aio.EOF],
            ]
        )
        await h.run_until_all_opened()
        return h

    h = asyncio.run(main())
    assert h.opened == [Resume(0, ""), Resume(12, "e1"), Resume(15, "e1")]


def test_backoff_grows_while_failing_and_resets_after_a_message() -> None:
    async def main() -> Harness:
        h = Harness(
            [[UNAVAILABLE], [UNAVAILABLE], [UNAVAILABLE], [("changes", 1), UNAVAILABLE], [UNAVAILABLE]]
        )
        await h.run_until_all_opened()
        return h

    h = asyncio.run(main())
    assert h.delays_asked == [0, 1, 2, 0, 1]
    backoffs = [e for e in h.events if e.state is StreamState.BACKOFF]
    assert [e.detail for e in backoffs] == ["connection reset"] * 5


def test_silence_flags_the_stream_stale_and_a_message_clears_it() -> None:
    async def main() -> Harness:
        h = Harness([[HANG], [("changes", 1), HANG]], stale_after=0.05)
        task = asyncio.ensure_future(h.stream.run())
        deadline = asyncio.get_running_loop().time() + 5
        while not h.messages and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return h

    h = asyncio.run(main())
    states = h.states()
    stale = states.index(StreamState.STALE)
    assert h.events[stale].detail == "no message for 0 s"
    assert StreamState.LIVE in states[stale:], "the next message clears the staleness"
    assert h.calls[0].cancelled, "a stale call is dropped"
    assert h.messages == [("changes", 1)]


def test_resync_needed_forgets_the_position_and_reopens_at_once() -> None:
    async def main() -> Harness:
        h = Harness([[("snapshot", 40, "old"), ("resync",)], [("snapshot", 3, "new")]])
        await h.run_until_all_opened()
        return h

    h = asyncio.run(main())
    assert h.opened[:2] == [Resume(0, ""), Resume(0, "")], "reopened from nothing, for a snapshot"
    assert h.opened[2] == Resume(3, "new")
    first_reopen = [i for i, s in enumerate(h.states()) if s is StreamState.OPENING][1]
    assert StreamState.BACKOFF not in h.states()[:first_reopen], "no wait before the fresh snapshot"


def test_a_final_answer_ends_the_stream_without_retrying() -> None:
    async def main() -> Harness:
        h = Harness([[rpc_error(grpc.StatusCode.PERMISSION_DENIED, "needs SUPERVISOR")]])
        await asyncio.wait_for(h.stream.run(), 5)
        return h

    h = asyncio.run(main())
    assert h.states()[-1] is StreamState.FAILED
    assert (
        h.events[-1].code is grpc.StatusCode.PERMISSION_DENIED and h.events[-1].detail == "needs SUPERVISOR"
    )
    assert len(h.opened) == 1 and h.delays_asked == []


def test_end_of_stream_ends_when_the_server_means_it() -> None:
    async def main() -> Harness:
        h = Harness([[("changes", 1), grpc.aio.EOF]], eof_ends=True)
        await asyncio.wait_for(h.stream.run(), 5)
        return h

    h = asyncio.run(main())
    assert h.states()[-1] is StreamState.ENDED and len(h.opened) == 1


def test_waits_for_a_login_before_opening() -> None:
    async def main() -> Harness:
        logged_in = asyncio.Event()
        h = Harness([], logged_in=logged_in)
        task = asyncio.ensure_future(h.stream.run())
        for _ in range(20):  # let the loop run: it must not open anything
            await asyncio.sleep(0)
        assert h.opened == [] and h.states() == [StreamState.WAITING]
        logged_in.set()
        await asyncio.wait_for(h.all_opened.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return h

    h = asyncio.run(main())
    assert len(h.opened) == 1


def test_unauthenticated_is_reported_then_waits_for_the_next_login() -> None:
    async def main() -> tuple[Harness, list[grpc.StatusCode]]:
        logged_in = asyncio.Event()
        logged_in.set()
        seen: list[grpc.StatusCode] = []

        def refused(exc: grpc.aio.AioRpcError) -> None:  # what the client core does
            seen.append(exc.code())
            logged_in.clear()

        h = Harness([[rpc_error(grpc.StatusCode.UNAUTHENTICATED, "token expired")]], logged_in=logged_in)
        h.stream.on_rpc_error = refused
        task = asyncio.ensure_future(h.stream.run())
        deadline = asyncio.get_running_loop().time() + 5
        while h.stream.state is not StreamState.WAITING or not seen:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert len(h.opened) == 1
        logged_in.set()
        await asyncio.wait_for(h.all_opened.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return h, seen

    h, seen = asyncio.run(main())
    assert seen == [grpc.StatusCode.UNAUTHENTICATED] and len(h.opened) == 2


def test_cancelling_stops_cleanly_and_cancels_the_call() -> None:
    async def main() -> Harness:
        h = Harness([[("changes", 1), HANG]])
        task = asyncio.ensure_future(h.stream.run())
        deadline = asyncio.get_running_loop().time() + 5
        while not h.messages:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return h

    h = asyncio.run(main())
    assert h.states()[-1] is StreamState.STOPPED
    assert h.calls[0].cancelled and len(h.opened) == 1
