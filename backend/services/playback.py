"""vigie.v1.PlaybackService: recorded spans, playback (backend/services/play_stream.py), the
city at a time, exports. Every read of files or databases runs in the recordings' worker pool."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.recording.export import MANIFEST, ExportJob
from vigie.backend.recording.recorder import GAP_S
from vigie.backend.recording.system import Recordings
from vigie.backend.security import principal
from vigie.backend.services.alarms import alarm_to_pb
from vigie.backend.services.audit_trail import audited
from vigie.backend.services.convert import KIND_TO_PB, asset_to_pb, seconds_of, stamp
from vigie.backend.services.play_stream import play
from vigie.v1 import playback_pb2, playback_pb2_grpc

MAX_SPAN_RANGE_S = 31 * 86400
MAX_EXPORT_RANGE_S = 24 * 3600
MAX_EXPORT_CAMERAS = 16
MAX_SPANS = 10_000
CHUNK = 256 * 1024
PB_TO_KIND = {v: k for k, v in KIND_TO_PB.items()}
JOB_STATES = {
    "running": playback_pb2.ExportJob.RUNNING,
    "done": playback_pb2.ExportJob.DONE,
    "failed": playback_pb2.ExportJob.FAILED,
}


def _ts(t: float) -> Timestamp:
    out = Timestamp()
    stamp(t, out)
    return out


def job_to_pb(job: ExportJob) -> playback_pb2.ExportJob:
    m = playback_pb2.ExportJob(
        export_id=job.export_id,
        state=JOB_STATES[job.state],  # type: ignore[arg-type]
        progress=job.progress,
        camera_ids=list(job.camera_ids),
        reason=job.reason,
        requested_by=job.requested_by,
        manifest_name=MANIFEST if job.state == "done" else "",
        error=job.error,
    )
    stamp(job.start, m.range.start)
    stamp(job.end, m.range.end)
    stamp(job.created, m.created)
    for f in job.files:
        pf = m.files.add(camera_id=f.camera_id, name=f.name, size=f.size, sha256=f.sha256, frames=f.frames)
        stamp(f.start, pf.start)
        stamp(f.end, pf.end)
    return m


class PlaybackService(playback_pb2_grpc.PlaybackServiceServicer):
    def __init__(self, recordings: Recordings, audit: AuditSink) -> None:
        self.rec = recordings
        self.audit = audit
        recordings.exporter.on_finished = self._finished

    def _finished(self, job: ExportJob) -> None:
        """The end of an export in the audit trail, with the manifest's own SHA-256."""
        detail = (
            f"{len(job.files)} files, manifest sha256 {job.manifest_sha256}"
            if job.state == "done"
            else job.error
        )
        self.audit.record(
            AuditEntry(
                job.requested_by,
                "",
                "recording.export_finished",
                job.export_id,
                job.reason[:1000],
                "ok" if job.state == "done" else "failed",
                detail,
            )
        )

    # --- helpers ----------------------------------------------------------------------------------

    async def _range(
        self, rng: playback_pb2.TimeRange, has: bool, limit: float, context: grpc.aio.ServicerContext
    ) -> tuple[float, float]:
        now = time.time()
        if not has or not rng.HasField("start"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "range.start is required")
        start = seconds_of(rng.start)
        end = seconds_of(rng.end) if rng.HasField("end") else now
        if start is None or end is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "range holds an invalid timestamp")
        assert start is not None and end is not None
        if end <= start:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "range.end must be after range.start")
        if end - start > limit:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"range is longer than {limit / 3600:g} h (at most)"
            )
        return start, end

    async def _camera(self, camera_id: str, context: grpc.aio.ServicerContext) -> None:
        if not camera_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "camera_id is required")
        if not self.rec.is_camera(camera_id):
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no camera with id {camera_id!r}")

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.rec.pool, fn, *args)

    # --- spans ------------------------------------------------------------------------------------

    def _spans(
        self, camera_id: str, start: float, end: float
    ) -> tuple[list[tuple[float, float, bool]], bool]:
        segs = self.rec.index.segments(camera_id, start, end, time.time())
        spans: list[tuple[float, float, bool]] = []
        for s in segs:
            if spans and s.start - spans[-1][1] <= GAP_S and s.protected == spans[-1][2]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], s.end), s.protected)
            else:
                spans.append((s.start, s.end, s.protected))
        return spans[:MAX_SPANS], len(spans) > MAX_SPANS

    async def ListSpans(
        self, request: playback_pb2.ListSpansRequest, context: grpc.aio.ServicerContext
    ) -> playback_pb2.ListSpansResponse:
        await self._camera(request.camera_id, context)
        start, end = await self._range(request.range, request.HasField("range"), MAX_SPAN_RANGE_S, context)
        spans, truncated = await self._run(self._spans, request.camera_id, start, end)
        alarms = await self._run(self.rec.history.store.alarm_markers, request.camera_id, start, end)
        out = playback_pb2.ListSpansResponse(camera_id=request.camera_id, truncated=truncated)
        for s, e, p in spans:
            out.spans.add(start=_ts(s), end=_ts(e), protected=p)
        for a in alarms:
            out.markers.add(
                kind=playback_pb2.TimelineMarker.ALARM,
                time=_ts(a.raised_at),
                ref_id=a.id,
                label=f"P{a.priority} {a.message}"[:200],
                priority=a.priority,
            )
        return out

    # --- play -------------------------------------------------------------------------------------

    async def Play(
        self, request_iterator: AsyncIterator[playback_pb2.PlayControl], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[playback_pb2.PlayResponse]:
        async for message in play(self.rec, request_iterator, context, self._camera):
            yield message

    # --- the city at a moment ---------------------------------------------------------------------

    async def GetCityState(
        self, request: playback_pb2.GetCityStateRequest, context: grpc.aio.ServicerContext
    ) -> playback_pb2.CityState:
        if not request.HasField("time"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "time is required")
        t = seconds_of(request.time)
        if t is None or t > time.time() + 1.0:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "time must be a valid time, not in the future"
            )
        assert t is not None
        if request.page_size < 0 or request.page_size > 10_000:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must be 0..10000")
        size = request.page_size or 2000
        try:
            offset = int(request.page_token or "0")
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad page_token")
        kinds = {PB_TO_KIND[k] for k in request.kinds if k in PB_TO_KIND}
        store = self.rec.history.store
        assets, complete = await self._run(store.city_at, t)
        chosen = sorted((a for a in assets.values() if not kinds or a.kind in kinds), key=lambda a: a.id)
        page = chosen[offset : offset + size]
        out = playback_pb2.CityState(time=_ts(t), complete=complete)
        start = await self._run(store.start_time)
        if start is not None:
            stamp(start, out.history_start)
        for a in page:
            asset_to_pb(a, out.assets.add())
        if offset + size < len(chosen):
            out.next_page_token = str(offset + size)
        if offset == 0:
            for al in await self._run(store.alarms_open_at, t):
                alarm_to_pb(al, out.open_alarms.add())
        return out

    # --- export -----------------------------------------------------------------------------------

    async def StartExport(
        self, request: playback_pb2.StartExportRequest, context: grpc.aio.ServicerContext
    ) -> playback_pb2.ExportJob:
        async def work() -> playback_pb2.ExportJob:
            ids = list(dict.fromkeys(request.camera_ids))
            if not ids or len(request.camera_ids) > MAX_EXPORT_CAMERAS:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"camera_ids: 1..{MAX_EXPORT_CAMERAS} cameras"
                )
            if not request.reason.strip():
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "reason is required for an export")
            for cid in ids:
                await self._camera(cid, context)
            start, end = await self._range(
                request.range, request.HasField("range"), MAX_EXPORT_RANGE_S, context
            )
            job = self.rec.exporter.start(
                ids, start, end, request.reason.strip(), principal.current().user, request.idempotency_key
            )
            return job_to_pb(job)

        return await audited(
            self.audit,
            context,
            "recording.export",
            ",".join(request.camera_ids)[:200],
            request.reason,
            work,
            lambda r: f"export {r.export_id}",
        )

    async def WatchExport(
        self, request: playback_pb2.WatchExportRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[playback_pb2.ExportJob]:
        job = self.rec.exporter.jobs.get(request.export_id)
        if job is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no export {request.export_id!r}")
        assert job is not None
        version = job.version
        yield job_to_pb(job)
        while job.state == "running":
            nxt = await self.rec.exporter.wait_change(request.export_id, version, 5.0)
            if nxt is None:
                return
            if nxt.version != version:
                job, version = nxt, nxt.version
                yield job_to_pb(job)

    async def DownloadExport(
        self, request: playback_pb2.DownloadExportRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[playback_pb2.ExportChunk]:
        job = self.rec.exporter.jobs.get(request.export_id)
        if job is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no export {request.export_id!r}")
        assert job is not None
        if job.state != "done":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the export is not finished")
        folder = self.rec.exporter.folder(job.export_id)
        who = principal.current()
        self.audit.record(
            AuditEntry(
                who.user, who.console, "recording.export_download", job.export_id, job.reason[:1000], "ok", ""
            )
        )
        for name in [f.name for f in job.files] + [MANIFEST]:
            path = os.path.join(folder, name)
            size = os.path.getsize(path)
            offset = 0
            with open(path, "rb") as fh:
                while True:
                    data = await self._run(fh.read, CHUNK)
                    last = offset + len(data) >= size
                    yield playback_pb2.ExportChunk(name=name, offset=offset, data=data, last=last, size=size)
                    offset += len(data)
                    if last or not data:
                        break
