"""The console's one connection to the backend.

An asyncio loop in its own thread owns the grpc.aio channels (grpc.aio objects must stay on the
thread that made them, and must not run on Qt's event loop). Results reach the GUI thread as
queued Qt signals. The asset watch resumes from the last revision it saw after any disconnect,
reloads a snapshot when the server says "resync needed", and coalesces bursts of changes so
the GUI receives at most one batch every `flush_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from PySide6.QtCore import QObject, Signal
from vigie.v1 import (
    alarms_pb2,
    alarms_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    commands_pb2,
    commands_pb2_grpc,
    map_pb2,
    map_pb2_grpc,
    video_pb2,
    video_pb2_grpc,
    wall_pb2,
    wall_pb2_grpc,
)

from app.auth import Credentials, TlsOptions, TokenHolder, explain_tls_failure, interceptors
from app.models.audit import AuditRow, write_csv
from app.models.commands import ActionInfo, CommandState, TargetState
from app.models.records import AlarmRecord, AssetRecord, CameraInfo, Series
from app.wall.content import WallContent, WallState

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
COMMAND_RETRY_S = 30.0  # how long a command whose answer was lost is retried (with the same key)
# Answers after which the request may not have reached the backend, or its answer was lost.
RETRY_CODES = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAUTHENTICATED,  # the token expired or the backend restarted: log in, retry
)
BACKOFF_CAP = 5.0

FrameSink = Callable[
    [bytes, float, int], None
]  # (jpeg, capture unix time, sequence), called off the GUI thread


# Answers that retrying cannot change.
FINAL_CODES = (
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
)


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


def backoff_delay(attempt: int, cap: float = BACKOFF_CAP, base: float = 0.25) -> float:
    """Capped exponential backoff with "equal jitter": between half and all of the step."""
    step = min(cap, base * (2**attempt))
    return step / 2 + random.uniform(0, step / 2)


class Session(QObject):
    # state: "connecting" | "connected" | "disconnected" | "reconnecting" | "stopped";
    # detail: address or reason; retry_at: time.monotonic() of the next attempt (0 if none).
    sig_connection = Signal(str, str, float)
    sig_snapshot = Signal(object, int)  # list[AssetRecord], revision
    sig_changes = Signal(object, int, int)  # list[AssetRecord] (latest per asset), revision, raw change count
    sig_telemetry_history = Signal(str, object)  # asset id, list[Series]
    sig_telemetry_samples = Signal(str, object)  # asset id, list[Series]
    sig_error = Signal(str)  # a failure the operator should read
    sig_basemap = Signal(object)  # {"name", "center": (lat, lon), "zoom", "layers": {name: geojson text}}
    sig_cameras = Signal(object)  # {camera id: CameraInfo}
    sig_alarm_snapshot = Signal(object, int)  # list[AlarmRecord] (every open alarm), sequence
    sig_alarm_changes = Signal(object, int)  # list[AlarmRecord] (latest per alarm), sequence
    sig_alarm_result = Signal(bool, str)  # an acknowledge/shelve/unshelve: done?, what happened
    sig_journal = Signal(object, int, str)  # list[AlarmRecord], total matching, next page token
    sig_ptz_result = Signal(str, bool, str)  # camera id, accepted, what happened (or why not)
    sig_logged_in = Signal(str, str)  # user, role name ("VIEWER" ... "ADMIN")
    # The console needs (new) credentials: why (wrong password, session ended by an administrator).
    sig_login_required = Signal(str)
    sig_actions = Signal(object)  # list[ActionInfo]: what commands the backend offers
    sig_command = Signal(object)  # CommandState, after every change of a command sent from here
    sig_audit = Signal(int, object, int, str)  # query tag, list[AuditRow], total matching, next page token
    sig_audit_exported = Signal(str, int, str)  # path, rows written, error ("" when it worked)

    def __init__(
        self,
        address: str,
        flush_interval: float = 0.05,
        stale_after: float = 15.0,
        credentials: Credentials | None = None,
        tls: TlsOptions | None = None,
    ) -> None:
        super().__init__()
        self.address = address
        self.credentials = credentials
        self.tls = tls
        self.user = ""
        self.role = ""  # "" until logged in
        self._token = TokenHolder(credentials.console_name() if credentials else "")
        self.flush_interval = flush_interval
        self.stale_after = stale_after  # no message (not even a heartbeat) for this long: the link is dead
        self.revision = 0
        self.epoch = ""
        self.state = "stopped"
        self.changes_received = 0
        self.reconnects = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="vigie-session", daemon=True)
        self._pending: dict[str, assets_pb2.Asset] = {}
        self._pending_alarms: dict[str, alarms_pb2.Alarm] = {}
        self.alarm_sequence = 0
        self.alarm_epoch = ""
        self._pending_count = 0
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._channel: grpc.aio.Channel | None = None
        self._channel_ready = asyncio.Event()  # set by _start (wall calls may come before it)
        self._logged_in = asyncio.Event()
        self._token_bad = asyncio.Event()
        self._closing = False
        self._video_channel: grpc.aio.Channel | None = None

    # ---- lifecycle (GUI thread) ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self.submit(self._start())

    def login(self, credentials: Credentials) -> None:
        """Log in (again) with new credentials, e.g. from the login dialog or "Switch user"."""
        self.submit(self._switch_user(credentials))

    async def _switch_user(self, credentials: Credentials) -> None:
        """End the current login (if any: its streams reopen with the new token), then log in."""
        old = self._token.token
        # Not logged in from here: the old session's streams, cut by the logout, are not taken
        # for a revocation of the new one.
        self._logged_in.clear()
        self._token.token = ""
        if old:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self._auth.Logout(
                    auth_pb2.LogoutRequest(),
                    timeout=UNARY_TIMEOUT,
                    metadata=[("authorization", f"Bearer {old}")],
                )
        self.credentials = credentials
        self._token.console = credentials.console_name()
        await self._replace_task("auth", self._auth_loop())

    def may(self, role: str) -> bool:
        """The logged-in user has at least `role` (the server decides; this only shapes the UI)."""
        order = ("VIEWER", "OPERATOR", "SUPERVISOR", "ADMIN")
        return bool(self.role) and order.index(self.role) >= order.index(role)

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        fut = self.submit(self._shutdown())
        try:
            fut.result(timeout)
        except Exception:  # best effort at exit
            log.exception("session shutdown")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def submit(self, coro: Awaitable[Any]) -> Future[Any]:
        """Run a coroutine on the session loop (from any thread); after stop() it is dropped."""
        if self._loop.is_closed() or not self._thread.is_alive():
            # _replace_task(name, coro) holds a second coroutine: close it too (else "never awaited").
            frame = getattr(coro, "cr_frame", None)
            inner = frame.f_locals.get("coro") if frame is not None else None
            if asyncio.iscoroutine(inner):
                inner.close()
            coro.close()  # type: ignore[attr-defined]
            done: Future[Any] = Future()
            done.cancel()
            return done
        return asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]

    # ---- requests (any thread) -------------------------------------------------------------

    def watch_telemetry(self, asset_id: str | None, history_s: float = 900.0) -> None:
        """Follow one asset's telemetry (history, then live); None stops following."""
        self.submit(
            self._replace_task("telemetry", self._telemetry_loop(asset_id, history_s) if asset_id else None)
        )

    def open_video(
        self, key: str, camera_id: str, sink: FrameSink, profile: str = "SUB", max_fps: float = 10.0
    ) -> None:
        """Stream a camera into `sink` under `key` (replacing what that key streamed)."""
        self.submit(self._replace_task(f"video:{key}", self._video_loop(camera_id, sink, profile, max_fps)))

    def close_video(self, key: str) -> None:
        self.submit(self._replace_task(f"video:{key}", None))

    def request_basemap(self) -> None:
        """Fetch the backend's vector basemap; answered by sig_basemap (or sig_error)."""
        self.submit(self._basemap())

    # ---- alarms (any thread) -------------------------------------------------------------

    def acknowledge(self, alarm_ids: list[str], comment: str, operator: str) -> None:
        req = alarms_pb2.AcknowledgeRequest(alarm_ids=alarm_ids, comment=comment, operator=operator)
        self.submit(self._alarm_call("Acknowledge", req, f"{len(alarm_ids)} alarm(s) acknowledged"))

    def shelve(self, alarm_ids: list[str], seconds: float, reason: str, operator: str) -> None:
        req = alarms_pb2.ShelveRequest(
            alarm_ids=alarm_ids, duration=Duration(seconds=int(seconds)), reason=reason, operator=operator
        )
        self.submit(
            self._alarm_call("Shelve", req, f"{len(alarm_ids)} alarm(s) shelved for {seconds / 60:.0f} min")
        )

    def unshelve(self, alarm_ids: list[str], operator: str) -> None:
        req = alarms_pb2.UnshelveRequest(alarm_ids=alarm_ids, operator=operator)
        self.submit(self._alarm_call("Unshelve", req, f"{len(alarm_ids)} alarm(s) back from the shelf"))

    def query_journal(self, request: alarms_pb2.ListAlarmsRequest) -> None:
        """Search the alarm history; answered by sig_journal (or sig_error)."""
        self.submit(self._journal(request))

    def request_cameras(self) -> None:
        """Fetch the camera list (PTZ, presets, direct URLs); answered by sig_cameras."""
        self.submit(self._cameras())

    def ptz(
        self,
        camera_id: str,
        action: str,
        pan: float = 0.0,
        tilt: float = 0.0,
        zoom: float = 0.0,
        preset: int = 0,
        timeout_s: float = 0.0,
    ) -> None:
        """PTZ request ("move", "stop", "preset"); the outcome comes back on sig_ptz_result."""
        self.submit(self._ptz(camera_id, action, pan, tilt, zoom, preset, timeout_s))

    # ---- commands and audit (any thread) ----------------------------------------------------

    def list_actions(self) -> None:
        """Fetch what commands the backend offers; answered by sig_actions."""
        self.submit(self._list_actions())

    def execute(
        self, asset_ids: list[str], action: int, params: dict[str, Any], reason: str, confirmed: bool
    ) -> str:
        """Send a command; returns its idempotency key, which names it in every sig_command.

        `params`: level_percent, badge_id, until (unix seconds), preset. A lost answer is retried
        with the same key for up to COMMAND_RETRY_S, so the backend acts at most once."""
        key = uuid.uuid4().hex
        p = commands_pb2.CommandParams(
            level_percent=int(params.get("level_percent", 0)),
            badge_id=str(params.get("badge_id", "")),
            preset=int(params.get("preset", 0)),
        )
        if params.get("until"):
            p.until.FromNanoseconds(int(float(params["until"]) * 1e9))
        req = commands_pb2.ExecuteRequest(
            idempotency_key=key,
            asset_ids=asset_ids,
            action=action,  # type: ignore[arg-type]
            params=p,
            reason=reason,
            confirmed=confirmed,
        )
        self.submit(self._replace_task(f"command:{key}", self._command_loop(key, req)))
        return key

    def query_audit(self, request: audit_pb2.ListAuditRequest, tag: int = 0) -> None:
        """One page of the audit trail; answered by sig_audit with the same tag."""
        self.submit(self._audit_page(request, tag))

    def export_audit(self, request: audit_pb2.ListAuditRequest, path: str) -> None:
        """Every record matching `request`, written as CSV to `path` (off the GUI thread)."""
        self.submit(self._audit_export(request, path))

    # ---- session loop ----------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        # Not closed: grpc.aio's completion-queue poller may still post to it after stop()
        # ("Event loop is closed" tracebacks when a process runs several sessions).

    def _open_channel(self) -> grpc.aio.Channel:
        policy = interceptors(self._token)
        if self.tls is None:
            return grpc.aio.insecure_channel(self.address, options=CHANNEL_OPTIONS, interceptors=policy)
        return grpc.aio.secure_channel(
            self.address, self._tls_credentials, options=CHANNEL_OPTIONS, interceptors=policy
        )

    async def _start(self) -> None:
        if self.tls is not None:
            try:
                self._tls_credentials = self.tls.channel_credentials()
            except ValueError as exc:
                self._set_state("disconnected", f"{self.address}: {exc}")
                self.sig_error.emit(str(exc))
                return
        self._channel = self._open_channel()
        # Video gets its own connection so a burst of pictures never delays asset changes.
        self._video_channel = self._open_channel()
        self._auth = auth_pb2_grpc.AuthServiceStub(self._channel)
        self._assets = assets_pb2_grpc.AssetServiceStub(self._channel)
        self._video = video_pb2_grpc.VideoServiceStub(self._video_channel)
        self._map = map_pb2_grpc.MapServiceStub(self._channel)
        self._alarms = alarms_pb2_grpc.AlarmServiceStub(self._channel)
        self._commands = commands_pb2_grpc.CommandServiceStub(self._channel)
        self._audit = audit_pb2_grpc.AuditServiceStub(self._channel)
        self._channel_ready.set()
        for name, coro in (
            ("auth", self._auth_loop()),
            ("watch", self._watch_assets()),
            ("flush", self._flush_loop()),
            ("alarms", self._watch_alarms()),
        ):
            self._tasks[name] = self._spawn(coro)

    async def _shutdown(self) -> None:
        # grpc.aio may turn a cancellation into an AioRpcError(CANCELLED), which the loops would
        # take for a broken link and retry: they check this flag first.
        self._closing = True
        if self._token.token:  # say goodbye, for the audit trail (best effort, short)
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self._auth.Logout(auth_pb2.LogoutRequest(), timeout=1.0)
            self._token.token = ""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        for ch in (self._channel, self._video_channel):
            if ch is not None:
                await ch.close()
        self._set_state("stopped", self.address)

    def _stopping(self) -> bool:
        """This loop was asked to end (session stop, or its task replaced/cancelled)."""
        task = asyncio.current_task()
        return self._closing or (task is not None and task.cancelling() > 0)

    async def _replace_task(self, name: str, coro: Awaitable[Any] | None) -> None:
        old = self._tasks.pop(name, None)
        if old is not None:
            old.cancel()
        if coro is not None:
            self._tasks[name] = self._spawn(coro)

    @staticmethod
    def _spawn(coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """A task whose unexpected death is logged (a silent one would freeze a part of the console)."""
        task = asyncio.ensure_future(coro)

        def done(t: asyncio.Task[Any]) -> None:
            if not t.cancelled() and t.exception() is not None:
                log.error("session task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def _set_state(self, state: str, detail: str, retry_at: float = 0.0) -> None:
        self.state = state
        self.sig_connection.emit(state, detail, retry_at)

    # ---- authentication --------------------------------------------------------------------

    async def _auth_loop(self) -> None:
        """Log in, keep the token fresh, and log in again when the server forgets the token (a
        backend restart). A revoked session or a wrong password asks the user instead."""
        self._revoked = ""
        attempt = 0
        while not self._stopping():
            creds = self.credentials
            if creds is None:
                self.sig_login_required.emit("Log in to use this console.")
                return
            try:
                resp = await self._auth.Login(
                    auth_pb2.LoginRequest(
                        user=creds.user, password=creds.password, console=self._token.console
                    ),
                    timeout=UNARY_TIMEOUT,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
                    self._logged_out(f"Login refused: {exc.details() or 'wrong user or password'}")
                    return
                if self._stopping():
                    return
                delay = backoff_delay(attempt)
                attempt += 1
                reason = rpc_message(exc, self.tls is not None)
                self._set_state("disconnected", f"{self.address}: {reason}", time.monotonic() + delay)
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
                await asyncio.wait_for(self._token_bad.wait(), wait)
                return
            except TimeoutError:
                pass
            try:
                resp = await self._auth.Refresh(auth_pb2.RefreshRequest(), timeout=UNARY_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    self._note_rpc_error(exc)
                    return
                if time.time() >= expires_at or self._token_bad.is_set():
                    return  # could not refresh in time (or a stream was refused): log in again
                continue  # unreachable for now: try again a little later, the token still holds
            self._take_token(resp)
            expires_at = resp.expires_at.ToSeconds()

    def _take_token(self, resp: auth_pb2.LoginResponse) -> None:
        self._token.token = resp.token
        changed = (resp.user, auth_pb2.Role.Name(resp.role)) != (self.user, self.role)
        self.user = resp.user
        self.role = auth_pb2.Role.Name(resp.role)
        if not self._logged_in.is_set() or changed:
            self._logged_in.set()
            self.sig_logged_in.emit(self.user, self.role)

    def _logged_out(self, reason: str) -> None:
        self._token.token = ""
        self.role = ""
        self._logged_in.clear()
        self._set_state("disconnected", f"{self.address}: not logged in")
        self.sig_login_required.emit(reason)

    def _note_rpc_error(self, exc: grpc.aio.AioRpcError) -> None:
        """Any loop that meets UNAUTHENTICATED tells the auth loop (which logs in again or asks)."""
        if exc.code() != grpc.StatusCode.UNAUTHENTICATED or not self._logged_in.is_set():
            return
        details = exc.details() or ""
        if "revoked" in details.lower():
            self._revoked = f"Your session was ended by the server ({details}). Log in again."
        self._logged_in.clear()
        self._token.token = ""
        self._token_bad.set()

    # ---- asset watch -----------------------------------------------------------------------

    async def _watch_assets(self) -> None:
        attempt = 0
        ever_connected = False
        while True:
            if not self._logged_in.is_set():
                await self._logged_in.wait()
            self._set_state("reconnecting" if ever_connected else "connecting", self.address)
            call = self._assets.WatchAssets(
                assets_pb2.WatchAssetsRequest(after_revision=self.revision, epoch=self.epoch, max_batch=2000)
            )
            reason = "the stream ended"
            try:
                snapshot: list[AssetRecord] = []
                while True:
                    msg = await asyncio.wait_for(call.read(), self.stale_after)
                    if msg is grpc.aio.EOF:
                        break
                    if self.state != "connected":
                        self._set_state("connected", self.address)
                        ever_connected = True
                        attempt = 0
                    kind = msg.WhichOneof("event")
                    if kind == "changes":
                        self._take_changes(msg)
                    elif kind == "snapshot":
                        snapshot.extend(AssetRecord.from_pb(a) for a in msg.snapshot.assets)
                        if msg.snapshot.last:
                            self.revision, self.epoch = msg.revision, msg.epoch
                            self._pending.clear()
                            self._pending_count = 0
                            self.sig_snapshot.emit(snapshot, self.revision)
                            snapshot = []
                    elif kind == "resync_needed":
                        log.info("resync needed: %s", msg.resync_needed.reason)
                        self.revision, self.epoch = 0, ""
                        reason = "resync"
                        break
            except TimeoutError:
                reason = f"no message for {self.stale_after:.0f} s"
            except grpc.aio.AioRpcError as exc:
                self._note_rpc_error(exc)
                reason = rpc_message(exc, self.tls is not None)
            except Exception as exc:  # a bug must not leave a "connected" console with stale data
                log.exception("asset watch")
                reason = f"internal error: {exc}"
            finally:
                call.cancel()
            if self._stopping():
                return
            if reason == "resync":
                continue  # reload a snapshot at once: the server is there
            delay = backoff_delay(attempt)
            attempt += 1
            self.reconnects += 1
            self._set_state("disconnected", f"{self.address}: {reason}", time.monotonic() + delay)
            await asyncio.sleep(delay)

    def _take_changes(self, msg: assets_pb2.WatchAssetsResponse) -> None:
        changes = msg.changes.changes
        if not changes:
            return
        if changes[0].revision != self.revision + 1:
            # Never expected: the server guarantees consecutive revisions. Say so loudly.
            log.error("revision gap: at %d, received %d", self.revision, changes[0].revision)
        pending = self._pending
        for c in changes:  # keep the message; convert only the latest state per asset at flush
            pending[c.asset.id] = c.asset
        self.revision = msg.revision
        self._pending_count += len(changes)
        self.changes_received += len(changes)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            if self._pending_alarms:
                alarms = [AlarmRecord.from_pb(a) for a in self._pending_alarms.values()]
                self._pending_alarms = {}
                self.sig_alarm_changes.emit(alarms, self.alarm_sequence)
            if self._pending:
                batch = [AssetRecord.from_pb(a) for a in self._pending.values()]
                count = self._pending_count
                self._pending = {}
                self._pending_count = 0
                self.sig_changes.emit(batch, self.revision, count)

    # ---- alarms ----------------------------------------------------------------------------

    async def _watch_alarms(self) -> None:
        """Same resume contract as the asset watch; the connection indicator follows that one."""
        attempt = 0
        while True:
            if not self._logged_in.is_set():
                await self._logged_in.wait()
            call = self._alarms.WatchAlarms(
                alarms_pb2.WatchAlarmsRequest(after_sequence=self.alarm_sequence, epoch=self.alarm_epoch)
            )
            resync = False
            try:
                snapshot: list[AlarmRecord] = []
                while True:
                    msg = await asyncio.wait_for(call.read(), self.stale_after)
                    if msg is grpc.aio.EOF:
                        break
                    attempt = 0
                    kind = msg.WhichOneof("event")
                    if kind == "changes":
                        for c in msg.changes.changes:
                            self._pending_alarms[c.alarm.id] = c.alarm
                        self.alarm_sequence = msg.sequence
                    elif kind == "snapshot":
                        snapshot.extend(AlarmRecord.from_pb(a) for a in msg.snapshot.alarms)
                        if msg.snapshot.last:
                            self.alarm_sequence, self.alarm_epoch = msg.sequence, msg.epoch
                            self._pending_alarms.clear()
                            self.sig_alarm_snapshot.emit(snapshot, self.alarm_sequence)
                            snapshot = []
                    elif kind == "resync_needed":
                        self.alarm_sequence, self.alarm_epoch = 0, ""
                        resync = True
                        break
            except TimeoutError:
                pass
            except grpc.aio.AioRpcError as exc:
                self._note_rpc_error(exc)
            except Exception:
                log.exception("alarm watch")
            finally:
                call.cancel()
            if self._stopping():
                return
            if resync:
                continue
            await asyncio.sleep(backoff_delay(attempt))
            attempt += 1

    async def _alarm_call(self, method: str, request: Any, done: str) -> None:
        try:
            await getattr(self._alarms, method)(request, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.sig_alarm_result.emit(False, f"{method} refused: {rpc_message(exc)}")
            return
        self.sig_alarm_result.emit(True, done)

    async def _journal(self, request: alarms_pb2.ListAlarmsRequest) -> None:
        try:
            resp = await self._alarms.ListAlarms(request, timeout=UNARY_TIMEOUT * 2)
        except grpc.aio.AioRpcError as exc:
            self.sig_error.emit(f"Alarm journal: {rpc_message(exc)}")
            return
        self.sig_journal.emit(
            [AlarmRecord.from_pb(a) for a in resp.alarms], resp.total_size, resp.next_page_token
        )

    # ---- commands --------------------------------------------------------------------------

    async def _list_actions(self) -> None:
        await self._logged_in.wait()
        try:
            resp = await self._commands.ListActions(commands_pb2.ListActionsRequest())
        except grpc.aio.AioRpcError as exc:
            self._note_rpc_error(exc)
            self.sig_error.emit(f"Commands: {rpc_message(exc)}")
            return
        self.sig_actions.emit([ActionInfo.from_pb(a) for a in resp.actions])

    def _emit_command(self, state: CommandState) -> None:
        """A copy goes to the GUI: this loop goes on changing its own (retries, error, done)."""
        self.sig_command.emit(dataclasses.replace(state))

    async def _command_loop(self, key: str, req: commands_pb2.ExecuteRequest) -> None:
        """Execute (retrying a lost answer with the same key), then follow the command until done."""
        name = commands_pb2.CommandAction.Name(req.action)
        state = CommandState(key, name, [TargetState(a, "SENT") for a in req.asset_ids], reason=req.reason)
        emit = self._emit_command
        emit(state)
        give_up = time.monotonic() + COMMAND_RETRY_S
        sender = self.user  # keys are per user: a retry under another login could act twice
        attempt = 0
        try:
            while True:
                try:
                    await asyncio.wait_for(self._logged_in.wait(), max(0.1, give_up - time.monotonic()))
                    if self.user != sender:
                        state.error = f"Not retried: {self.user} is logged in now, the command was {sender}'s"
                        state.done = True
                        emit(state)
                        return
                    resp = await self._commands.Execute(req, timeout=UNARY_TIMEOUT)
                    break
                except (grpc.aio.AioRpcError, TimeoutError) as exc:
                    code = (
                        exc.code() if isinstance(exc, grpc.aio.AioRpcError) else grpc.StatusCode.UNAVAILABLE
                    )
                    if isinstance(exc, grpc.aio.AioRpcError):
                        self._note_rpc_error(exc)
                    if self._stopping():
                        return
                    if code not in RETRY_CODES:
                        assert isinstance(exc, grpc.aio.AioRpcError)
                        state.error = f"Not executed: {rpc_message(exc)}"
                    elif time.monotonic() >= give_up:
                        state.error = (
                            f"No answer from the backend after {attempt + 1} attempts: the command may not "
                            "have been executed. Check the devices' state before sending it again."
                        )
                    if state.error:
                        state.done = True
                        emit(state)
                        return
                    attempt += 1
                    state.retries = attempt
                    emit(state)
                    await asyncio.sleep(backoff_delay(attempt))
            state = CommandState.from_pb(key, resp.status, attempt)
            emit(state)
            watch_attempt = 0
            while not state.done:
                await self._logged_in.wait()
                try:
                    async for st in self._commands.WatchCommand(
                        commands_pb2.WatchCommandRequest(command_id=state.command_id)
                    ):
                        state = CommandState.from_pb(key, st, attempt)
                        emit(state)
                        watch_attempt = 0
                except grpc.aio.AioRpcError as exc:
                    self._note_rpc_error(exc)
                    if exc.code() in FINAL_CODES:
                        state.error = f"Progress unavailable: {rpc_message(exc)}"
                        state.done = True
                        emit(state)
                        return
                if self._stopping() or state.done:
                    return
                await asyncio.sleep(backoff_delay(watch_attempt))  # the stream broke: follow again
                watch_attempt += 1
        finally:
            if not self._closing:
                self._tasks.pop(f"command:{key}", None)

    # ---- audit -----------------------------------------------------------------------------

    async def _audit_page(self, request: audit_pb2.ListAuditRequest, tag: int) -> None:
        try:
            resp = await self._audit.ListAudit(request, timeout=UNARY_TIMEOUT * 2)
        except grpc.aio.AioRpcError as exc:
            self._note_rpc_error(exc)
            self.sig_error.emit(f"Audit trail: {rpc_message(exc)}")
            return
        self.sig_audit.emit(
            tag, [AuditRow.from_pb(r) for r in resp.records], resp.total_size, resp.next_page_token
        )

    async def _audit_export(self, request: audit_pb2.ListAuditRequest, path: str) -> None:
        rows: list[AuditRow] = []
        req = audit_pb2.ListAuditRequest()
        req.CopyFrom(request)
        req.page_size = 5000
        req.page_token = ""
        try:
            while True:
                resp = await self._audit.ListAudit(req, timeout=UNARY_TIMEOUT * 4)
                rows.extend(AuditRow.from_pb(r) for r in resp.records)
                if not resp.next_page_token:
                    break
                req.page_token = resp.next_page_token
            await asyncio.to_thread(write_csv, path, rows)
        except grpc.aio.AioRpcError as exc:
            self._note_rpc_error(exc)
            self.sig_audit_exported.emit(path, 0, rpc_message(exc))
            return
        except OSError as exc:
            self.sig_audit_exported.emit(path, 0, f"cannot write {path}: {exc.strerror}")
            return
        self.sig_audit_exported.emit(path, len(rows), "")

    # ---- telemetry -------------------------------------------------------------------------

    async def _telemetry_loop(self, asset_id: str, history_s: float) -> None:
        attempt = 0
        while True:
            await self._logged_in.wait()
            try:
                start = Timestamp()
                start.FromNanoseconds(int((time.time() - history_s) * 1e9))
                hist = await self._assets.GetTelemetry(
                    assets_pb2.GetTelemetryRequest(asset_id=asset_id, start=start, max_points=5000),
                    timeout=UNARY_TIMEOUT,
                )
                self.sig_telemetry_history.emit(asset_id, [Series.from_pb(s) for s in hist.series])
                attempt = 0
                async for msg in self._assets.WatchTelemetry(
                    assets_pb2.WatchTelemetryRequest(asset_id=asset_id)
                ):
                    self.sig_telemetry_samples.emit(asset_id, [Series.from_pb(s) for s in msg.series])
                return  # the server ended the stream: this asset has no live telemetry
            except grpc.aio.AioRpcError as exc:
                self._note_rpc_error(exc)
                if exc.code() in FINAL_CODES:
                    self.sig_error.emit(f"Telemetry of {asset_id}: {rpc_message(exc)}")
                    return
            except Exception:  # never let a surprise end the loop silently
                log.exception("telemetry of %s", asset_id)
            if self._stopping():
                return
            # The stream broke: the history reload on the next attempt fills the gap.
            await asyncio.sleep(backoff_delay(attempt))
            attempt += 1

    # ---- video -----------------------------------------------------------------------------

    async def _video_loop(self, camera_id: str, sink: FrameSink, profile: str, max_fps: float) -> None:
        attempt = 0
        req = video_pb2.StreamVideoRequest(
            camera_id=camera_id, profile=video_pb2.StreamVideoRequest.Profile.Value(profile), max_fps=max_fps
        )
        while True:
            await self._logged_in.wait()
            try:
                async for frame in self._video.StreamVideo(req):
                    attempt = 0
                    ct = frame.capture_time
                    sink(frame.jpeg, ct.seconds + ct.nanos * 1e-9, frame.sequence)
            except grpc.aio.AioRpcError as exc:
                # Final answers (unknown camera, bad request, a camera the console must read
                # itself, not allowed); anything else is a broken link and is retried.
                self._note_rpc_error(exc)
                if exc.code() in FINAL_CODES + (grpc.StatusCode.FAILED_PRECONDITION,):
                    self.sig_error.emit(f"Camera {camera_id}: {rpc_message(exc)}")
                    return
            except Exception:
                log.exception("video of %s", camera_id)
            if self._stopping():
                return
            await asyncio.sleep(backoff_delay(attempt))
            attempt += 1

    async def _basemap(self) -> None:
        try:
            bm = await self._map.GetBasemap(map_pb2.GetBasemapRequest(), timeout=30)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND: no basemap, tiles only
                self.sig_error.emit(f"Basemap: {rpc_message(exc)}")
            return
        self.sig_basemap.emit(
            {
                "name": bm.name,
                "center": (bm.center.lat, bm.center.lon),
                "zoom": bm.zoom,
                "layers": {layer.name: layer.geojson for layer in bm.layers},
            }
        )

    async def _cameras(self) -> None:
        try:
            resp = await self._video.ListCameras(video_pb2.ListCamerasRequest(), timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.sig_error.emit(f"Cameras: {rpc_message(exc)}")
            return
        self.sig_cameras.emit({c.id: CameraInfo.from_pb(c) for c in resp.cameras})

    async def _ptz(
        self, camera_id: str, action: str, pan: float, tilt: float, zoom: float, preset: int, timeout_s: float
    ) -> None:
        actions = {
            "move": video_pb2.PtzRequest.MOVE,
            "stop": video_pb2.PtzRequest.STOP,
            "preset": video_pb2.PtzRequest.GOTO_PRESET,
        }
        req = video_pb2.PtzRequest(
            camera_id=camera_id,
            action=actions[action],
            pan=pan,
            tilt=tilt,
            zoom=zoom,
            preset=preset,
            timeout_s=timeout_s,
        )
        try:
            resp = await self._video.Ptz(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.sig_ptz_result.emit(camera_id, False, rpc_message(exc))
            return
        state = f"P{resp.pan_deg:.0f}° T{resp.tilt_deg:.0f}° Z{resp.zoom:.1f}×"
        self.sig_ptz_result.emit(camera_id, True, f"{resp.message} — {state}" if resp.message else state)

    # ---- walls -----------------------------------------------------------------------------
    # Consoles watch every wall and push content; a wall display attaches under its name and
    # receives what to show. All on the session's channel (its interceptor adds the credentials).

    sig_walls = Signal(object)  # list[WallState], sorted by name: every wall, after each change
    sig_wall_result = Signal(bool, str)  # a push: done?, what happened (or why not)
    sig_wall_content = Signal(str, object)  # wall name, WallContent: what its display must show now
    # An attached wall's link: wall name, state, detail, retry_at (time.monotonic(), 0 if none).
    # States: "attached" | "disconnected" (retrying at retry_at) | "replaced" (another display took
    # the wall: no retry) | "refused" (bad name: no retry).
    sig_wall_link = Signal(str, str, str, float)

    def watch_walls(self, on: bool = True) -> None:
        """Follow every wall (sig_walls), reconnecting by itself; False stops. May be called
        before start() (controllers are built first): the watch then begins with the session."""
        self._submit_walls(self._replace_task("walls", self._watch_walls() if on else None))

    def push_wall(self, wall: str, content: WallContent, what: str = "") -> None:
        """Ask the backend to show `content` on `wall`; answered by sig_wall_result."""
        self.submit(self._push_wall(wall, content, what or content.kind))

    def attach_wall(self, name: str, display: str = "") -> None:
        """Be the display of wall `name` (sig_wall_content, sig_wall_link) until detach_wall(name);
        one session may hold several walls (a console's screens in wall mode). Like watch_walls(),
        may be called before start()."""
        self._submit_walls(self._replace_task(f"wall-display:{name}", self._attach_wall(name, display)))

    def detach_wall(self, name: str) -> None:
        self.submit(self._replace_task(f"wall-display:{name}", None))

    def _submit_walls(self, coro: Awaitable[Any]) -> None:
        if self._thread.ident is None:  # not started yet: runs as soon as the loop does
            asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        else:
            self.submit(coro)

    async def _wall_stub(self) -> wall_pb2_grpc.WallServiceStub:
        """The stub once the channel exists and somebody is logged in (walls may be asked for
        before start())."""
        await self._channel_ready.wait()
        await self._logged_in.wait()
        return wall_pb2_grpc.WallServiceStub(self._channel)  # cheap; follows the current channel

    async def _watch_walls(self) -> None:
        attempt = 0
        while True:
            call = (await self._wall_stub()).WatchWalls(wall_pb2.WatchWallsRequest())
            try:
                walls: dict[str, WallState] | None = None
                while True:
                    msg = await asyncio.wait_for(call.read(), self.stale_after)
                    if msg is grpc.aio.EOF:
                        break
                    attempt = 0
                    if msg.HasField("heartbeat"):
                        continue
                    if walls is None:  # the first message of a stream is every wall
                        walls = {}
                    for w in msg.walls:
                        walls[w.name] = WallState.from_pb(w)
                    for name in msg.deleted:  # DeleteWall
                        walls.pop(name, None)
                    self.sig_walls.emit([walls[n] for n in sorted(walls)])
            except TimeoutError:
                pass
            except grpc.aio.AioRpcError as exc:
                self._note_rpc_error(exc)
                if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
                    self.sig_error.emit(f"Video walls: {rpc_message(exc)}")
                    return
            except Exception:
                log.exception("wall watch")
            finally:
                call.cancel()
            if self._stopping():
                return
            await asyncio.sleep(backoff_delay(attempt))
            attempt += 1

    async def _push_wall(self, wall: str, content: WallContent, what: str) -> None:
        req = wall_pb2.PushRequest(wall=wall, content=content.to_pb())
        try:
            resp = await (await self._wall_stub()).Push(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self._note_rpc_error(exc)
            self.sig_wall_result.emit(False, f"Not sent to {wall}: {rpc_message(exc)}")
            return
        where = wall if resp.wall.online else f"{wall} (offline: it shows it when its display is back)"
        self.sig_wall_result.emit(True, f"{what} sent to {where}")

    async def _attach_wall(self, name: str, display: str) -> None:
        attempt = 0
        shown: WallContent | None = None
        while True:
            call = (await self._wall_stub()).AttachWall(
                wall_pb2.AttachWallRequest(name=name, display=display)
            )
            reason = "the stream ended"
            try:
                attached = False
                while True:
                    msg = await asyncio.wait_for(call.read(), self.stale_after)
                    if msg is grpc.aio.EOF:
                        break
                    if not attached:
                        attached, attempt = True, 0
                        self.sig_wall_link.emit(name, "attached", f"{name} on {self.address}", 0.0)
                    content = WallContent.from_pb(msg)
                    if content != shown:  # the same content again is the stream's heartbeat
                        shown = content
                        self.sig_wall_content.emit(name, content)
            except TimeoutError:
                reason = f"no message for {self.stale_after:.0f} s"
            except grpc.aio.AioRpcError as exc:
                self._note_rpc_error(exc)
                reason = rpc_message(exc, self.tls is not None)
                final = {grpc.StatusCode.ABORTED: "replaced", grpc.StatusCode.INVALID_ARGUMENT: "refused"}
                if exc.code() in final and not self._stopping():
                    self.sig_wall_link.emit(name, final[exc.code()], reason, 0.0)
                    return
            except Exception as exc:
                log.exception("wall display %s", name)
                reason = f"internal error: {exc}"
            finally:
                call.cancel()
            if self._stopping():
                return
            delay = backoff_delay(attempt)
            attempt += 1
            retry_at = time.monotonic() + delay
            self.sig_wall_link.emit(name, "disconnected", f"{self.address}: {reason}", retry_at)
            await asyncio.sleep(delay)
