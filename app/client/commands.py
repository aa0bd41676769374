"""The command service: what commands exist, and sending one exactly once.

A lost answer (UNAVAILABLE, DEADLINE_EXCEEDED, an expired token) is retried with the same
idempotency key for up to COMMAND_RETRY_S, so the backend acts at most once; a retry is never
sent under another login (keys are per user). Then the command's progress is followed (a
resilient stream) until it is done."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume, StreamEvent, StreamState, backoff_delay
from vigie.app.models.commands import CommandState, TargetState
from vigie.v1 import commands_pb2, commands_pb2_grpc

COMMAND_RETRY_S = 30.0  # how long a command whose answer was lost is retried (with the same key)
# Answers after which the request may not have reached the backend, or its answer was lost.
RETRY_CODES = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAUTHENTICATED,  # the token expired or the backend restarted: log in, retry
)


class CommandsClient(QObject):
    sig_actions = Signal(object)  # list[ActionInfo]: what commands the backend offers
    sig_command = Signal(object)  # CommandState (a copy), after every change of a command sent from here

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core

    def list_actions(self) -> None:
        """Fetch what commands the backend offers; answered by sig_actions."""
        self.core.submit(self._list_actions())

    def execute(
        self, asset_ids: list[str], action: int, params: dict[str, Any], reason: str, confirmed: bool
    ) -> str:
        """Send a command; returns its idempotency key, which names it in every sig_command.

        `action`: an ActionInfo.action; `params`: level_percent, badge_id, until (unix seconds),
        preset."""
        key = uuid.uuid4().hex
        req = convert.execute_request(key, asset_ids, action, params, reason, confirmed)
        self.core.submit(self.core.replace_task(f"command:{key}", self._command(key, req)))
        return key

    def _stub(self) -> commands_pb2_grpc.CommandServiceStub:
        return self.core.stub(commands_pb2_grpc.CommandServiceStub)

    async def _list_actions(self) -> None:
        await self.core.logged_in.wait()
        try:
            resp = await self._stub().ListActions(commands_pb2.ListActionsRequest())
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.core.sig_error.emit(f"Commands: {self.core.describe(exc)}")
            return
        self.sig_actions.emit([convert.action(a) for a in resp.actions])

    def _emit(self, state: CommandState) -> None:
        """A copy goes to the GUI: this loop goes on changing its own (retries, error, done)."""
        self.sig_command.emit(dataclasses.replace(state))

    async def _command(self, key: str, req: commands_pb2.ExecuteRequest) -> None:
        try:
            state = await self._execute(key, req)
            if state is not None and not state.done:
                await self._follow(state)
        finally:
            self.core.forget_task(f"command:{key}")

    async def _execute(self, key: str, req: commands_pb2.ExecuteRequest) -> CommandState | None:
        """Execute, retrying a lost answer with the same key; the first state, or None if it ended."""
        core, emit = self.core, self._emit
        state = CommandState(
            key,
            convert.action_name(req.action),
            [TargetState(a, "SENT") for a in req.asset_ids],
            reason=req.reason,
        )
        emit(state)
        give_up = time.monotonic() + COMMAND_RETRY_S
        sender = core.user  # keys are per user: a retry under another login could act twice
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(max(0.1, give_up - time.monotonic())):
                    await core.logged_in.wait()
                if core.user != sender:
                    state.error = f"Not retried: {core.user} is logged in now, the command was {sender}'s"
                    state.done = True
                    emit(state)
                    return None
                resp = await self._stub().Execute(req, timeout=UNARY_TIMEOUT)
                break
            except (grpc.aio.AioRpcError, TimeoutError) as exc:
                rpc = exc if isinstance(exc, grpc.aio.AioRpcError) else None
                if rpc is not None:
                    core.note_rpc_error(rpc)
                if core.stopping():
                    return None
                code = rpc.code() if rpc is not None else grpc.StatusCode.UNAVAILABLE
                if rpc is not None and code not in RETRY_CODES:
                    state.error = f"Not executed: {core.describe(rpc)}"
                elif time.monotonic() >= give_up:
                    state.error = (
                        f"No answer from the backend after {attempt + 1} attempts: the command may not "
                        "have been executed. Check the devices' state before sending it again."
                    )
                if state.error:
                    state.done = True
                    emit(state)
                    return None
                attempt += 1
                state.retries = attempt
                emit(state)
                await asyncio.sleep(backoff_delay(attempt))
        state = convert.command_state(key, resp.status, attempt)
        emit(state)
        return state

    async def _follow(self, first: CommandState) -> None:
        """Progress reports until the command is done (the stream reopens if it breaks)."""
        state = first

        async def open_call(_resume: Resume) -> grpc.aio.UnaryStreamCall:
            return self._stub().WatchCommand(commands_pb2.WatchCommandRequest(command_id=first.command_id))

        def on_message(st: commands_pb2.CommandStatus) -> None:
            nonlocal state
            state = convert.command_state(first.key, st, first.retries)
            self._emit(state)

        def on_event(e: StreamEvent) -> None:
            if e.state is StreamState.FAILED:
                state.error = f"Progress unavailable: {e.detail}"
                state.done = True
                self._emit(state)

        stream = self.core.stream(
            f"command {first.command_id}",
            open_call,
            on_message,
            on_event=on_event,
            stale_after=None,  # a command may stay quiet for a while: only a broken link matters
            done=lambda: state.done,
        )
        await stream.run()
