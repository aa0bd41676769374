"""The asset service: the live asset watch (it drives the connection indicator) and telemetry.

The watch resumes from the last revision it saw (app/client/streams.py) and hands the GUI thread
at most one batch every `flush_interval` (the latest state per asset, converted off the GUI
thread): the asset store (app/models/assets.py) coalesces them once more per GUI tick."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume, ResyncNeeded, StreamEvent, StreamState
from vigie.app.models.records import AssetRecord
from vigie.v1 import assets_pb2, assets_pb2_grpc

log = logging.getLogger(__name__)


class AssetsClient(QObject):
    sig_snapshot = Signal(object, int)  # list[AssetRecord], revision
    sig_changes = Signal(object, int, int)  # list[AssetRecord] (latest per asset), revision, raw change count
    sig_telemetry_history = Signal(str, object)  # asset id, list[Series]
    sig_telemetry_samples = Signal(str, object)  # asset id, list[Series]

    def __init__(self, core: ClientCore, flush_interval: float = 0.05) -> None:
        super().__init__()
        self.core = core
        self.flush_interval = flush_interval
        # Under a flood (a flush of busy_batch assets or more) the next flush waits busy_interval,
        # the asset store's tick: a batch the GUI cannot apply sooner gains nothing from leaving
        # earlier, and a longer wait coalesces more changes per asset before they are converted
        # (5,000 lights at 100,000 changes/s: a third fewer conversions; docs/performance.md).
        self.busy_batch = 1000
        self.busy_interval = 0.1
        self.resume = Resume()  # revision and epoch of what this console holds
        self.changes_received = 0
        self.reconnects = 0
        self._pending: dict[str, assets_pb2.Asset] = {}
        self._pending_count = 0
        self._snapshot: list[AssetRecord] = []
        self.ever_connected = False
        core.on_start("watch", self._watch)
        core.on_start("flush", self._flush_loop)

    @property
    def revision(self) -> int:
        return self.resume.position

    @property
    def epoch(self) -> str:
        return self.resume.epoch

    def watch_telemetry(self, asset_id: str | None, history_s: float = 900.0) -> None:
        """Follow one asset's telemetry (history, then live); None stops following."""
        coro = self._telemetry(asset_id, history_s) if asset_id else None
        self.core.submit(self.core.replace_task("telemetry", coro))

    # ---- the asset watch -------------------------------------------------------------------

    def _stub(self) -> assets_pb2_grpc.AssetServiceStub:
        return self.core.stub(assets_pb2_grpc.AssetServiceStub)

    async def _open(self, resume: Resume) -> grpc.aio.UnaryStreamCall:
        self._snapshot = []
        return self._stub().WatchAssets(
            assets_pb2.WatchAssetsRequest(after_revision=resume.position, epoch=resume.epoch, max_batch=2000)
        )

    def _on_event(self, e: StreamEvent) -> None:
        """The asset watch is the console's link: the connection indicator follows it."""
        core = self.core
        if e.state is StreamState.OPENING:
            core.set_state("reconnecting" if self.ever_connected else "connecting", core.address)
        elif e.state is StreamState.LIVE:
            self.ever_connected = True
            core.set_state("connected", core.address)
        elif e.state is StreamState.BACKOFF:
            self.reconnects += 1
            core.set_state("disconnected", f"{core.address}: {e.detail}", e.retry_at)

    async def _watch(self) -> None:
        stream = self.core.stream("asset watch", self._open, self._on_message, on_event=self._on_event)
        stream.resume = self.resume
        await stream.run()

    def _on_message(self, msg: assets_pb2.WatchAssetsResponse) -> None:
        kind = msg.WhichOneof("event")
        if kind == "changes":
            self._take_changes(msg)
        elif kind == "snapshot":
            self._snapshot += convert.assets(msg.snapshot.assets)
            if msg.snapshot.last:
                self.resume.position, self.resume.epoch = msg.revision, msg.epoch
                self._pending.clear()
                self._pending_count = 0
                self.sig_snapshot.emit(self._snapshot, msg.revision)
                self._snapshot = []
        elif kind == "resync_needed":
            raise ResyncNeeded(msg.resync_needed.reason)

    def _take_changes(self, msg: assets_pb2.WatchAssetsResponse) -> None:
        changes = msg.changes.changes
        if not changes:
            return
        if changes[0].revision != self.resume.position + 1:
            # Never expected: the server guarantees consecutive revisions. Say so loudly.
            log.error("revision gap: at %d, received %d", self.resume.position, changes[0].revision)
        pending = self._pending
        for c in changes:  # keep the message; convert only the latest state per asset at flush
            a = c.asset  # one wrapper per change, not two
            pending[a.id] = a
        self.resume.position = msg.revision
        self._pending_count += len(changes)
        self.changes_received += len(changes)

    async def _flush_loop(self) -> None:
        delay = self.flush_interval
        while True:
            await asyncio.sleep(delay)
            delay = self.flush_interval
            if self._pending:
                batch = convert.assets(self._pending.values())
                count = self._pending_count
                self._pending = {}
                self._pending_count = 0
                self.sig_changes.emit(batch, self.resume.position, count)
                if len(batch) >= self.busy_batch:
                    delay = max(delay, self.busy_interval)

    # ---- telemetry -------------------------------------------------------------------------

    async def _telemetry(self, asset_id: str, history_s: float) -> None:
        stub = self._stub()

        async def open_call(_resume: Resume) -> grpc.aio.UnaryStreamCall:
            # Every (re)connection reloads the history first: it fills the gap of a break.
            hist = await stub.GetTelemetry(
                assets_pb2.GetTelemetryRequest(
                    asset_id=asset_id, start=convert.stamp(time.time() - history_s), max_points=5000
                ),
                timeout=UNARY_TIMEOUT,
            )
            self.sig_telemetry_history.emit(asset_id, [convert.series(s) for s in hist.series])
            return stub.WatchTelemetry(assets_pb2.WatchTelemetryRequest(asset_id=asset_id))

        def on_event(e: StreamEvent) -> None:
            if e.state is StreamState.FAILED:
                self.core.sig_error.emit(f"Telemetry of {asset_id}: {e.detail}")

        stream = self.core.stream(
            f"telemetry of {asset_id}",
            open_call,
            lambda msg: self.sig_telemetry_samples.emit(asset_id, [convert.series(s) for s in msg.series]),
            on_event=on_event,
            stale_after=None,  # quiet assets send nothing for long: only a broken link ends it
            eof_ends=True,  # the server ended the stream: this asset has no live telemetry
        )
        await stream.run()
