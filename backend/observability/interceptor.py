"""The outermost server interceptor: each call gets a request id and its method in the logging
context (backend/observability/logs.py), and its outcome in the metrics (RPCs by method and
code, unary latency, open streams, streamed messages). It sits before authorisation, so refused
calls are counted and logged with their id too."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from vigie.backend.observability import logs
from vigie.backend.observability.metrics import Metrics
from vigie.backend.security.rules import RULES

REQUEST_ID_KEY = "x-request-id"
VERSION_KEY = "x-vigie-version"  # sent with health Check answers: consoles show it (Help > Diagnostics)
VIDEO_METHODS = ("/vigie.v1.VideoService/StreamVideo", "/vigie.v1.VideoService/WatchVideo")
HEALTH_CHECK = "/grpc.health.v1.Health/Check"


def _request_id(details: grpc.HandlerCallDetails) -> str:
    """The caller's x-request-id when it is a short printable token, else a new one."""
    for key, value in details.invocation_metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str):
            clean = "".join(c for c in value if c.isalnum() or c in "-_.")[:64]
            if clean:
                return clean
    return uuid.uuid4().hex[:16]


def _code(context: grpc.aio.ServicerContext, failed: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if failed is None:
        return "OK"
    return "CANCELLED" if isinstance(failed, (asyncio.CancelledError, GeneratorExit)) else "UNKNOWN"


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: Metrics, version: str = "") -> None:
        self.metrics = metrics
        self.version = version

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        label = method if method in RULES else "unknown"
        logs.start_request(_request_id(handler_call_details), label)
        handler = await continuation(handler_call_details)
        if handler is None:
            self.metrics.rpcs.labels(label, "UNIMPLEMENTED").inc()
            return None
        header = ((VERSION_KEY, self.version),) if method == HEALTH_CHECK and self.version else ()
        return _measured(handler, label, self.metrics, header)


def _measured(
    handler: grpc.RpcMethodHandler, method: str, m: Metrics, header: tuple[tuple[str, str], ...] = ()
) -> grpc.RpcMethodHandler:
    """The same handler, counted. The request id set in intercept_service is copied into the
    task that runs it (gRPC runs the handler in the same context)."""
    parse, serialize = handler.request_deserializer, handler.response_serializer
    kind = method.rsplit("/", 1)[-1]

    def finish(context: grpc.aio.ServicerContext, failed: BaseException | None) -> None:
        m.rpcs.labels(method, _code(context, failed)).inc()

    if handler.unary_unary is not None or handler.stream_unary is not None:
        inner = handler.unary_unary or handler.stream_unary
        assert inner is not None

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            failed: BaseException | None = None
            try:
                if header:
                    await context.send_initial_metadata(header)
                return await inner(request, context)
            except BaseException as exc:
                failed = exc
                raise
            finally:
                m.rpc_seconds.labels(method).observe(time.perf_counter() - start)
                finish(context, failed)

        make = (
            grpc.unary_unary_rpc_method_handler
            if handler.unary_unary is not None
            else grpc.stream_unary_rpc_method_handler
        )
        return make(unary, request_deserializer=parse, response_serializer=serialize)

    inner_stream = handler.unary_stream or handler.stream_stream
    assert inner_stream is not None
    is_video = method in VIDEO_METHODS

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        failed: BaseException | None = None
        m.open_streams.labels(kind).inc()
        sent = m.stream_messages.labels(kind)
        try:
            result = inner_stream(request, context)
            if not hasattr(result, "__anext__"):  # context.write() style handler
                await result
                return
            async for msg in result:
                sent.inc()
                if is_video:
                    m.video_frames.inc()
                yield msg
        except BaseException as exc:
            failed = exc
            raise
        finally:
            m.open_streams.labels(kind).dec()
            finish(context, failed)

    make_stream = (
        grpc.unary_stream_rpc_method_handler
        if handler.unary_stream is not None
        else grpc.stream_stream_rpc_method_handler
    )
    return make_stream(stream, request_deserializer=parse, response_serializer=serialize)
