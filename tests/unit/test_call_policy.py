"""The session's call policy (app/auth.py, PolicyChannel) against a real grpc.aio server on
loopback: what every call carries, the deadline a unary call gets, which reads wait for the
backend, and that streaming calls are plain calls (no client interceptor, docs/soak.md)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import grpc
import pytest

from vigie.app.auth import PolicyChannel, TokenHolder

SERVICE = "t.Policy"


class Recorder:
    """A generic service recording each call's metadata and remaining time."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], float | None]] = []

    def _note(self, name: str, context: grpc.aio.ServicerContext) -> None:
        self.seen.append((name, dict(context.invocation_metadata() or ()), context.time_remaining()))

    async def get(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self._note("GetThing", context)
        return b"got"

    async def do(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self._note("DoThing", context)
        return b"done"

    async def stream(self, request: bytes, context: grpc.aio.ServicerContext) -> Any:
        self._note("StreamThings", context)
        for i in range(3):
            yield bytes([i])

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "GetThing": grpc.unary_unary_rpc_method_handler(self.get),
                "DoThing": grpc.unary_unary_rpc_method_handler(self.do),
                "StreamThings": grpc.unary_stream_rpc_method_handler(self.stream),
            },
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_server(recorder: Recorder, port: int) -> grpc.aio.Server:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((recorder.handler(),))
    assert server.add_insecure_port(f"127.0.0.1:{port}") == port
    await server.start()
    return server


def methods(channel: PolicyChannel) -> tuple[Any, Any, Any]:
    return (
        channel.unary_unary(f"/{SERVICE}/GetThing"),
        channel.unary_unary(f"/{SERVICE}/DoThing"),
        channel.unary_stream(f"/{SERVICE}/StreamThings"),
    )


def test_every_call_carries_the_current_token_and_console_name() -> None:
    async def scenario() -> list[tuple[str, dict[str, str], float | None]]:
        recorder, port = Recorder(), free_port()
        server = await start_server(recorder, port)
        holder = TokenHolder("desk-3")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            get, do, stream = methods(PolicyChannel(ch, holder))
            await get(b"")  # before any login: the console's name, no token
            holder.token = "first"
            await do(b"", metadata=[("x-extra", "kept")])
            holder.token = "second"
            assert [m async for m in stream(b"")] == [b"\x00", b"\x01", b"\x02"]
        await server.stop(None)
        return recorder.seen

    seen = asyncio.run(scenario())
    assert [name for name, _md, _left in seen] == ["GetThing", "DoThing", "StreamThings"]
    (_, md0, _), (_, md1, _), (_, md2, _) = seen
    assert md0["x-vigie-console"] == "desk-3" and "authorization" not in md0
    assert md1["authorization"] == "Bearer first" and md1["x-extra"] == "kept"
    assert md2["authorization"] == "Bearer second" and md2["x-vigie-console"] == "desk-3"


def test_unary_calls_get_the_default_deadline_and_streams_none() -> None:
    async def scenario() -> list[tuple[str, dict[str, str], float | None]]:
        recorder, port = Recorder(), free_port()
        server = await start_server(recorder, port)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            get, do, stream = methods(PolicyChannel(ch, TokenHolder("c")))
            await get(b"")
            await do(b"", timeout=3.0)
            [m async for m in stream(b"")]
        await server.stop(None)
        return recorder.seen

    (_, _, left_default), (_, _, left_given), (_, _, left_stream) = asyncio.run(scenario())
    # Clocks differ by a few milliseconds between the two ends: a margin above.
    assert left_default is not None and 8.0 < left_default <= 10.5  # the policy's 10 s
    assert left_given is not None and 1.0 < left_given <= 3.5  # the caller's own 3 s
    assert left_stream is None


def test_a_safe_read_waits_for_the_backend_and_an_action_fails_at_once() -> None:
    async def scenario() -> tuple[bytes, grpc.StatusCode]:
        recorder, port = Recorder(), free_port()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            get, do, _ = methods(PolicyChannel(ch, TokenHolder("c")))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await do(b"", timeout=3.0)  # nobody listens yet: UNAVAILABLE, not a wait
            read = asyncio.ensure_future(get(b"", timeout=8.0))
            await asyncio.sleep(0.3)
            assert not read.done()  # waiting for the backend, not failed
            server = await start_server(recorder, port)
            answer = await read
        await server.stop(None)
        return answer, refused.value.code()

    answer, code = asyncio.run(scenario())
    assert answer == b"got"
    assert code is grpc.StatusCode.UNAVAILABLE


def test_streaming_calls_are_plain_calls_not_intercepted_ones() -> None:
    """grpc.aio's client interceptors kept native memory for each cancelled streaming call; the
    policy must not bring them back."""

    async def scenario() -> type:
        recorder, port = Recorder(), free_port()
        server = await start_server(recorder, port)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            _, _, stream = methods(PolicyChannel(ch, TokenHolder("c")))
            call = stream(b"")
            kind = type(call)
            call.cancel()
        await server.stop(None)
        return kind

    kind = asyncio.run(scenario())
    assert kind.__name__ == "UnaryStreamCall", kind
