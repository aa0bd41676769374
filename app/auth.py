"""How the console proves who it is: credentials, TLS settings and the call policy.

Every call on the session's channels goes through `PolicyChannel`, the one place that adds the
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


class _PolicyCallable:
    """One method of a session's channel, called with the policy applied."""

    def __init__(self, inner: Any, method: str, unary: bool, holder: TokenHolder) -> None:
        self._inner, self._unary, self._holder = inner, unary, holder
        self._safe = method.rsplit("/", 1)[-1].startswith(SAFE_READ_PREFIXES)

    def __call__(
        self,
        request: Any = None,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        if self._unary and timeout is None:
            timeout = DEFAULT_DEADLINE
        if wait_for_ready is None and self._safe:
            wait_for_ready = True
        return self._inner(
            request,
            timeout=timeout,
            metadata=[*(metadata or ()), *self._holder.metadata()],
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )


class PolicyChannel:
    """A session's channel as its stubs see it: every method applies the call policy.

    Not grpc.aio's client interceptors: with them each streaming call left about 0.5 KB of native
    memory behind after it was cancelled (measured against the backend's StreamVideo: ~600 bytes
    a call with the interceptors, ~150 without), and a console starts hundreds of video streams an
    hour (docs/soak.md). Wrapping the channel's method factories gives each call the same metadata,
    deadline and wait-for-ready with a plain call underneath."""

    def __init__(self, channel: grpc.aio.Channel, holder: TokenHolder) -> None:
        self.channel, self.holder = channel, holder

    def _wrap(self, factory: Any, method: str, unary: bool, *args: Any, **kwargs: Any) -> _PolicyCallable:
        return _PolicyCallable(factory(method, *args, **kwargs), method, unary, self.holder)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self.channel.unary_unary, method, True, *args, **kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self.channel.unary_stream, method, False, *args, **kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self.channel.stream_unary, method, True, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Playback's Play (the one bidirectional stream, docs/recording.md)."""
        return self._wrap(self.channel.stream_stream, method, False, *args, **kwargs)
