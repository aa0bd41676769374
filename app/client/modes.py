"""The mode service: the live set of active modes (WatchModes, same resume contract as the asset
watch), the modes on offer, previews, and the supervisor's activate, retry and return.

Activate, RetryFailed and ReturnToNormal carry an idempotency key: a lost answer is retried with
the same key (the backend acts once), like commands (app/client/commands.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert_modes as cv
from vigie.app.client.changefeed import ChangeFeed
from vigie.app.client.commands import COMMAND_RETRY_S, RETRY_CODES
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume, backoff_delay
from vigie.app.models.modes import ModeRun, ModeScope
from vigie.v1 import modes_pb2, modes_pb2_grpc

MAX_REASON = 500  # the reason field is bounded here too: the backend refuses longer ones anyway


class ModesClient(QObject):
    sig_snapshot = Signal(object)  # list[ModeRun]: every run not returned (a fresh start)
    sig_changes = Signal(object)  # list[ModeRun]: new states, in sequence order
    sig_modes = Signal(object, object, object)  # list[ModeInfo], list[ModeRun] active, list[str] districts
    sig_preview = Signal(object)  # ModePreview
    sig_run = Signal(str, object)  # operation ("activate", "retry", "return"), ModeRun
    sig_hand_changed = Signal(object, object)  # ModeRun, list[DeviceResult]: a return's dry run
    sig_results = Signal(object, object, int)  # ModeRun, list[DeviceResult], total matching
    sig_runs = Signal(object, str)  # list[ModeRun] (the journal, newest first), next page token
    sig_failed = Signal(str, str)  # operation, why (for the operator)

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core
        self.resume = Resume()
        # Changes are handed over as each message comes (a mode's banner is not worth a flush timer).
        self.feed: ChangeFeed[ModeRun] = ChangeFeed(
            self.resume,
            "run",
            "runs",
            cv.run,
            lambda runs, _seq: self.sig_snapshot.emit(runs),
            lambda runs, _seq: self.sig_changes.emit(runs),
            key=lambda m: str(m.run_id),
        )
        core.on_start("modes", self._watch)

    # ---- reading (any thread) --------------------------------------------------------------

    def list_modes(self) -> None:
        self.core.submit(self._unary("modes", "ListModes", modes_pb2.ListModesRequest(), self._on_modes))

    def preview(self, mode_id: str, scope: ModeScope, max_changes: int = 5000) -> None:
        req = modes_pb2.PreviewRequest(mode_id=mode_id, scope=cv.scope_pb(scope), max_changes=max_changes)
        self.core.submit(
            self._unary("preview", "Preview", req, lambda r: self.sig_preview.emit(cv.preview(r)), timeout=30)
        )

    def get_run(self, run_id: str, only_failed: bool = False, phase: str = "", page_size: int = 1000) -> None:
        req = modes_pb2.GetRunRequest(
            run_id=run_id,
            only_failed=only_failed,
            phase=cv.PHASE_NUMBERS.get(phase, modes_pb2.DeviceResult.PHASE_UNSPECIFIED),
            page_size=page_size,
        )

        def done(r: modes_pb2.GetRunResponse) -> None:
            self.sig_results.emit(cv.run(r.run), [cv.result(x) for x in r.results], r.total_size)

        self.core.submit(self._unary("results", "GetRun", req, done, timeout=15))

    def list_runs(self, page_size: int = 100, page_token: str = "") -> None:
        req = modes_pb2.ListRunsRequest(page_size=page_size, page_token=page_token)

        def done(r: modes_pb2.ListRunsResponse) -> None:
            self.sig_runs.emit([cv.run(x) for x in r.runs], r.next_page_token)

        self.core.submit(self._unary("journal", "ListRuns", req, done))

    # ---- the supervisor's actions (any thread) ---------------------------------------------

    def activate(self, mode_id: str, scope: ModeScope, reason: str) -> str:
        key = uuid.uuid4().hex
        req = modes_pb2.ActivateRequest(
            idempotency_key=key,
            mode_id=mode_id,
            scope=cv.scope_pb(scope),
            reason=reason[:MAX_REASON],
            confirmed=True,
        )
        self.core.submit(
            self._keyed("activate", "Activate", req, lambda r: self.sig_run.emit("activate", cv.run(r.run)))
        )
        return key

    def retry_failed(self, run_id: str, reason: str) -> str:
        key = uuid.uuid4().hex
        req = modes_pb2.RetryFailedRequest(
            idempotency_key=key,
            run_id=run_id,
            reason=reason[:MAX_REASON],
            confirmed=True,
            include_recovered=True,  # devices refused at activation and able now go too
        )
        self.core.submit(
            self._keyed("retry", "RetryFailed", req, lambda r: self.sig_run.emit("retry", cv.run(r.run)))
        )
        return key

    def return_dry_run(self, run_id: str) -> None:
        """Which devices were changed by hand during the mode (nothing changes): sig_hand_changed."""
        req = modes_pb2.ReturnToNormalRequest(
            idempotency_key=uuid.uuid4().hex, run_id=run_id, reason="dry run", confirmed=True, dry_run=True
        )

        def done(r: modes_pb2.ReturnToNormalResponse) -> None:
            self.sig_hand_changed.emit(cv.run(r.run), [cv.result(x) for x in r.hand_changed])

        self.core.submit(self._keyed("return", "ReturnToNormal", req, done))

    def return_to_normal(self, run_id: str, reason: str, restore: list[str] | None = None) -> str:
        """Restore the recorded states; devices changed by hand are restored only if in `restore`."""
        key = uuid.uuid4().hex
        req = modes_pb2.ReturnToNormalRequest(
            idempotency_key=key,
            run_id=run_id,
            reason=reason[:MAX_REASON],
            confirmed=True,
            restore_hand_changed=list(restore or []),
        )
        self.core.submit(
            self._keyed("return", "ReturnToNormal", req, lambda r: self.sig_run.emit("return", cv.run(r.run)))
        )
        return key

    # ---- calls ------------------------------------------------------------------------------

    def _stub(self) -> modes_pb2_grpc.ModeServiceStub:
        return self.core.stub(modes_pb2_grpc.ModeServiceStub)

    def _on_modes(self, r: modes_pb2.ListModesResponse) -> None:
        self.sig_modes.emit([cv.mode(d) for d in r.modes], [cv.run(x) for x in r.active], list(r.districts))

    async def _unary(self, op: str, method: str, req: Any, done: Any, timeout: float = UNARY_TIMEOUT) -> None:
        await self.core.logged_in.wait()
        try:
            resp = await getattr(self._stub(), method)(req, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_failed.emit(op, self.core.describe(exc))
            return
        done(resp)

    async def _keyed(self, op: str, method: str, req: Any, done: Any) -> None:
        """A keyed call: a lost answer is sent again with the same key, by the same user only."""
        core = self.core
        give_up = time.monotonic() + COMMAND_RETRY_S
        sender = core.user
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(max(0.1, give_up - time.monotonic())):
                    await core.logged_in.wait()
                if sender and core.user != sender:
                    self.sig_failed.emit(op, f"Not retried: {core.user} is logged in now, it was {sender}'s")
                    return
                resp = await getattr(self._stub(), method)(req, timeout=UNARY_TIMEOUT * 3)
                break
            except (grpc.aio.AioRpcError, TimeoutError) as exc:
                rpc = exc if isinstance(exc, grpc.aio.AioRpcError) else None
                if rpc is not None:
                    core.note_rpc_error(rpc)
                if core.stopping():
                    return
                if rpc is not None and rpc.code() not in RETRY_CODES:
                    self.sig_failed.emit(op, core.describe(rpc))
                    return
                if time.monotonic() >= give_up:
                    self.sig_failed.emit(op, f"No answer from the backend after {attempt + 1} attempts")
                    return
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt))
        done(resp)

    # ---- the watch --------------------------------------------------------------------------

    async def _open(self, resume: Resume) -> grpc.aio.UnaryStreamCall:
        self.feed.reset()
        return self._stub().WatchModes(
            modes_pb2.WatchModesRequest(after_sequence=resume.position, epoch=resume.epoch)
        )

    async def _watch(self) -> None:
        stream = self.core.stream("mode watch", self._open, self._on_message)
        stream.resume = self.resume
        await stream.run()

    def _on_message(self, msg: modes_pb2.WatchModesResponse) -> None:
        self.feed.feed(msg)
        self.feed.flush()
