"""How the console proves who it is: credentials, TLS settings and the call interceptor.

Every call on the session's channels goes through `CallPolicy`, the one place that adds the
`authorization: Bearer <token>` and `x-vigie-console` metadata, gives unary calls a deadline when
the caller set none, and lets reads that are safe to repeat wait for the channel to be ready.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

DEFAULT_DEADLINE = 10.0  # seconds, for a unary call whose caller set none

# Reads that change nothing: they may wait for the channel to become ready (and so survive a
# backend restart) instead of failing at once with UNAVAILABLE.
SAFE_READ_PREFIXES = ("List", "Get", "WhoAmI")


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    console: str = ""

    def console_name(self, seat: str = "") -> str:
        return self.console or default_console_name(seat)


def default_console_name(seat: str = "") -> str:
    """VIGIE_CONSOLE, else the seat (the primary window's role, "console-left") at its host: the
    audit trail says which position of the room acted, not only which machine."""
    host = socket.gethostname()
    return os.environ.get("VIGIE_CONSOLE") or (f"{seat}@{host}" if seat else host)


@dataclass(frozen=True)
class TlsOptions:
    """The CA that signs the backend's certificate, and the console's own certificate when the
    backend asks for one (`vigie-backend --client-ca`)."""

    ca: str
    cert: str = ""
    key: str = ""

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Reads the files (small, once per session). Raises ValueError with a readable reason."""

        def read(path: str, what: str) -> bytes:
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise ValueError(f"cannot read the {what} {path}: {exc.strerror}") from exc

        if bool(self.cert) != bool(self.key):
            raise ValueError("a client certificate needs both --tls-cert and --tls-key")
        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca, "CA certificate"),
            private_key=read(self.key, "client key") if self.key else None,
            certificate_chain=read(self.cert, "client certificate") if self.cert else None,
        )


def explain_tls_failure(details: str, tls_on: bool = False) -> str | None:
    """A human reason for a refused TLS handshake, or None when `details` is not one."""
    low = details.lower()
    if tls_on and "socket closed" in low:
        # A backend that wants a client certificate hangs up during the handshake.
        return (
            "TLS refused: the backend closed the connection during the handshake — it may require a "
            "certificate for this console (--tls-cert/--tls-key), or it does not serve TLS"
        )
    if "ssl" not in low and "handshake" not in low and "certificate" not in low and "tls" not in low:
        return None
    if "expired" in low:
        return "TLS refused: a certificate has expired (the backend's, or this console's)"
    return (
        "TLS refused: the backend's certificate is not trusted by the configured CA, or the backend "
        "refused this console's certificate"
    )


class TokenHolder:
    """The current token; written by the session loop, read by the interceptor on the same loop."""

    def __init__(self, console: str) -> None:
        self.token = ""
        self.console = console

    def metadata(self) -> list[tuple[str, str]]:
        md = [("x-vigie-console", self.console)]
        if self.token:
            md.append(("authorization", f"Bearer {self.token}"))
        return md


def _with_policy(details: Any, holder: TokenHolder, unary: bool) -> Any:
    metadata = list(details.metadata or []) + holder.metadata()
    timeout = details.timeout
    if unary and timeout is None:
        timeout = DEFAULT_DEADLINE
    method = details.method  # bytes in grpc.aio, and it must stay bytes
    name = method.decode() if isinstance(method, bytes) else method
    wait = details.wait_for_ready
    if wait is None and name.rsplit("/", 1)[-1].startswith(SAFE_READ_PREFIXES):
        wait = True
    return grpc.aio.ClientCallDetails(method, timeout, metadata, details.credentials, wait)


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, holder: TokenHolder) -> None:
        self.holder = holder

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(_with_policy(client_call_details, self.holder, True), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, holder: TokenHolder) -> None:
        self.holder = holder

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(_with_policy(client_call_details, self.holder, False), request)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    """Playback's Play (the one bidirectional stream, docs/recording.md)."""

    def __init__(self, holder: TokenHolder) -> None:
        self.holder = holder

    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return await continuation(_with_policy(client_call_details, self.holder, False), request_iterator)


def interceptors(holder: TokenHolder) -> list[grpc.aio.ClientInterceptor]:
    """The call policy for every channel of a session (Play is its one bidirectional stream)."""
    return [_UnaryUnary(holder), _UnaryStream(holder), _StreamStream(holder)]
