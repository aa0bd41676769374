"""Size bounds on every request of every service, checked once, before any handler runs.

A request's strings, bytes, lists and maps are read from its descriptor, so a field added to a
.proto is bounded the day it appears: text at `MAX_TEXT` characters, identifiers (names ending in
`_id`, `_ids`, `_key`, `_token`, and a few others) at `MAX_ID`, lists at `MAX_ITEMS` entries,
with the exceptions in `MAX_CHARS` and `MAX_ENTRIES`. Anything past a bound is refused
INVALID_ARGUMENT with the field's path, so nothing oversized is ever stored, echoed to other consoles or written to the audit trail
(one 3.9 MB comment once broke every alarm stream). The services keep their own, stricter,
domain rules; these bounds are the floor under all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

MAX_TEXT = 1000  # comments, reasons, names, notes, search text (characters)
MAX_ID = 128  # ids, keys, tokens (characters)
MAX_BYTES = 1000  # bytes fields (none in requests today)
MAX_ITEMS = 500  # entries of a repeated or map field
MAX_DEPTH = 16  # nested messages; the schemas nest 3 deep at most

ID_NAMES = {"id", "epoch", "metric", "user", "operator", "console", "wall", "display", "action", "result"}
ID_SUFFIXES = ("_id", "_ids", "_key", "_token", "_by")

# Exceptions by full field name: characters of a string (each entry, for a list of strings)...
MAX_CHARS: dict[str, int] = {
    # The password module refuses past 1024 with its own message; stay above it.
    "vigie.v1.LoginRequest.password": 4096,
    "vigie.v1.CreateUserRequest.password": 4096,
    # Reflection clients name symbols and files, sometimes long ones.
    "grpc.reflection.v1alpha.ServerReflectionRequest.file_containing_symbol": MAX_TEXT,
    # Asset ids, though the name does not say so.
    "vigie.v1.ReturnToNormalRequest.restore_hand_changed": MAX_ID,
}
# ... and entries of a list.
MAX_ENTRIES: dict[str, int] = {
    # A long selection acknowledged at once: 400 alarms fit one 4 MB reply even with the
    # longest comment and shelving reason (each echoed alarm is at most ~9 KB).
    "vigie.v1.AcknowledgeRequest.alarm_ids": 400,
    "vigie.v1.ShelveRequest.alarm_ids": 400,
    "vigie.v1.UnshelveRequest.alarm_ids": 400,
    # A supervisor may restore every device an operator changed by hand during a whole-city mode.
    "vigie.v1.ReturnToNormalRequest.restore_hand_changed": 5000,
}


def _is_id(field: FieldDescriptor) -> bool:
    name = field.name
    return name in ID_NAMES or name.endswith(ID_SUFFIXES)


def _chars(field: FieldDescriptor) -> int:
    return MAX_CHARS.get(field.full_name, MAX_ID if _is_id(field) else MAX_TEXT)


def _entries(field: FieldDescriptor) -> int:
    return MAX_ENTRIES.get(field.full_name, MAX_ITEMS)


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _check_scalar(field: FieldDescriptor, value: Any, path: str) -> str:
    if field.type == FieldDescriptor.TYPE_STRING:
        cap = _chars(field)
        if len(value) > cap:
            return f"{path} is {len(value)} characters long (at most {cap})"
    elif field.type == FieldDescriptor.TYPE_BYTES:
        cap = MAX_CHARS.get(field.full_name, MAX_BYTES)
        if len(value) > cap:
            return f"{path} is {len(value)} bytes long (at most {cap})"
    return ""


def problem(message: Message, path: str = "", depth: int = 0) -> str:
    """Why `message` is past a bound ("" when it is within all of them), naming the field."""
    if depth > MAX_DEPTH:
        return f"{path or 'the request'} nests deeper than {MAX_DEPTH} messages"
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        is_message = field.type == FieldDescriptor.TYPE_MESSAGE
        if _is_map(field):
            cap = _entries(field)
            if len(value) > cap:
                return f"{where} has {len(value)} entries (at most {cap})"
            key_f = field.message_type.fields_by_name["key"]
            value_f = field.message_type.fields_by_name["value"]
            for k, v in value.items():
                at = f"{where}[{str(k)[:40]!r}]"  # the key was checked first: short enough to quote
                why = _check_scalar(key_f, k, f"{where} key") or (
                    problem(v, at, depth + 1)
                    if value_f.type == FieldDescriptor.TYPE_MESSAGE
                    else _check_scalar(value_f, v, at)
                )
                if why:
                    return why
        elif field.is_repeated:
            cap = _entries(field)
            if len(value) > cap:
                return f"{where} has {len(value)} entries (at most {cap})"
            for i, item in enumerate(value):
                item_path = f"{where}[{i}]"
                why = (
                    problem(item, item_path, depth + 1)
                    if is_message
                    else _check_scalar(field, item, item_path)
                )
                if why:
                    return why
        elif is_message:
            why = problem(value, where, depth + 1)
            if why:
                return why
        else:
            why = _check_scalar(field, value, where)
            if why:
                return why
    return ""


async def _refuse_if_out(request: Any, context: grpc.aio.ServicerContext) -> None:
    if isinstance(request, Message):
        why = problem(request)
        if why:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)


async def _messages(result: Any) -> AsyncIterator[Any]:
    """A stream handler's result as an async iterator (a coroutine that writes with
    context.write() yields nothing here)."""
    if hasattr(result, "__anext__"):
        async for msg in result:
            yield msg
    else:
        await result


def _checked(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
    async def gen() -> AsyncIterator[Any]:
        async for request in requests:
            await _refuse_if_out(request, context)
            yield request

    return gen()


def bounded(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """The same handler, refusing requests past a bound before its behaviour runs (the
    deserializer stays, so outer interceptors still parse as before)."""
    parse, serialize = handler.request_deserializer, handler.response_serializer
    if handler.unary_unary is not None:
        uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await _refuse_if_out(request, context)
            return await uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, parse, serialize)
    if handler.unary_stream is not None:
        us = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await _refuse_if_out(request, context)
            async for msg in _messages(us(request, context)):
                yield msg

        return grpc.unary_stream_rpc_method_handler(unary_stream, parse, serialize)
    if handler.stream_unary is not None:
        su = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            return await su(_checked(requests, context), context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, parse, serialize)
    ss = handler.stream_stream

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async for msg in _messages(ss(_checked(requests, context), context)):
            yield msg

    return grpc.stream_stream_rpc_method_handler(stream_stream, parse, serialize)


class BoundsInterceptor(grpc.aio.ServerInterceptor):
    """Applies `bounded` to every method served (placed after the authorisation interceptor, so
    refused callers are answered before their request is even parsed)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        return None if handler is None else bounded(handler)
