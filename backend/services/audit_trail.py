"""One audit record per audited RPC, with its outcome: "ok", or what the status said."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.security import principal

T = TypeVar("T")

_RESULTS = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid",
    grpc.StatusCode.PERMISSION_DENIED: "denied",
    grpc.StatusCode.UNAUTHENTICATED: "denied",
}


async def audited(
    audit: AuditSink,
    context: grpc.aio.ServicerContext,
    action: str,
    target: str,
    reason: str,
    work: Callable[[], Awaitable[T]],
    detail: Callable[[T], str] | None = None,
) -> T:
    """Run `work` (which may abort the call) and record who did `action` with what result."""
    who = principal.current()

    def write(result: str, more: str) -> None:
        audit.record(AuditEntry(who.user, who.console, action, target, reason[:1000], result, more))

    try:
        response = await work()
    except grpc.aio.AbortError:
        code = context.code()
        code = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
        write(_RESULTS.get(code, "failed"), f"{code.name}: {context.details() or ''}")
        raise
    except Exception as exc:
        write("failed", f"internal error: {type(exc).__name__}")
        raise
    write("ok", detail(response) if detail else "")
    return response
