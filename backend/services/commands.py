"""vigie.v1.CommandService: the action table, exactly-once Execute, and command progress.

The rules live in the domain (domain/commands.py: validation, roles, idempotency, audit); this
module maps them to gRPC statuses. The caller is `principal.current()` (set by the auth
interceptor; an anonymous admin without one)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from vigie.backend.domain.actions import ACTIONS
from vigie.backend.domain.commands import (
    Command,
    CommandBook,
    CommandDenied,
    CommandInvalid,
    UnknownCommand,
)
from vigie.backend.security import principal
from vigie.backend.services.convert import action_spec_to_pb, command_request_from_pb, command_to_pb
from vigie.v1 import commands_pb2, commands_pb2_grpc

MAX_ID = 128


class CommandService(commands_pb2_grpc.CommandServiceServicer):
    def __init__(self, book: CommandBook) -> None:
        self.book = book
        self._actions = commands_pb2.ListActionsResponse(
            actions=[action_spec_to_pb(s) for s in ACTIONS.values()]
        )

    async def ListActions(
        self, request: commands_pb2.ListActionsRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.ListActionsResponse:
        return self._actions

    async def Execute(
        self, request: commands_pb2.ExecuteRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.ExecuteResponse:
        """Returns once every target is ACCEPTED (on its way) or REJECTED; follow with WatchCommand."""
        caller = principal.current()
        try:
            command, replayed = await self.book.execute(command_request_from_pb(request), caller)
        except CommandInvalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except CommandDenied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        return commands_pb2.ExecuteResponse(status=command_to_pb(command.snapshot(), replayed))

    async def GetCommand(
        self, request: commands_pb2.GetCommandRequest, context: grpc.aio.ServicerContext
    ) -> commands_pb2.CommandStatus:
        command = await self._find(request.command_id, context)
        return command_to_pb(command.snapshot())

    async def WatchCommand(
        self, request: commands_pb2.WatchCommandRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[commands_pb2.CommandStatus]:
        command = await self._find(request.command_id, context)
        async for snapshot in command.watch():
            yield command_to_pb(snapshot)

    async def _find(self, command_id: str, context: grpc.aio.ServicerContext) -> Command:
        if not command_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "command_id is required")
        if len(command_id) > MAX_ID:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"command_id is {len(command_id)} characters (at most {MAX_ID})",
            )
        try:
            return self.book.get(command_id)
        except UnknownCommand as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        raise AssertionError("unreachable")
