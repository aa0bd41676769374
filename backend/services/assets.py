"""vigie.v1.AssetService: list, get and watch assets; telemetry history and live samples."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np

from vigie.backend.adapters.base import DeviceNetwork, Series
from vigie.backend.domain.assets import Asset
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.services.convert import PB_TO_KIND, asset_to_pb, seconds_of
from vigie.backend.services.resumable import fitting, follow, resume_refusal, snapshot
from vigie.v1 import assets_pb2, assets_pb2_grpc

log = logging.getLogger(__name__)

DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
SNAPSHOT_CHUNK = 1000
DEFAULT_BATCH = 500
MAX_BATCH = 5000
DEFAULT_POINTS = 2000
# Points per series of one GetTelemetry answer: a chart is a few thousand pixels wide, and
# 10,000 points of each of an asset's metrics stay a few hundred KB, built off the event loop.
MAX_POINTS = 10_000
LIVE_POINTS = 100_000  # WatchTelemetry's samples since its previous message (a few, really)
TELEMETRY_WORKERS = 2  # telemetry answers computed at once; more requests wait their turn
MAX_RANGE_S = 31 * 86400


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, value = text.partition(":")
        offset = int(value)
    except (ValueError, UnicodeDecodeError):
        return None
    return offset if prefix == "offset" and offset >= 0 else None


def _telemetry(
    network: DeviceNetwork, asset_id: str, metric: str, start: float, end: float, points: int
) -> assets_pb2.GetTelemetryResponse:
    """One GetTelemetry answer, computed and converted in a worker thread (never on the loop).
    The simulator's inputs it reads (an asset's attributes and its anomaly list) are replaced or
    appended by the loop, never mutated in place, so a worker sees a consistent state."""
    series = network.telemetry(asset_id, metric, start, end, points)
    return assets_pb2.GetTelemetryResponse(asset_id=asset_id, series=_series_to_pb(series))


_SHIFTS = np.arange(10, dtype=np.uint64) * np.uint64(7)


def _samples_field(times_ms: np.ndarray, values: np.ndarray) -> bytes:
    """MetricSeries field 4 (`repeated Sample samples`) in wire format, built by numpy: 10,000
    samples cost a few milliseconds instead of a Python loop holding the GIL (which would slow
    the event loop even from a worker thread). Each sample is tag 0x22, its length, then
    time_unix_ms (tag 0x08, a varint) and value (tag 0x11, 8 little-endian bytes)."""
    n = len(times_ms)
    t = times_ms.astype(np.int64).view(np.uint64)  # negative times: 10-byte varints, as protobuf
    groups = ((t[:, None] >> _SHIFTS) & np.uint64(0x7F)).astype(np.uint8)
    width = 1 + np.count_nonzero((t[:, None] >> _SHIFTS[1:]) != 0, axis=1)  # varint bytes, 1..10
    columns = np.arange(10)
    groups |= np.where(columns[None, :] < (width - 1)[:, None], 0x80, 0).astype(np.uint8)
    rows = np.empty((n, 22), dtype=np.uint8)
    rows[:, 0] = 0x22
    rows[:, 1] = width + 10
    rows[:, 2] = 0x08
    rows[:, 3:13] = groups
    rows[:, 13] = 0x11
    rows[:, 14:22] = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(n, 8)
    keep = np.ones((n, 22), dtype=bool)
    keep[:, 3:13] = columns[None, :] < width[:, None]
    return rows[keep].tobytes()


def _series_to_pb(series: list[Series]) -> list[assets_pb2.MetricSeries]:
    out = []
    for s in series:
        head = assets_pb2.MetricSeries(metric=s.metric.name, unit=s.metric.unit, label=s.metric.label)
        ms = np.asarray(s.times * 1000.0).astype(np.int64)
        raw = head.SerializeToString() + _samples_field(ms, np.asarray(s.values, dtype=np.float64))
        out.append(assets_pb2.MetricSeries.FromString(raw))
    return out


class AssetService(assets_pb2_grpc.AssetServiceServicer):
    def __init__(
        self, store: AssetStore, network: DeviceNetwork, epoch: str, heartbeat_s: float = 5.0
    ) -> None:
        self.store = store
        self.network = network
        self.epoch = epoch
        self.heartbeat_s = heartbeat_s
        # On a bus (backend/bus/), how long a resume ahead of this replica waits for it to catch
        # up with the replica the console came from (0: a position ahead is a client bug).
        self.catch_up_s = 0.0
        self.pool = ThreadPoolExecutor(max_workers=TELEMETRY_WORKERS, thread_name_prefix="telemetry")

    async def ListAssets(
        self, request: assets_pb2.ListAssetsRequest, context: grpc.aio.ServicerContext
    ) -> assets_pb2.ListAssetsResponse:
        if request.page_size < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        offset = 0
        if request.page_token:
            decoded = _decode_token(request.page_token)
            if decoded is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "page_token is not a token this server issued"
                )
            offset = decoded or 0
        kinds = set()
        for k in request.kinds:
            if k not in PB_TO_KIND:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"kinds contains {k}, which is not a known Asset.Kind (1..{max(PB_TO_KIND)})",
                )
            kinds.add(PB_TO_KIND[k])
        districts = set(request.districts)
        matching = [
            a
            for a in self.store.assets()
            if (not kinds or a.kind in kinds) and (not districts or a.district in districts)
        ]
        page = [asset_to_pb(a) for a in matching[offset : offset + size]]
        page = page[: fitting([m.ByteSize() for m in page])]  # far below 4 MB, however full
        nxt = offset + len(page)
        return assets_pb2.ListAssetsResponse(
            assets=page,
            next_page_token=_encode_token(nxt) if nxt < len(matching) else "",
            total_size=len(matching),
            revision=self.store.revision,
            epoch=self.epoch,
        )

    async def GetAsset(
        self, request: assets_pb2.GetAssetRequest, context: grpc.aio.ServicerContext
    ) -> assets_pb2.Asset:
        if not request.id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "id is required")
        asset = self.store.get(request.id)
        if asset is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no asset with id {request.id!r}")
        return asset_to_pb(asset)  # type: ignore[arg-type]

    async def WatchAssets(
        self, request: assets_pb2.WatchAssetsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[assets_pb2.WatchAssetsResponse]:
        if request.max_batch < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_batch must not be negative")
        batch = min(request.max_batch or DEFAULT_BATCH, MAX_BATCH)
        store = self.store
        rev = request.after_revision
        if rev == 0:
            assets = store.assets()
            rev = store.revision
            total = len(assets)

            def chunk(part: Sequence[Asset], last: bool) -> assets_pb2.WatchAssetsResponse:
                return assets_pb2.WatchAssetsResponse(
                    revision=rev,
                    epoch=self.epoch,
                    snapshot=assets_pb2.SnapshotChunk(
                        assets=[asset_to_pb(a) for a in part], last=last, total_size=total
                    ),
                )

            for msg in snapshot(assets, SNAPSHOT_CHUNK, chunk):
                yield msg
        else:
            if rev > store.revision and request.epoch == self.epoch and self.catch_up_s > 0:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.catch_up_s
                while store.revision < rev and (left := deadline - loop.time()) > 0:
                    await store.wait_for_change(store.revision, left)
            reason = await resume_refusal(
                rev, request.epoch, self.epoch, store.revision, store.oldest_available, "revision", context
            )
            if reason:
                yield self._resync(rev, reason)
                return

        def changes_message(changes: Sequence[Asset]) -> assets_pb2.WatchAssetsResponse:
            msg = assets_pb2.WatchAssetsResponse(revision=changes[-1].revision, epoch=self.epoch)
            out = msg.changes.changes
            for a in changes:
                c = out.add()
                c.revision = a.revision
                asset_to_pb(a, c.asset)
            return msg

        def heartbeat_message(position: int) -> assets_pb2.WatchAssetsResponse:
            hb = assets_pb2.WatchAssetsResponse(revision=position, epoch=self.epoch)
            hb.heartbeat.server_time.GetCurrentTime()
            return hb

        async for msg in follow(
            store,
            rev,
            batch,
            self.heartbeat_s,
            lambda a: a.revision,
            changes_message,
            heartbeat_message,
            self._resync,
            "revision",
        ):
            yield msg

    def _resync(self, rev: int, reason: str) -> assets_pb2.WatchAssetsResponse:
        return assets_pb2.WatchAssetsResponse(
            revision=self.store.revision,
            epoch=self.epoch,
            resync_needed=assets_pb2.ResyncNeeded(
                requested_revision=rev, oldest_available_revision=self.store.oldest_available, reason=reason
            ),
        )

    async def _check_metric(self, asset_id: str, metric: str, context: grpc.aio.ServicerContext) -> None:
        if not asset_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "asset_id is required")
        if self.store.get(asset_id) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no asset with id {asset_id!r}")
        known = [m.name for m in self.network.metrics(asset_id)]
        if metric and metric not in known:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"asset {asset_id!r} has no metric {metric!r}; it has: {', '.join(known) or 'none'}",
            )

    async def GetTelemetry(
        self, request: assets_pb2.GetTelemetryRequest, context: grpc.aio.ServicerContext
    ) -> assets_pb2.GetTelemetryResponse:
        await self._check_metric(request.asset_id, request.metric, context)
        if not 0 <= request.max_points <= MAX_POINTS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"max_points is {request.max_points}: it must be 0 (the default, {DEFAULT_POINTS}) to"
                f" {MAX_POINTS}; longer ranges are downsampled to the points asked for",
            )
        points = request.max_points or DEFAULT_POINTS
        end = seconds_of(request.end) if request.HasField("end") else time.time()
        start = seconds_of(request.start) if request.HasField("start") else (end or 0) - 3600.0
        if start is None or end is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "start and end must be valid timestamps")
        if start >= end:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "start must be before end")
        if end - start > MAX_RANGE_S:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the time range is limited to 31 days")
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, _telemetry, self.network, request.asset_id, request.metric, start, end, points
        )

    async def WatchTelemetry(
        self, request: assets_pb2.WatchTelemetryRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[assets_pb2.WatchTelemetryResponse]:
        await self._check_metric(request.asset_id, request.metric, context)
        metrics = self.network.metrics(request.asset_id)
        if request.metric:
            metrics = [m for m in metrics if m.name == request.metric]
        if not metrics:
            return
        period = min(m.period_s for m in metrics)
        last = time.time()
        while True:
            # Wake just after the next sampling instant of the fastest metric.
            now = time.time()
            await asyncio.sleep(period - (now % period) + 0.05)
            now = time.time()
            series = self.network.telemetry(request.asset_id, request.metric, last + 1e-6, now, LIVE_POINTS)
            last = now  # every sample up to `now` has been considered exactly once
            series = [s for s in series if len(s.times)]
            if series:
                yield assets_pb2.WatchTelemetryResponse(
                    asset_id=request.asset_id, series=_series_to_pb(series)
                )
