"""vigie.v1.ModeService: modes, preview, activation, retry, return to normal, runs and WatchModes.

The rules live in backend/mode_engine.py; this module maps them to gRPC statuses and messages."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from vigie.backend.domain.actions import Params, describe
from vigie.backend.domain.commands import Stage
from vigie.backend.domain.mode_runs import DeviceRecord, Phase, Planned, RunInfo
from vigie.backend.domain.modes import ModeDef, Scope, Selection, Step, recorded, state_text
from vigie.backend.mode_engine import (
    ModeDenied,
    ModeEngine,
    ModeInvalid,
    ModeUnavailable,
    RunBusy,
    UnknownRun,
)
from vigie.backend.security import principal
from vigie.backend.services.convert import ACTION_TO_PB, KIND_TO_PB, STAGE_TO_PB, clip, geo, stamp
from vigie.backend.services.resumable import follow, resume_refusal, snapshot, wait_until_at
from vigie.v1 import assets_pb2, modes_pb2, modes_pb2_grpc

DEFAULT_BATCH = 200
MAX_BATCH = 2000
DEFAULT_CHANGES = 5000
MAX_CHANGES = 20_000
DEFAULT_RESULTS = 1000
MAX_RESULTS = 5000
DEFAULT_RUNS = 100
MAX_RUNS = 1000


def _params(p: Params, out) -> None:
    out.level_percent = p.level_percent
    out.badge_id = p.badge_id
    if p.until:
        stamp(p.until, out.until)
    out.preset = p.preset


def selection_to_pb(s: Selection, out: modes_pb2.Selection) -> None:
    out.kinds.extend(KIND_TO_PB[k] for k in s.kinds)  # type: ignore[misc]
    out.districts.extend(s.districts)
    out.building_types.extend(s.building_types)
    out.tags.extend(s.tags)
    out.asset_ids.extend(s.asset_ids)
    out.near_building_types.extend(s.near_building_types)
    out.near_m = s.near_m
    out.text = clip(s.text())


def step_to_pb(s: Step, out: modes_pb2.ModeStep) -> None:
    out.name, out.label = s.name, clip(s.label)
    out.action = ACTION_TO_PB[s.action]  # type: ignore[assignment]
    _params(s.params, out.params)
    selection_to_pb(s.selection, out.selection)
    out.revert = s.revert
    _params(s.revert_params, out.revert_params)
    out.suppresses.extend(s.suppresses)


def mode_to_pb(m: ModeDef, out: modes_pb2.ModeDefinition) -> None:
    out.id, out.name, out.description, out.color = m.id, clip(m.name), clip(m.description), m.color
    for s in m.steps:
        step_to_pb(s, out.steps.add())
    out.source = clip(m.source)
    out.wall_steps.extend(m.wall_steps)
    if m.wall_cameras is not None:
        selection_to_pb(m.wall_cameras, out.wall_cameras)


def scope_to_pb(s: Scope, out: modes_pb2.ModeScope) -> None:
    out.whole_city = s.whole_city
    out.districts.extend(s.districts)


def run_to_pb(r: RunInfo, out: modes_pb2.ModeRun | None = None) -> modes_pb2.ModeRun:
    m = modes_pb2.ModeRun() if out is None else out
    m.run_id, m.mode_id, m.mode_name, m.color = r.run_id, r.mode_id, clip(r.mode_name), r.color
    scope_to_pb(r.scope, m.scope)
    m.state = int(r.state)  # type: ignore[assignment]
    m.activated_by, m.console, m.reason = clip(r.activated_by), clip(r.console), clip(r.reason)
    stamp(r.activated_at, m.activated_at)
    m.returned_by, m.return_reason = clip(r.returned_by), clip(r.return_reason)
    if r.returned_at:
        stamp(r.returned_at, m.returned_at)
    m.total, m.confirmed, m.failed, m.pending = r.total, r.confirmed, r.failed, r.pending
    m.refused, m.hand_changed = r.refused, r.hand_changed
    m.wall_camera_ids.extend(r.wall_camera_ids)
    m.suppressed_causes.extend(r.suppressed_causes)
    m.sequence = r.sequence
    if r.updated_at:
        stamp(r.updated_at, m.updated_at)
    return m


def result_to_pb(r: DeviceRecord, phase: Phase, out: modes_pb2.DeviceResult) -> None:
    res = r.result(phase)
    out.asset_id, out.asset_name, out.step = r.asset_id, clip(r.asset_name), r.step
    out.kind = KIND_TO_PB[r.kind]  # type: ignore[assignment]
    out.phase = int(phase)  # type: ignore[assignment]
    if res.stage:
        out.stage = STAGE_TO_PB[Stage(res.stage)]  # type: ignore[assignment]
    out.detail = clip(
        res.detail or (f"not sent: {r.refused}" if r.refused and phase is Phase.ACTIVATION else "")
    )
    out.command_id = res.command_id
    out.previous_state = clip(r.previous_text())
    out.target_state = clip(r.target_text())
    out.refused = bool(r.refused)
    out.hand_changed, out.left_as_is = r.hand_changed, r.left_as_is
    out.attempts = res.attempts
    if res.updated_at:
        stamp(res.updated_at, out.updated_at)


def scope_from_pb(m: modes_pb2.ModeScope) -> Scope:
    return Scope(m.whole_city, tuple(dict.fromkeys(m.districts)))


def _token(n: int) -> str:
    return base64.urlsafe_b64encode(f"o:{n}".encode()).decode()


def _offset(token: str) -> int | None:
    if not token:
        return 0
    try:
        prefix, n = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(n) if prefix == "o" and int(n) >= 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


class ModeService(modes_pb2_grpc.ModeServiceServicer):
    def __init__(
        self, engine: ModeEngine, heartbeat_s: float = 5.0, feed: Any = None, actions: Any = None
    ) -> None:
        """`feed`: what WatchModes, ListModes, GetRun and ListRuns read the runs from (open_runs,
        run, journal, sequence, epoch, changes_after...), the engine unless a cluster's view of
        the run stream (backend/bus/modes.py); `actions`: what applies Activate, RetryFailed and
        ReturnToNormal, the engine unless the cluster's relay to the leader's."""
        self.engine = engine
        self.feed = engine if feed is None else feed
        self.actions = engine if actions is None else actions
        self.heartbeat_s = heartbeat_s
        self.catch_up_s = 0.0 if feed is None else 5.0  # a console from a replica a little ahead

    async def ListModes(self, request, context) -> modes_pb2.ListModesResponse:
        out = modes_pb2.ListModesResponse(districts=self.engine.districts())
        for m in self.engine.modes.values():
            mode_to_pb(m, out.modes.add())
        for r in self.feed.open_runs():  # as WatchModes numbers them
            run_to_pb(r, out.active.add())
        return out

    async def Preview(self, request: modes_pb2.PreviewRequest, context) -> modes_pb2.PreviewResponse:
        if not 0 <= request.max_changes <= MAX_CHANGES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"max_changes must be 0..{MAX_CHANGES}")
        limit = request.max_changes or DEFAULT_CHANGES
        try:
            plan = await self.engine.preview(request.mode_id, scope_from_pb(request.scope))
        except ModeInvalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        out = modes_pb2.PreviewResponse()
        mode_to_pb(plan.mode, out.mode)
        scope_to_pb(plan.scope, out.scope)
        counts: dict = {}
        refusal = {"offline": 1, "fault": 2, "maintenance": 3}
        for p in plan.items:
            a = p.asset
            c = counts.setdefault(a.kind, {"change": 0, "unchanged": 0, "refused": 0, "conflict": 0})
            c[p.outcome] += 1
            if p.outcome == "change":
                out.total_changes += 1
                if len(out.changes) < limit:
                    ch = out.changes.add(
                        asset_id=a.id,
                        asset_name=clip(a.name),
                        district=clip(a.district),
                        step=p.step.name,
                        current_state=clip(_current(p)),
                        target_state=clip(_target(p)),
                    )
                    ch.kind = KIND_TO_PB[a.kind]  # type: ignore[assignment]
                    ch.position.CopyFrom(geo(a.lat, a.lon))
                    ch.action = ACTION_TO_PB[p.step.action]  # type: ignore[assignment]
                    _params(p.step.params, ch.params)
            elif p.outcome == "refused":
                rf = out.refusals.add(
                    asset_id=a.id, asset_name=clip(a.name), step=p.step.name, detail=clip(p.detail)
                )
                rf.kind = KIND_TO_PB[a.kind]  # type: ignore[assignment]
                rf.reason = refusal[a.status.value]  # type: ignore[assignment]
                rf.position.CopyFrom(geo(a.lat, a.lon))
            elif p.outcome == "conflict":
                out.conflicts.add(
                    asset_id=a.id,
                    asset_name=clip(a.name),
                    step=p.step.name,
                    run_id=p.run_id,
                    mode_name=clip(p.mode_name),
                    detail=clip(p.detail),
                )
        for kind, c in counts.items():
            out.counts.add(
                kind=KIND_TO_PB[kind],  # type: ignore[arg-type]
                changes=c["change"],
                unchanged=c["unchanged"],
                refusals=c["refused"],
                conflicts=c["conflict"],
            )
        out.wall_camera_ids.extend(plan.wall_camera_ids)
        return out

    async def Activate(self, request: modes_pb2.ActivateRequest, context) -> modes_pb2.ActivateResponse:
        try:
            run, replayed = await self.actions.activate(
                request.idempotency_key,
                request.mode_id,
                scope_from_pb(request.scope),
                request.reason,
                request.confirmed,
                principal.current(),
            )
        except ModeInvalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except ModeDenied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except ModeUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return modes_pb2.ActivateResponse(run=run_to_pb(run), replayed=replayed)

    async def RetryFailed(
        self, request: modes_pb2.RetryFailedRequest, context
    ) -> modes_pb2.RetryFailedResponse:
        try:
            run, ids, replayed = await self.actions.retry(
                request.idempotency_key,
                request.run_id,
                request.reason,
                request.confirmed,
                principal.current(),
                include_recovered=request.include_recovered,
            )
        except ModeInvalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except ModeDenied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except ModeUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except UnknownRun as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except RunBusy as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return modes_pb2.RetryFailedResponse(run=run_to_pb(run), retried_asset_ids=ids, replayed=replayed)

    async def ReturnToNormal(
        self, request: modes_pb2.ReturnToNormalRequest, context
    ) -> modes_pb2.ReturnToNormalResponse:
        try:
            run, hand, replayed = await self.actions.return_to_normal(
                request.idempotency_key,
                request.run_id,
                request.reason,
                request.confirmed,
                principal.current(),
                dry_run=request.dry_run,
                restore=frozenset(request.restore_hand_changed),
                restore_all=request.restore_all_hand_changed,
            )
        except ModeInvalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except ModeDenied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except ModeUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except UnknownRun as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except RunBusy as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        out = modes_pb2.ReturnToNormalResponse(run=run_to_pb(run), replayed=replayed)
        for r in hand:
            d = out.hand_changed.add()
            result_to_pb(r, Phase.RETURN, d)
            d.detail = clip(f"now {r.hand_state}; before the mode {r.previous_text()}")
        return out

    async def GetRun(self, request: modes_pb2.GetRunRequest, context) -> modes_pb2.GetRunResponse:
        if not 0 <= request.page_size <= MAX_RESULTS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 0..{MAX_RESULTS}")
        start = _offset(request.page_token)
        if start is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one this server gave")
        try:
            run = self.feed.run(request.run_id)
            records = await self.engine.records(request.run_id)
        except UnknownRun as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        phase = Phase(request.phase) if request.phase else run.phase
        if request.only_failed:
            records = [
                r for r in records if r.result(phase).failed or (r.refused and phase is Phase.ACTIVATION)
            ]
        size = request.page_size or DEFAULT_RESULTS
        out = modes_pb2.GetRunResponse(run=run_to_pb(run), total_size=len(records))
        for r in records[start : start + size]:
            result_to_pb(r, phase, out.results.add())
        if start + size < len(records):
            out.next_page_token = _token(start + size)
        return out

    async def ListRuns(self, request: modes_pb2.ListRunsRequest, context) -> modes_pb2.ListRunsResponse:
        if not 0 <= request.page_size <= MAX_RUNS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 0..{MAX_RUNS}")
        start = _offset(request.page_token)
        if start is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one this server gave")
        size = request.page_size or DEFAULT_RUNS
        runs = self.feed.journal(None, start + size + 1)
        out = modes_pb2.ListRunsResponse()
        for r in runs[start : start + size]:
            run_to_pb(r, out.runs.add())
        if len(runs) > start + size:
            out.next_page_token = _token(start + size)
        return out

    async def WatchModes(
        self, request: modes_pb2.WatchModesRequest, context
    ) -> AsyncIterator[modes_pb2.WatchModesResponse]:
        if request.max_batch < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_batch must not be negative")
        batch = min(request.max_batch or DEFAULT_BATCH, MAX_BATCH)
        engine = self.feed
        seq = request.after_sequence
        if seq == 0:
            runs = engine.open_runs()
            seq = engine.sequence

            def chunk(part: Sequence[RunInfo], last: bool) -> modes_pb2.WatchModesResponse:
                msg = modes_pb2.WatchModesResponse(sequence=seq, epoch=engine.epoch)
                msg.snapshot.last = last
                for r in part:
                    run_to_pb(r, msg.snapshot.runs.add())
                return msg

            for msg in snapshot(runs, 100, chunk):
                yield msg
        else:
            if request.epoch == engine.epoch and self.catch_up_s > 0:
                await wait_until_at(engine, seq, self.catch_up_s)
            reason = await resume_refusal(
                seq,
                request.epoch,
                engine.epoch,
                engine.sequence,
                engine.oldest_available,
                "sequence",
                context,
            )
            if reason:
                yield self._resync(seq, reason)
                return

        def changes_message(changes: Sequence[RunInfo]) -> modes_pb2.WatchModesResponse:
            msg = modes_pb2.WatchModesResponse(sequence=changes[-1].sequence, epoch=engine.epoch)
            for r in changes:
                c = msg.changes.changes.add(sequence=r.sequence)
                run_to_pb(r, c.run)
            return msg

        def heartbeat_message(position: int) -> modes_pb2.WatchModesResponse:
            hb = modes_pb2.WatchModesResponse(sequence=position, epoch=engine.epoch)
            hb.heartbeat.server_time.GetCurrentTime()
            return hb

        async for msg in follow(
            engine,
            seq,
            batch,
            self.heartbeat_s,
            lambda r: r.sequence,
            changes_message,
            heartbeat_message,
            self._resync,
            "sequence",
        ):
            yield msg

    def _resync(self, seq: int, reason: str) -> modes_pb2.WatchModesResponse:
        return modes_pb2.WatchModesResponse(
            sequence=self.feed.sequence,
            epoch=self.feed.epoch,
            resync_needed=assets_pb2.ResyncNeeded(
                requested_revision=seq, oldest_available_revision=self.feed.oldest_available, reason=reason
            ),
        )


def _current(p: Planned) -> str:
    return state_text(p.step.action, recorded(p.step.action, p.asset))


def _target(p: Planned) -> str:
    return describe(p.step.action, p.step.params)
