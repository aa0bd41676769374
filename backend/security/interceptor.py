"""The authorisation interceptor: every call passes here before any service sees it.

Deny by default: the method must have a rule (backend.security.rules); unless it is PUBLIC the call
must carry `authorization: Bearer <token>` with a valid token (else UNAUTHENTICATED with the
reason) whose role reaches the rule's (else PERMISSION_DENIED "needs role X, you are Y"). Allowed
calls run with `principal.current()` set to the caller; their streams end UNAUTHENTICATED
"token revoked" as soon as their login session is revoked.

Refused calls are answered here without deserialising their request (an unauthenticated caller's
bytes reach no parser), except for audited methods, whose request is parsed only to name the
targets in the audit record (a small one, aggregated per peer: backend/security/refusal_audit.py).
Allowed calls' requests are parsed here too, so a malformed request
gets INVALID_ARGUMENT instead of a generic error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message_factory import GetMessageClass

from vigie.backend.domain.audit import AuditSink
from vigie.backend.security import principal as principal_mod
from vigie.backend.security.principal import Principal, Role
from vigie.backend.security.refusal_audit import WINDOW_S, RefusalAudit
from vigie.backend.security.rules import AUDITED_DENIALS, PUBLIC, allows, rule_for
from vigie.backend.security.tokens import LoginSession, TokenRegistry, TokenRejected
from vigie.v1 import commands_pb2  # noqa: F401 - registers ExecuteRequest (AUDITED_DENIALS) in the pool

log = logging.getLogger(__name__)

CONSOLE_KEY = "x-vigie-console"
MAX_CONSOLE_CHARS = 64
UNAUTHENTICATED_USER = ""  # the principal of PUBLIC calls made without a token


def clean_console(value: object) -> str:
    """A console name fit for logs and the audit trail: printable, at most 64 characters."""
    if not isinstance(value, str):
        return ""
    return "".join(c for c in value if c.isprintable()).strip()[:MAX_CONSOLE_CHARS]


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.invocation_metadata or ():
        out.setdefault(key, value)  # the first one wins: a duplicated header cannot override it
    return out


def _bearer(value: object) -> str:
    """The token of an `authorization` value; raises TokenRejected when there is none."""
    if value is None:
        raise TokenRejected("missing authorization metadata: send 'authorization: Bearer <token>'")
    scheme, _, token = value.partition(" ") if isinstance(value, str) else ("", "", "")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("malformed authorization metadata: expected 'Bearer <token>'")
    return token.strip()


def _short(method: str) -> str:
    return method if len(method) <= 200 else method[:200] + "…"


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: TokenRegistry, audit: AuditSink, refusal_window_s: float = WINDOW_S) -> None:
        self.tokens = tokens
        self.audit = audit
        self.refusals = RefusalAudit(audit, refusal_window_s)  # started and stopped by the Backend

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        md = _metadata(handler_call_details)
        console = clean_console(md.get(CONSOLE_KEY))
        rule = rule_for(method)
        if rule is None:
            return self._deny(method, grpc.StatusCode.PERMISSION_DENIED, f"no rule for {_short(method)}")
        session: LoginSession | None = None
        if rule == PUBLIC:
            who = Principal(UNAUTHENTICATED_USER, Role.VIEWER, console)
        else:
            try:
                entry = self.tokens.check(_bearer(md.get("authorization")))
            except TokenRejected as exc:
                return self._deny(method, grpc.StatusCode.UNAUTHENTICATED, str(exc), console=console)
            session = entry.session
            who = Principal(session.user, session.role, console or session.console, entry.id)
            if not allows(rule, who.role):
                reason = f"needs role {rule.name}, you are {who.role.name}"  # type: ignore[union-attr]
                return self._deny(method, grpc.StatusCode.PERMISSION_DENIED, reason, who=who)
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # not served here: UNIMPLEMENTED
        return _wrap(handler, who, session)

    # --- refusals -------------------------------------------------------------------------------

    def _deny(
        self,
        method: str,
        code: grpc.StatusCode,
        reason: str,
        who: Principal | None = None,
        console: str = "",
    ) -> grpc.RpcMethodHandler:
        log.debug("refused %s: %s %s", _short(method), code.name, reason)
        action = AUDITED_DENIALS.get(method)

        async def refuse(request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> None:
            if action is not None:
                raw = b""
                with contextlib.suppress(Exception):
                    raw = await anext(aiter(request_iterator), b"")
                ids, why = _summary(method, raw)
                self.refusals.refused(
                    context.peer() or "",
                    who.user if who else "",
                    who.console if who else console,
                    action,
                    ids,
                    why,
                    f"{code.name}: {reason}",
                )
            await context.abort(code, reason)

        # stream-stream: answers any kind of call without reading (or parsing) what it sent.
        return grpc.stream_stream_rpc_method_handler(refuse)


def _summary(method: str, raw: bytes) -> tuple[list[str], str]:
    """(asset ids, reason) of a refused request, as far as its bytes parse as the
    method's request type (fields named `asset_ids` and `reason`, when it has them)."""
    try:
        desc = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
        req = GetMessageClass(desc.input_type).FromString(raw)
    except Exception:
        return [], ""
    return list(getattr(req, "asset_ids", ())), str(getattr(req, "reason", ""))[:500]


# --- allowed calls ----------------------------------------------------------------------------------


def _wrap(
    handler: grpc.RpcMethodHandler, who: Principal, session: LoginSession | None
) -> grpc.RpcMethodHandler:
    """The same handler, running as `who`, parsing its own request, cut when `session` is revoked."""
    parse = handler.request_deserializer
    serialize = handler.response_serializer

    async def parsed(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        if parse is None:
            return raw
        try:
            return parse(raw)
        except Exception as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request cannot be parsed: {exc}")

    if handler.unary_unary is not None:
        inner_uu = handler.unary_unary

        async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            request = await parsed(raw, context)
            principal_mod.set_current(who)
            return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, response_serializer=serialize)

    if handler.unary_stream is not None:
        inner_us = handler.unary_stream

        async def unary_stream(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            request = await parsed(raw, context)
            principal_mod.set_current(who)
            async for msg in _until_revoked(inner_us(request, context), session, context):
                yield msg

        return grpc.unary_stream_rpc_method_handler(unary_stream, response_serializer=serialize)

    if handler.stream_unary is not None:
        inner_su = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            principal_mod.set_current(who)
            return await inner_su(requests, context)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, request_deserializer=parse, response_serializer=serialize
        )

    inner_ss = handler.stream_stream

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        principal_mod.set_current(who)
        async for msg in _until_revoked(inner_ss(requests, context), session, context):
            yield msg

    return grpc.stream_stream_rpc_method_handler(
        stream_stream, request_deserializer=parse, response_serializer=serialize
    )


async def _until_revoked(
    result: Any, session: LoginSession | None, context: grpc.aio.ServicerContext
) -> AsyncIterator[Any]:
    """Relay a stream handler's messages until its login session is revoked.

    `result` is an async generator, or a coroutine that writes with context.write(). Revocation
    cancels this task while it waits for the handler's next message (the only place it waits
    for the handler; while gRPC sends a message, the check before the next wait catches it), then
    the stream ends UNAUTHENTICATED "token revoked". No task per message: streams stay cheap."""
    if not hasattr(result, "__anext__"):  # context.write() style: the whole coroutine is one wait
        result = _drain(result)
    if session is None:
        async for msg in result:
            yield msg
        return
    task = asyncio.current_task()
    assert task is not None
    waiting = cut = False

    def on_revoke() -> None:
        nonlocal cut
        if waiting and not cut:
            cut = True
            task.cancel()

    session.on_revoke.add(on_revoke)
    try:
        while True:
            if session.revoked:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "token revoked")
            waiting = True
            try:
                msg = await result.__anext__()
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if not cut:
                    raise  # the client went away (or the server stops)
                task.uncancel()
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "token revoked")
            finally:
                waiting = False
            yield msg
    finally:
        session.on_revoke.discard(on_revoke)
        with contextlib.suppress(Exception):
            await result.aclose()


async def _drain(coro: Any) -> AsyncIterator[Any]:
    """A coroutine (that writes its messages itself) seen as a stream with no messages."""
    if asyncio.iscoroutine(coro):
        await coro
    return
    yield  # pragma: no cover - makes this an async generator
