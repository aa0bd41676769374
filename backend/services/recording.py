"""vigie.v1.RecordingService: what each camera records, retention, protection (supervisors;
rules in backend/security/rules.py), every change audited."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

from vigie.backend.domain.audit import AuditSink
from vigie.backend.recording.system import Recordings
from vigie.backend.services.audit_trail import audited
from vigie.backend.services.convert import seconds_of, stamp
from vigie.backend.store.recordings_sqlite import CameraSettings
from vigie.v1 import playback_pb2, playback_pb2_grpc

RS = playback_pb2.RecordingSettings
MODE_TO_PB = {"continuous": RS.CONTINUOUS, "on_alarm": RS.ON_ALARM, "off": RS.OFF}
PB_TO_MODE = {v: k for k, v in MODE_TO_PB.items()}
MAX_PRE_S, MAX_POST_S = 300.0, 3600.0
MAX_DAYS = 3650.0


class RecordingService(playback_pb2_grpc.RecordingServiceServicer):
    def __init__(self, recordings: Recordings, audit: AuditSink) -> None:
        self.rec = recordings
        self.audit = audit

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.rec.pool, fn, *args)

    def _settings_pb(self, camera_id: str) -> playback_pb2.RecordingSettings:
        s = self.rec.recorder.settings(camera_id)
        size, oldest = self.rec.index.camera_totals(camera_id)
        m = RS(
            camera_id=camera_id,
            mode=MODE_TO_PB[s.mode],  # type: ignore[arg-type]
            pre_alarm_s=s.pre_s,
            post_alarm_s=s.post_s,
            recording=self.rec.recorder.is_recording(camera_id),
            bytes_stored=size,
        )
        if oldest:
            stamp(oldest, m.oldest)
        return m

    def _retention_pb(self) -> playback_pb2.RetentionSettings:
        p = self.rec.recorder.policy
        used, protected = self.rec.index.totals(time.time())
        return playback_pb2.RetentionSettings(
            max_age_days=p.max_age_days,
            protected_age_days=p.protected_age_days,
            quota_bytes=p.quota_bytes,
            used_bytes=used,
            protected_bytes=protected,
        )

    async def GetRecordingSettings(
        self, request: playback_pb2.GetRecordingSettingsRequest, context: grpc.aio.ServicerContext
    ) -> playback_pb2.GetRecordingSettingsResponse:
        ids = list(request.camera_ids) or self.rec.camera_ids()
        for cid in ids:
            if not self.rec.is_camera(cid):
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no camera with id {cid!r}")

        def read() -> playback_pb2.GetRecordingSettingsResponse:
            return playback_pb2.GetRecordingSettingsResponse(
                cameras=[self._settings_pb(c) for c in ids], retention=self._retention_pb()
            )

        result: playback_pb2.GetRecordingSettingsResponse = await self._run(read)
        return result

    async def SetRecordingSettings(
        self, request: playback_pb2.SetRecordingSettingsRequest, context: grpc.aio.ServicerContext
    ) -> playback_pb2.RecordingSettings:
        s = request.settings

        async def work() -> playback_pb2.RecordingSettings:
            if not s.camera_id or not self.rec.is_camera(s.camera_id):
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no camera with id {s.camera_id!r}")
            if not 0 <= s.pre_alarm_s <= MAX_PRE_S or not 0 <= s.post_alarm_s <= MAX_POST_S:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"pre_alarm_s must be 0..{MAX_PRE_S:g} and post_alarm_s 0..{MAX_POST_S:g}",
                )
            if s.mode not in PB_TO_MODE and s.mode != RS.MODE_UNSPECIFIED:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown mode")
            old = self.rec.recorder.settings(s.camera_id)
            new = CameraSettings(
                s.camera_id,
                PB_TO_MODE.get(s.mode, old.mode),
                s.pre_alarm_s or old.pre_s,
                s.post_alarm_s or old.post_s,
            )
            await self._run(self.rec.recorder.set_settings, new)
            result: playback_pb2.RecordingSettings = await self._run(self._settings_pb, s.camera_id)
            return result

        return await audited(
            self.audit,
            context,
            "recording.settings",
            s.camera_id,
            request.reason,
            work,
            lambda r: f"mode {RS.Mode.Name(r.mode)}, pre {r.pre_alarm_s:g} s, post {r.post_alarm_s:g} s",
        )

    async def SetRetention(
        self, request: playback_pb2.SetRetentionRequest, context: grpc.aio.ServicerContext
    ) -> playback_pb2.RetentionSettings:
        r = request.retention

        async def work() -> playback_pb2.RetentionSettings:
            for name in ("max_age_days", "protected_age_days"):
                v = getattr(r, name)
                if not 0 <= v <= MAX_DAYS:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name} must be 0..{MAX_DAYS:g}")
            p = self.rec.recorder.policy
            p.max_age_days = r.max_age_days or p.max_age_days
            p.protected_age_days = r.protected_age_days or p.protected_age_days
            p.quota_bytes = r.quota_bytes or p.quota_bytes
            await self._run(self.rec.recorder.enforce)
            await self._run(self.rec.recorder.quota.reserve, 0)  # deletes down to a lowered quota
            result: playback_pb2.RetentionSettings = await self._run(self._retention_pb)
            return result

        return await audited(
            self.audit,
            context,
            "recording.retention",
            "recordings",
            request.reason,
            work,
            lambda x: (
                f"max age {x.max_age_days:g} d, protected {x.protected_age_days:g} d, quota {x.quota_bytes} B"
            ),
        )

    async def SetProtection(
        self, request: playback_pb2.SetProtectionRequest, context: grpc.aio.ServicerContext
    ) -> playback_pb2.SetProtectionResponse:
        async def work() -> playback_pb2.SetProtectionResponse:
            if not self.rec.is_camera(request.camera_id):
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no camera with id {request.camera_id!r}")
            rng = request.range
            start = seconds_of(rng.start) if rng.HasField("start") else None
            end = seconds_of(rng.end) if rng.HasField("end") else None
            if start is None or end is None or end <= start:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "range needs a start before its end")
            assert start is not None and end is not None
            idx = self.rec.index
            if request.protect:
                until = time.time() + self.rec.recorder.policy.protected_age_days * 86400
                await self._run(
                    idx.protect, request.camera_id, start, end, until, request.reason or "by hand"
                )
                n = await self._run(idx.count_segments, request.camera_id, start, end)
            else:
                n = await self._run(idx.unprotect, request.camera_id, start, end)
            return playback_pb2.SetProtectionResponse(segments=n)

        return await audited(
            self.audit,
            context,
            "recording.protection",
            request.camera_id,
            request.reason,
            work,
            lambda x: f"{'protect' if request.protect else 'release'}: {x.segments} segments",
        )
