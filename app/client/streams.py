"""One resilient server stream, written once for every watch of the console (assets, alarms,
walls, a wall display, telemetry, video, a command's progress).

The loop: wait for a login, open the call (from where the stream left off), read; a message
clears staleness and resets the backoff; silence longer than `stale_after` flags the stream stale
and reopens it; a broken link backs off (backoff_delay, growing, reset by the next message); an
answer retrying cannot change ends it; cancelling the task stops it cleanly.

Resuming mirrors the server's contract (backend/services/resumable.py): a stream starts after a
position in an epoch (`Resume`); the handler moves the position on with each snapshot or batch
of changes and raises `ResyncNeeded` when the server says it cannot resume (epoch changed,
position aged out), which forgets the position and reopens at once, for a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

log = logging.getLogger(__name__)

BACKOFF_CAP = 5.0


def backoff_delay(attempt: int, cap: float = BACKOFF_CAP, base: float = 0.25) -> float:
    """Capped exponential backoff with "equal jitter": between half and all of the step."""
    step = min(cap, base * (2**attempt))
    return step / 2 + random.uniform(0, step / 2)


class Call(Protocol):
    """What the helper needs of a grpc.aio unary-stream call (a test passes a fake)."""

    async def read(self) -> Any: ...

    def cancel(self) -> bool: ...


@dataclass
class Resume:
    """Where a resumable stream left off: the last position seen, in the server's epoch."""

    position: int = 0
    epoch: str = ""

    def reset(self) -> None:
        self.position, self.epoch = 0, ""


class ResyncNeeded(Exception):
    """The server cannot resume from `Resume` (a handler raises it on `resync_needed`)."""


class StreamState(enum.Enum):
    WAITING = "waiting"  # for a login
    OPENING = "opening"  # the call is being opened (again)
    LIVE = "live"  # a message arrived on this call
    STALE = "stale"  # no message for stale_after: the call is dropped and reopened
    BACKOFF = "backoff"  # broken: reopening at retry_at
    FAILED = "failed"  # a final answer: not retried
    ENDED = "ended"  # the server (or `done`) ended the stream on purpose
    STOPPED = "stopped"  # cancelled


@dataclass(frozen=True)
class StreamEvent:
    state: StreamState
    detail: str = ""  # the reason for STALE, BACKOFF, FAILED
    retry_at: float = 0.0  # time.monotonic() of the next attempt (BACKOFF)
    attempt: int = 0  # consecutive failures so far
    code: grpc.StatusCode | None = None  # the final answer (FAILED)


FINAL_CODES = (
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
)


class ResilientStream:
    """Runs one stream until it ends, fails for good or its task is cancelled (see module doc).

    `open_call(resume)` opens the call (it may await first: a history read, a channel);
    `on_message(msg)` handles one message (may raise ResyncNeeded); `on_event` hears every state
    change; `on_rpc_error` hears every failed call first (the client core uses it to notice a
    token the server refused). `eof_ends`: the server ending the stream means "nothing more"
    (telemetry, a finished command), not a broken link. `done()`: stop after this message."""

    def __init__(
        self,
        name: str,
        open_call: Callable[[Resume], Awaitable[Call]],
        on_message: Callable[[Any], None],
        *,
        logged_in: asyncio.Event | None = None,
        stale_after: float | None = 15.0,
        on_event: Callable[[StreamEvent], None] = lambda _e: None,
        on_rpc_error: Callable[[grpc.aio.AioRpcError], None] = lambda _e: None,
        final_codes: tuple[grpc.StatusCode, ...] = FINAL_CODES,
        eof_ends: bool = False,
        done: Callable[[], bool] = lambda: False,
        stopping: Callable[[], bool] = lambda: False,
        resume: Resume | None = None,
        backoff: Callable[[int], float] = backoff_delay,
        describe: Callable[[grpc.aio.AioRpcError], str] | None = None,
    ) -> None:
        self.name = name
        self.open_call, self.on_message = open_call, on_message
        self.logged_in = logged_in
        self.stale_after = stale_after
        self.on_event, self.on_rpc_error = on_event, on_rpc_error
        self.final_codes = final_codes
        self.eof_ends, self.done, self._stopping = eof_ends, done, stopping
        self.resume = resume or Resume()
        self.backoff = backoff
        self.describe = describe or (lambda exc: exc.details() or exc.code().name)
        self.state = StreamState.WAITING
        self.attempt = 0  # consecutive failures: the next delay grows with it
        self.opened = 0  # calls opened so far (the first is not a reconnection)
        self.last_message_at = 0.0  # time.monotonic() of the last message (0: none yet); diagnostics

    def _emit(self, state: StreamState, **kw: Any) -> None:
        self.state = state
        self.on_event(StreamEvent(state, attempt=self.attempt, **kw))

    def stopping(self) -> bool:
        task = asyncio.current_task()
        return self._stopping() or (task is not None and task.cancelling() > 0)

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            self._emit(StreamState.STOPPED)
            raise

    async def _run(self) -> None:
        while True:
            if self.logged_in is not None and not self.logged_in.is_set():
                self._emit(StreamState.WAITING)
                await self.logged_in.wait()
            self._emit(StreamState.OPENING)
            reason = "the stream ended"
            call: Call | None = None
            try:
                call = await self.open_call(self.resume)
                self.opened += 1
                while True:
                    async with asyncio.timeout(self.stale_after):
                        msg = await call.read()
                    if msg is grpc.aio.EOF:
                        break
                    self.last_message_at = time.monotonic()
                    if self.state is not StreamState.LIVE:
                        self.attempt = 0  # a message: the link works again
                        self._emit(StreamState.LIVE)
                    self.on_message(msg)
                    if self.done():
                        self._emit(StreamState.ENDED)
                        return
                if self.eof_ends or self.done():
                    self._emit(StreamState.ENDED)
                    return
            except ResyncNeeded as exc:
                log.info("%s: resync needed (%s)", self.name, exc)
                self.resume.reset()
                continue  # reopen at once for a fresh snapshot: the server is there
            except TimeoutError:
                reason = f"no message for {self.stale_after:.0f} s"
                self._emit(StreamState.STALE, detail=reason)
            except grpc.aio.AioRpcError as exc:
                self.on_rpc_error(exc)
                if self.stopping():
                    self._emit(StreamState.STOPPED)
                    return
                reason = self.describe(exc)
                if exc.code() in self.final_codes:
                    self._emit(StreamState.FAILED, detail=reason, code=exc.code())
                    return
            except Exception as exc:  # a bug must not leave a "live" stream with stale data
                log.exception("%s", self.name)
                reason = f"internal error: {exc}"
            finally:
                if call is not None:
                    call.cancel()
            if self.stopping():
                self._emit(StreamState.STOPPED)
                return
            delay = self.backoff(self.attempt)
            self.attempt += 1
            self._emit(StreamState.BACKOFF, detail=reason, retry_at=time.monotonic() + delay)
            await asyncio.sleep(delay)
