"""vigie.v1.AlarmService: watch (snapshot + resumable changes), journal, acknowledge, shelve."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from vigie.backend.domain.alarms import (
    MAX_SHELVE_S,
    Alarm,
    AlarmClosed,
    AlarmEngine,
    AlarmState,
    EngineUnavailable,
    UnknownAlarm,
)
from vigie.backend.domain.audit import AuditSink, join_targets
from vigie.backend.security import principal
from vigie.backend.services.audit_trail import audited
from vigie.backend.services.convert import (
    KIND_TO_PB,
    PB_TO_KIND,
    PRIORITIES,
    clip,
    filter_problem,
    request_range,
    seconds_of,
)
from vigie.backend.services.resumable import fitting, follow, resume_refusal, snapshot
from vigie.backend.store.alarms_sqlite import AlarmPersister, JournalQuery
from vigie.v1 import alarms_pb2, alarms_pb2_grpc, assets_pb2

SNAPSHOT_CHUNK = 1000
DEFAULT_BATCH = 500
MAX_BATCH = 5000
DEFAULT_PAGE = 200
MAX_PAGE = 5000
MAX_IDS = 10_000
MAX_CAMERAS = 16  # cameras listed per alarm (the sources name 3 at most)


def _ts(t: float, out: Timestamp) -> None:
    secs = int(t)
    out.seconds = secs
    out.nanos = int((t - secs) * 1e9)


def alarm_to_pb(a: Alarm, out: alarms_pb2.Alarm | None = None) -> alarms_pb2.Alarm:
    """Fill `out` (or a new message) from a domain alarm; unset times stay unset. Text is clipped
    to the request bounds: an old store may hold longer comments, which must not reach consoles."""
    m = alarms_pb2.Alarm() if out is None else out
    m.id = clip(a.id)
    m.source_key = clip(a.source_key)
    m.asset_id = clip(a.asset_id)
    m.asset_name = clip(a.asset_name)
    m.asset_kind = KIND_TO_PB[a.asset_kind]  # type: ignore[assignment]
    m.district = clip(a.district)
    m.position.lat = a.lat
    m.position.lon = a.lon
    m.priority = a.priority
    m.cause = clip(a.cause)
    m.message = clip(a.message)
    m.state = int(a.state)  # type: ignore[assignment]
    m.active = a.active
    m.acknowledged = a.acknowledged
    for name in ("raised_at", "cleared_at", "acknowledged_at", "shelved_until", "updated_at"):
        t = getattr(a, name)
        if t:
            _ts(t, getattr(m, name))
    m.acknowledged_by = clip(a.acknowledged_by)
    m.ack_comment = clip(a.ack_comment)
    m.shelved_by = clip(a.shelved_by)
    m.shelve_reason = clip(a.shelve_reason)
    m.camera_ids.extend(clip(c) for c in a.camera_ids[:MAX_CAMERAS])
    m.occurrences = a.occurrences
    m.suppression_reason = clip(a.suppression_reason)
    m.chattering = a.chattering
    m.sequence = a.sequence
    return m


def _encode_token(raised_at: float, num: int) -> str:
    return base64.urlsafe_b64encode(f"k:{raised_at!r}:{num}".encode()).decode()


def _decode_token(token: str) -> tuple[float, int] | None:
    try:
        prefix, raised, num = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return (float(raised), int(num)) if prefix == "k" else None
    except (ValueError, UnicodeDecodeError):
        return None


def _operator(claimed: str) -> str:
    """Who acts: the authenticated user; the request's `operator` only when no one is (no
    interceptor, e.g. unit tests)."""
    who = principal.current()
    return claimed if who is principal.ANONYMOUS else who.user


class AlarmService(alarms_pb2_grpc.AlarmServiceServicer):
    def __init__(
        self,
        engine: AlarmEngine,
        persister: AlarmPersister,
        audit: AuditSink,
        heartbeat_s: float = 5.0,
        actions: Any = None,
    ) -> None:
        """`audit` gets one record per acknowledge, shelve and unshelve call. On a cluster
        (docs/cluster.md) `engine` is the replica's view of the alarms (what it serves) and
        `actions` applies operator actions through the leader's engine (backend/bus/alarm_relay.py);
        without it they go to `engine`."""
        self.engine = engine
        self.persister = persister
        self.heartbeat_s = heartbeat_s
        self.audit = audit
        self.actions = actions
        # A console arriving from a replica a little ahead of this one waits this long for it.
        self.catch_up_s = 0.0

    # --- WatchAlarms ----------------------------------------------------------------------------------

    async def WatchAlarms(
        self, request: alarms_pb2.WatchAlarmsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[alarms_pb2.WatchAlarmsResponse]:
        if request.max_batch < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_batch must not be negative")
        batch = min(request.max_batch or DEFAULT_BATCH, MAX_BATCH)
        engine = self.engine
        seq = request.after_sequence
        if seq == 0:
            alarms = engine.open_alarms()
            seq = engine.sequence
            total = len(alarms)

            def chunk(part: Sequence[Alarm], last: bool) -> alarms_pb2.WatchAlarmsResponse:
                msg = alarms_pb2.WatchAlarmsResponse(sequence=seq, epoch=engine.epoch)
                msg.snapshot.last = last
                msg.snapshot.total_size = total
                for a in part:
                    alarm_to_pb(a, msg.snapshot.alarms.add())
                return msg

            for msg in snapshot(alarms, SNAPSHOT_CHUNK, chunk):
                yield msg
        else:
            if seq > engine.sequence and request.epoch == engine.epoch and self.catch_up_s > 0:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.catch_up_s
                while engine.sequence < seq and (left := deadline - loop.time()) > 0:
                    await engine.wait_for_change(engine.sequence, left)
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

        def changes_message(changes: Sequence[Alarm]) -> alarms_pb2.WatchAlarmsResponse:
            msg = alarms_pb2.WatchAlarmsResponse(sequence=changes[-1].sequence, epoch=engine.epoch)
            out = msg.changes.changes
            for a in changes:
                c = out.add()
                c.sequence = a.sequence
                alarm_to_pb(a, c.alarm)
            return msg

        def heartbeat_message(position: int) -> alarms_pb2.WatchAlarmsResponse:
            hb = alarms_pb2.WatchAlarmsResponse(sequence=position, epoch=engine.epoch)
            hb.heartbeat.server_time.GetCurrentTime()
            return hb

        async for msg in follow(
            engine,
            seq,
            batch,
            self.heartbeat_s,
            lambda a: a.sequence,
            changes_message,
            heartbeat_message,
            self._resync,
            "sequence",
        ):
            yield msg

    def _resync(self, seq: int, reason: str) -> alarms_pb2.WatchAlarmsResponse:
        return alarms_pb2.WatchAlarmsResponse(
            sequence=self.engine.sequence,
            epoch=self.engine.epoch,
            resync_needed=assets_pb2.ResyncNeeded(
                requested_revision=seq, oldest_available_revision=self.engine.oldest_available, reason=reason
            ),
        )

    # --- ListAlarms -----------------------------------------------------------------------------------

    async def ListAlarms(
        self, request: alarms_pb2.ListAlarmsRequest, context: grpc.aio.ServicerContext
    ) -> alarms_pb2.ListAlarmsResponse:
        if not 0 <= request.page_size <= MAX_PAGE:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 0..{MAX_PAGE}")
        q = JournalQuery(limit=request.page_size or DEFAULT_PAGE)
        if request.page_token:
            q.after = _decode_token(request.page_token)
            if q.after is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "page_token is not a token this server issued"
                )
        for k in request.kinds:
            if k not in PB_TO_KIND:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"kinds contains {k}: not an Asset.Kind"
                )
            q.kinds.append(PB_TO_KIND[k].value)
        problem = filter_problem(
            request.states, {int(s) for s in AlarmState}, "states", "not an Alarm.State"
        ) or filter_problem(request.priorities, PRIORITIES, "priorities", "must be 1..4")
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        q.states = [int(s) for s in request.states]
        q.priorities = list(request.priorities)
        q.districts = list(request.districts)
        q.asset_ids = list(request.asset_ids)
        q.text = request.text
        try:
            q.start, q.end = request_range(request)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        alarms, total = await self.persister.query(q)
        pbs = [alarm_to_pb(a) for a in alarms]
        kept = fitting([m.ByteSize() for m in pbs])  # a page stays far below 4 MB, however full
        resp = alarms_pb2.ListAlarmsResponse(total_size=total, alarms=pbs[:kept])
        if len(alarms) == q.limit or kept < len(alarms):
            last = alarms[kept - 1]
            resp.next_page_token = _encode_token(last.raised_at, int(last.id.rsplit("-", 1)[1]))
        return resp

    # --- operator actions -----------------------------------------------------------------------------

    async def _act(self, context: grpc.aio.ServicerContext, name: str, *args: Any) -> list[Alarm]:
        """The engine's `name`(*args), or the relay's; UNAVAILABLE when no engine can apply it."""
        try:
            if self.actions is None:
                return getattr(self.engine, name)(*args)
            return await getattr(self.actions, name)(*args)
        except EngineUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise  # abort raised already

    async def _split(self, ids: list[str], context: grpc.aio.ServicerContext) -> tuple[list[str], dict]:
        """Open ids (engine) and closed ones (journal); NOT_FOUND for any other, changing nothing."""
        if not ids:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "alarm_ids must not be empty")
        if len(ids) > MAX_IDS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_IDS} alarm_ids at a time")
        unique = list(dict.fromkeys(ids))
        missing = [i for i in unique if self.engine.get(i) is None]
        closed = await self.persister.get_many(missing) if missing else {}
        # The engine may have opened/closed alarms while we awaited: look again.
        unknown = [i for i in missing if i not in closed and self.engine.get(i) is None]
        if unknown:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no alarm with id {', '.join(unknown[:20])}")
        closed = {i: a for i, a in closed.items() if self.engine.get(i) is None}
        return [i for i in unique if i not in closed], closed

    async def Acknowledge(
        self, request: alarms_pb2.AcknowledgeRequest, context: grpc.aio.ServicerContext
    ) -> alarms_pb2.AcknowledgeResponse:
        return await audited(
            self.audit,
            context,
            "alarm.acknowledge",
            join_targets(list(request.alarm_ids)),
            request.comment,
            lambda: self._acknowledge(request, context),
        )

    async def _acknowledge(
        self, request: alarms_pb2.AcknowledgeRequest, context: grpc.aio.ServicerContext
    ) -> alarms_pb2.AcknowledgeResponse:
        opened, closed = await self._split(list(request.alarm_ids), context)
        try:
            done = await self._act(
                context, "acknowledge", opened, _operator(request.operator), request.comment, time.time()
            )
        except UnknownAlarm as exc:  # closed meanwhile by another client: still harmless
            await context.abort(grpc.StatusCode.ABORTED, f"alarms changed meanwhile, retry: {exc}")
        by_id = {a.id: a for a in (*done, *closed.values())}
        resp = alarms_pb2.AcknowledgeResponse()
        for i in dict.fromkeys(request.alarm_ids):
            alarm_to_pb(by_id[i], resp.alarms.add())
        return resp

    async def Shelve(
        self, request: alarms_pb2.ShelveRequest, context: grpc.aio.ServicerContext
    ) -> alarms_pb2.ShelveResponse:
        return await audited(
            self.audit,
            context,
            "alarm.shelve",
            join_targets(list(request.alarm_ids)),
            request.reason,
            lambda: self._shelve(request, context),
        )

    async def _shelve(
        self, request: alarms_pb2.ShelveRequest, context: grpc.aio.ServicerContext
    ) -> alarms_pb2.ShelveResponse:
        if not request.reason.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "reason is required")
        if not request.HasField("duration"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "duration is required")
        duration = seconds_of(request.duration)
        if duration is None or not 0 < duration <= MAX_SHELVE_S:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "duration must be positive and at most 24 h"
            )
        opened, closed = await self._split(list(request.alarm_ids), context)
        if closed:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"closed (NORMAL) alarms cannot be shelved: {', '.join(list(closed)[:20])}",
            )
        try:
            done = await self._act(
                context, "shelve", opened, duration, request.reason, _operator(request.operator), time.time()
            )
        except (UnknownAlarm, AlarmClosed) as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"alarm closed meanwhile: {exc}")
        resp = alarms_pb2.ShelveResponse()
        for a in done:
            alarm_to_pb(a, resp.alarms.add())
        return resp

    async def Unshelve(
        self, request: alarms_pb2.UnshelveRequest, context: grpc.aio.ServicerContext
    ) -> alarms_pb2.UnshelveResponse:
        return await audited(
            self.audit,
            context,
            "alarm.unshelve",
            join_targets(list(request.alarm_ids)),
            "",
            lambda: self._unshelve(request, context),
        )

    async def _unshelve(
        self, request: alarms_pb2.UnshelveRequest, context: grpc.aio.ServicerContext
    ) -> alarms_pb2.UnshelveResponse:
        opened, closed = await self._split(list(request.alarm_ids), context)
        try:
            done = await self._act(context, "unshelve", opened, _operator(request.operator), time.time())
        except UnknownAlarm as exc:
            await context.abort(grpc.StatusCode.ABORTED, f"alarms changed meanwhile, retry: {exc}")
        by_id = {a.id: a for a in (*done, *closed.values())}
        resp = alarms_pb2.UnshelveResponse()
        for i in dict.fromkeys(request.alarm_ids):
            alarm_to_pb(by_id[i], resp.alarms.add())
        return resp
