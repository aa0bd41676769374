"""The client's core: the asyncio loop in its own thread, the channels, the login and `submit`.

grpc.aio objects must stay on the thread that made them and must not run on Qt's event loop, so
one asyncio loop runs in a thread of its own (as Spyder runs its kernel clients), and results
reach the GUI thread as queued Qt signals (`sig_*`). Service clients (app/client/*.py) are built
on a core: they add their start-up tasks, ask for stubs, and run their watches through
`stream()` (app/client/streams.py), which waits for the login this core keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.auth import (
    Credentials,
    PolicyChannel,
    TlsOptions,
    TokenHolder,
    default_console_name,
    explain_tls_failure,
)
from vigie.app.client.addresses import channel_target, loop_resolver, parse_backends
from vigie.app.client.streams import Call, ResilientStream, Resume, backoff_delay
from vigie.v1 import auth_pb2, auth_pb2_grpc

log = logging.getLogger(__name__)

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5_000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]
UNARY_TIMEOUT = 5.0
REPLACE_WAIT_S = 2.0  # the longest a replacing task waits for the one it replaces to end
ROLES = ("VIEWER", "OPERATOR", "SUPERVISOR", "ADMIN")

Stub = TypeVar("Stub")


def rpc_message(exc: grpc.aio.AioRpcError, tls_on: bool = False) -> str:
    """What the operator reads when a call fails: the server's reason, explained for refusals."""
    details = exc.details() or exc.code().name
    code = exc.code()
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return f"not allowed for your role — {details}"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"not logged in — {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "no answer from the backend in time"
    if code == grpc.StatusCode.UNAVAILABLE:
        return explain_tls_failure(details, tls_on) or f"backend unreachable — {details}"
    return details


async def _after(old: asyncio.Task[Any], coro: Awaitable[Any]) -> Any:
    """Run `coro` once `old` (just cancelled) has ended, or after REPLACE_WAIT_S at most.

    A replaced task often holds a stream (another asset's telemetry, a tile's playback). Measured
    on video streams: opened in the same turn of the loop as the cancellation, gRPC's core kept
    ~1.45 KB of native memory per replaced stream for good; opened once the cancelled call had
    ended, ~1.06 KB (docs/soak.md, "The video streams' native memory"; live video no longer
    cancels at all: app/client/video_link.py). Ending a call takes a few milliseconds."""
    await asyncio.wait([old], timeout=REPLACE_WAIT_S)
    del old  # its exception's traceback holds its frames (and their call): a chain otherwise
    return await coro


def _close_unstarted(coro: Any, _task: object = None) -> None:
    if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        coro.close()


class ClientCore(QObject):
    # state: "connecting" | "connected" | "disconnected" | "reconnecting" | "stopped";
    # detail: address or reason; retry_at: time.monotonic() of the next attempt (0 if none).
    sig_connection = Signal(str, str, float)
    sig_error = Signal(str)  # a failure the operator should read
    sig_logged_in = Signal(str, str)  # user, role name ("VIEWER" ... "ADMIN")
    # The console needs (new) credentials: why (wrong password, session ended by an administrator).
    sig_login_required = Signal(str)

    def __init__(
        self,
        address: str,
        credentials: Credentials | None = None,
        tls: TlsOptions | None = None,
        stale_after: float = 15.0,
    ) -> None:
        super().__init__()
        self.address = address  # one HOST:PORT, or a list to fail over across (app/client/addresses.py)
        self.target = address  # the gRPC channel target, set when the channels open
        self.credentials = credentials
        self.tls = tls
        self.stale_after = stale_after  # no message (not even a heartbeat) for this long: the link is dead
        self.user = ""
        self.role = ""  # "" until logged in
        self.state = "stopped"
        self.seat = ""  # the primary window's role (set_seat): part of the console's default name
        self.token = TokenHolder(credentials.console_name() if credentials else "")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="vigie-session", daemon=True)
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self._on_start: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        self._stubs: dict[tuple[Any, bool], Any] = {}
        self.channel: grpc.aio.Channel | None = None
        self.video_channel: grpc.aio.Channel | None = None
        self.channel_ready = asyncio.Event()  # set once the channels exist (calls may come before)
        self.logged_in = asyncio.Event()
        self._token_bad = asyncio.Event()
        self._revoked = ""
        self._authority = ""
        self.closing = False
        # Every resilient stream made here, while it lives: Help > Diagnostics lists them.
        self.streams: weakref.WeakSet[ResilientStream] = weakref.WeakSet()

    # ---- lifecycle (GUI thread) ------------------------------------------------------------

    def on_start(self, name: str, factory: Callable[[], Awaitable[Any]]) -> None:
        """A task a service client runs from start() on (the asset and alarm watches)."""
        self._on_start.append((name, factory))

    def start(self) -> None:
        self._thread.start()
        self.submit(self._start())

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        fut = self.submit(self._shutdown())
        try:
            fut.result(timeout)
        except Exception:  # best effort at exit
            log.exception("session shutdown")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)

    def submit(self, coro: Awaitable[Any]) -> Future[Any]:
        """Run a coroutine on the client loop (from any thread); after stop() it is dropped."""
        if self.loop.is_closed() or not self._thread.is_alive():
            # replace_task(name, coro) holds a second coroutine: close it too (else "never awaited").
            frame = getattr(coro, "cr_frame", None)
            inner = frame.f_locals.get("coro") if frame is not None else None
            if asyncio.iscoroutine(inner):
                inner.close()
            coro.close()  # type: ignore[attr-defined]
            done: Future[Any] = Future()
            done.cancel()
            return done
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def submit_early(self, coro: Awaitable[Any]) -> None:
        """Like submit(), but also before start(): the coroutine runs as soon as the loop does
        (controllers are built before the session starts)."""
        if self._thread.ident is None:
            asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        else:
            self.submit(coro)

    def set_seat(self, seat: str) -> None:
        """The workspace put the console's primary window in `seat` ("console-left"): calls from
        now on name the console after it, unless the credentials or VIGIE_CONSOLE name it."""
        self.seat = seat
        self.token.console = (
            self.credentials.console_name(seat) if self.credentials else default_console_name(seat)
        )

    def may(self, role: str) -> bool:
        """The logged-in user has at least `role` (the server decides; this only shapes the UI)."""
        return bool(self.role) and ROLES.index(self.role) >= ROLES.index(role)

    def login(self, credentials: Credentials) -> None:
        """Log in (again) with new credentials, e.g. from the login dialog or "Switch user"."""
        self.submit(self._switch_user(credentials))

    # ---- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        # Not closed: grpc.aio's completion-queue poller may still post to it after stop()
        # ("Event loop is closed" tracebacks when a process runs several sessions).

    def _open_channel(self) -> grpc.aio.Channel:
        options: list[tuple[str, Any]] = list(CHANNEL_OPTIONS)
        if self.tls is not None and self._authority:
            # A list target has no host name of its own: certificates are checked against the
            # first backend's name (replicas of one service share a certificate name).
            options.append(("grpc.ssl_target_name_override", self._authority))
        if self.tls is None:
            return grpc.aio.insecure_channel(self.target, options=options)
        return grpc.aio.secure_channel(self.target, self._tls_credentials, options=options)

    async def _start(self) -> None:
        self._authority = ""
        try:
            endpoints = parse_backends(self.address)
            self.target = await channel_target(endpoints, loop_resolver(self.loop))
        except (ValueError, OSError) as exc:
            self.set_state("disconnected", f"{self.address}: {exc}")
            self.sig_error.emit(f"Backend address {self.address!r}: {exc}")
            return
        if len(endpoints) > 1:
            self._authority = endpoints[0].host
        if self.tls is not None:
            try:
                self._tls_credentials = self.tls.channel_credentials()
            except ValueError as exc:
                self.set_state("disconnected", f"{self.address}: {exc}")
                self.sig_error.emit(str(exc))
                return
        self.channel = self._open_channel()
        # Video gets its own connection so a burst of pictures never delays asset changes.
        self.video_channel = self._open_channel()
        self._auth = auth_pb2_grpc.AuthServiceStub(PolicyChannel(self.channel, self.token))
        self.channel_ready.set()
        self.tasks["auth"] = self.spawn(self._auth_loop())
        for name, factory in self._on_start:
            self.tasks[name] = self.spawn(factory())

    async def _shutdown(self) -> None:
        # grpc.aio may turn a cancellation into an AioRpcError(CANCELLED), which the loops would
        # take for a broken link and retry: they check this flag first.
        self.closing = True
        if self.token.token:  # say goodbye, for the audit trail (best effort, short)
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self._auth.Logout(auth_pb2.LogoutRequest(), timeout=1.0)
            self.token.token = ""
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        for ch in (self.channel, self.video_channel):
            if ch is not None:
                await ch.close()
        self.set_state("stopped", self.address)

    def stopping(self) -> bool:
        """The running loop was asked to end (client stop, or its task replaced/cancelled)."""
        task = asyncio.current_task()
        return self.closing or (task is not None and task.cancelling() > 0)

    async def replace_task(self, name: str, coro: Awaitable[Any] | None) -> None:
        """Run `coro` under `name`, cancelling what ran under it (None: only cancel). `coro`
        starts once the cancelled task has ended (`_after` says why)."""
        old = self.tasks.pop(name, None)
        if old is not None:
            old.cancel()
        if coro is None:
            return
        if old is None:
            self.tasks[name] = self.spawn(coro)
            return
        task = self.tasks[name] = self.spawn(_after(old, coro))
        if inspect.iscoroutine(coro):  # replaced again before it started: it never runs
            task.add_done_callback(functools.partial(_close_unstarted, coro))

    def forget_task(self, name: str) -> None:
        """A task under `name` ended by itself (not during shutdown, which clears them all)."""
        if not self.closing:
            self.tasks.pop(name, None)

    @staticmethod
    def spawn(coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """A task whose unexpected death is logged (a silent one would freeze a part of the console)."""
        task = asyncio.ensure_future(coro)

        def done(t: asyncio.Task[Any]) -> None:
            if not t.cancelled() and t.exception() is not None:
                log.error("session task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def set_state(self, state: str, detail: str, retry_at: float = 0.0) -> None:
        self.state = state
        self.sig_connection.emit(state, detail, retry_at)

    # ---- what service clients use ----------------------------------------------------------

    def stub(self, cls: Callable[[grpc.aio.Channel], Stub], video: bool = False) -> Stub:
        """The service's stub on the (video) channel; only once the channels exist."""
        key = (cls, video)
        if key not in self._stubs:
            channel = self.video_channel if video else self.channel
            self._stubs[key] = cls(PolicyChannel(channel, self.token))
        stub: Stub = self._stubs[key]
        return stub

    async def ready_stub(self, cls: Callable[[grpc.aio.Channel], Stub], video: bool = False) -> Stub:
        """The stub once the channels exist and somebody is logged in (for calls that may be
        asked for before start(), and for reads that need a login)."""
        await self.channel_ready.wait()
        await self.logged_in.wait()
        return self.stub(cls, video)

    def describe(self, exc: grpc.aio.AioRpcError) -> str:
        return rpc_message(exc, self.tls is not None)

    def stream(
        self,
        name: str,
        open_call: Callable[[Resume], Awaitable[Call]],
        on_message: Callable[[Any], None],
        **kwargs: Any,
    ) -> ResilientStream:
        """A resilient stream that waits for this core's login and reports refused tokens to it."""
        kwargs.setdefault("stale_after", self.stale_after)
        made = ResilientStream(
            name,
            open_call,
            on_message,
            logged_in=self.logged_in,
            on_rpc_error=self.note_rpc_error,
            stopping=lambda: self.closing,
            describe=self.describe,
            **kwargs,
        )
        self.streams.add(made)
        return made

    # ---- authentication --------------------------------------------------------------------

    async def _switch_user(self, credentials: Credentials) -> None:
        """End the current login (if any: its streams reopen with the new token), then log in."""
        old = self.token.token
        # Not logged in from here: the old session's streams, cut by the logout, are not taken
        # for a revocation of the new one.
        self.logged_in.clear()
        self.token.token = ""
        if old:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self._auth.Logout(
                    auth_pb2.LogoutRequest(),
                    timeout=UNARY_TIMEOUT,
                    metadata=[("authorization", f"Bearer {old}")],
                )
        self.credentials = credentials
        self.token.console = credentials.console_name(self.seat)
        await self.replace_task("auth", self._auth_loop())

    async def _auth_loop(self) -> None:
        """Log in, keep the token fresh, and log in again when the server forgets the token (a
        backend restart). A revoked session or a wrong password asks the user instead."""
        self._revoked = ""
        attempt = 0
        while not self.stopping():
            creds = self.credentials
            if creds is None:
                self.sig_login_required.emit("Log in to use this console.")
                return
            try:
                resp = await self._auth.Login(
                    auth_pb2.LoginRequest(
                        user=creds.user, password=creds.password, console=self.token.console
                    ),
                    timeout=UNARY_TIMEOUT,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
                    self._logged_out(f"Login refused: {exc.details() or 'wrong user or password'}")
                    return
                if self.stopping():
                    return
                delay = backoff_delay(attempt)
                attempt += 1
                self.set_state(
                    "disconnected", f"{self.address}: {self.describe(exc)}", time.monotonic() + delay
                )
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._take_token(resp)
            await self._keep_fresh(resp.expires_at.ToSeconds())
            if self._revoked:
                self._logged_out(self._revoked)
                return

    async def _keep_fresh(self, expires_at: float) -> None:
        """Refresh the token at 60 % of its life; return when the server refused it."""
        self._token_bad.clear()
        while True:
            wait = max(1.0, (expires_at - time.time()) * 0.6)
            try:
                async with asyncio.timeout(wait):
                    await self._token_bad.wait()
                return
            except TimeoutError:
                pass
            try:
                resp = await self._auth.Refresh(auth_pb2.RefreshRequest(), timeout=UNARY_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    self.note_rpc_error(exc)
                    return
                if time.time() >= expires_at or self._token_bad.is_set():
                    return  # could not refresh in time (or a stream was refused): log in again
                continue  # unreachable for now: try again a little later, the token still holds
            self._take_token(resp)
            expires_at = resp.expires_at.ToSeconds()

    def _take_token(self, resp: auth_pb2.LoginResponse) -> None:
        self.token.token = resp.token
        role = auth_pb2.Role.Name(resp.role)
        changed = (resp.user, role) != (self.user, self.role)
        self.user, self.role = resp.user, role
        if not self.logged_in.is_set() or changed:
            self.logged_in.set()
            self.sig_logged_in.emit(self.user, self.role)

    def _logged_out(self, reason: str) -> None:
        self.token.token = ""
        self.role = ""
        self.logged_in.clear()
        self.set_state("disconnected", f"{self.address}: not logged in")
        self.sig_login_required.emit(reason)

    def note_rpc_error(self, exc: grpc.aio.AioRpcError) -> None:
        """Any call that meets UNAUTHENTICATED tells the auth loop (which logs in again or asks)."""
        if exc.code() != grpc.StatusCode.UNAUTHENTICATED or not self.logged_in.is_set():
            return
        details = exc.details() or ""
        if "revoked" in details.lower():
            self._revoked = f"Your session was ended by the server ({details}). Log in again."
        self.logged_in.clear()
        self.token.token = ""
        self._token_bad.set()
