"""vigie.v1.IncidentService: the catalogue, incidents (create, update, note, step, list, resumable
watch), recommendation and assignment. Every action is audited; requests are bounded here
(backend/services/dispatch_convert.py: `MAX_CHARS`, `MAX_LIST`) on top of the backend-wide
bounds. Nine RPCs with their checks make it longer than most services; conversions live in
dispatch_convert.py."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from vigie.backend.dispatch import MAX_K, DispatchDesk, RoutingUnavailable
from vigie.backend.domain.audit import AuditSink
from vigie.backend.domain.incident_types import BY_CODE, THRESHOLDS, TYPE_FOR_CAUSE, TYPE_FOR_DEVICE, TYPES
from vigie.backend.domain.incidents import Incident, IncidentError, IncidentStatus
from vigie.backend.domain.units import Capability, UnknownUnit
from vigie.backend.security import principal
from vigie.backend.security.principal import Role
from vigie.backend.services.audit_trail import audited
from vigie.backend.services.convert import PRIORITIES, filter_problem, request_range
from vigie.backend.services.dispatch_convert import (
    MAX_ID,
    MAX_OFFSET_M,
    bounds_problem,
    check_point,
    decode_token,
    domain_status,
    encode_token,
    fingerprint,
    incident_to_pb,
    route_points,
    unit_to_pb,
    who,
)
from vigie.backend.services.dispatch_relay import DispatchWrites
from vigie.backend.services.resumable import fitting, follow, resume_refusal, snapshot, wait_until_at
from vigie.backend.store.incidents_sqlite import IncidentQuery
from vigie.v1 import assets_pb2, incidents_pb2, incidents_pb2_grpc

T = TypeVar("T")
SNAPSHOT_CHUNK = 200
DEFAULT_BATCH = 200
MAX_BATCH = 5000
DEFAULT_PAGE = 100
MAX_PAGE = 1000
DEFAULT_K = 5


class IncidentService(incidents_pb2_grpc.IncidentServiceServicer):
    def __init__(
        self,
        desk: DispatchDesk,
        audit: AuditSink,
        heartbeat_s: float = 5.0,
        writes: DispatchWrites | None = None,
    ) -> None:
        """`writes` on a cluster: the writes go to the leader's desk and the incidents are
        served from the bus (backend/services/dispatch_relay.py)."""
        self.desk = desk
        self.audit = audit
        self.heartbeat_s = heartbeat_s
        self.writes = writes or DispatchWrites()
        self.cluster = self.writes.cluster
        self.catch_up_s = 0.0  # on a cluster: a console arriving from a replica a little ahead
        for rpc, req, resp, work in (
            ("CreateIncident", incidents_pb2.CreateIncidentRequest, incidents_pb2.Incident, self._create),
            ("UpdateIncident", incidents_pb2.UpdateIncidentRequest, incidents_pb2.Incident, self._update),
            ("AddNote", incidents_pb2.AddNoteRequest, incidents_pb2.Incident, self._note),
            ("SetStep", incidents_pb2.SetStepRequest, incidents_pb2.Incident, self._step),
            ("Assign", incidents_pb2.AssignRequest, incidents_pb2.AssignResponse, self._assign),
        ):
            self.writes.register(rpc, req, resp, work)

    def _feed(self) -> Any:
        """What WatchIncidents follows: the desk's book, or on a cluster the bus's incidents."""
        return self.desk.book if self.cluster is None else self.cluster.incidents

    # --- helpers ---

    async def _run(
        self,
        context: grpc.aio.ServicerContext,
        request: Message,
        action: str,
        target: str,
        reason: str,
        work: Callable[[], Awaitable[T]],
        detail: Callable[[T], str] | None = None,
    ) -> T:
        """Bounds, then `work` with its domain errors as gRPC statuses, audited."""

        async def checked() -> T:
            why = bounds_problem(request)
            if why:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)
            try:
                return await work()
            except (IncidentError, UnknownUnit, RoutingUnavailable) as exc:
                code, text = domain_status(exc) or (grpc.StatusCode.UNKNOWN, str(exc))
                await context.abort(code, text)
            raise AssertionError("unreachable")

        return await audited(self.audit, context, action, target[:MAX_ID], reason, checked, detail)

    async def _live(self, incident_id: str, context: grpc.aio.ServicerContext) -> Incident:
        """The incident, or NOT_FOUND / FAILED_PRECONDITION (an old closed one, in the store only)."""
        if not incident_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "incident_id is required")
        inc = self.desk.book.get(incident_id)
        if inc is None:
            stored = await self.desk.store.get(incident_id)
            if stored is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no incident {incident_id!r}")
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"{incident_id} is CLOSED: it cannot change"
            )
        assert inc is not None
        return inc

    async def _replay(
        self, kind: str, key: str, request: Message, context: grpc.aio.ServicerContext
    ) -> dict[str, Any] | None:
        """The first answer for this (user, key), or None; INVALID_ARGUMENT for a missing key or
        a key reused for another request."""
        if not key:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key is required (one per user intent)"
            )
        found = self.desk.keys.get((who(), kind, key))
        if found is None and self.cluster is not None:  # made through an earlier leader
            found = await self.cluster.key_get(who(), kind, key)
        if found is None:
            return None
        first_print, result, _ = found
        if first_print != fingerprint(request):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"idempotency_key {key!r} was already used for a different request; make a new key for a new intent",
            )
        return dict(json.loads(result))

    async def _remember(self, kind: str, key: str, request: Message, result: dict[str, Any]) -> None:
        now = time.time()
        fp, text = fingerprint(request), json.dumps(result)
        self.desk.keys[(who(), kind, key)] = (fp, text, now)
        self.desk.store.queue_key(who(), kind, key, fp, text, now)
        if self.cluster is not None:  # for the next leader
            await self.cluster.key_put(who(), kind, key, fp, text, now)

    # --- catalogue ---

    async def ListIncidentTypes(
        self, request: incidents_pb2.ListIncidentTypesRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ListIncidentTypesResponse:
        resp = incidents_pb2.ListIncidentTypesResponse()
        for t in TYPES:
            m = resp.types.add(
                code=t.code, name=t.name, default_priority=t.default_priority, capability=int(t.capability)
            )  # type: ignore[arg-type]
            for s in t.steps:
                m.steps.add(id=s.id, text=s.text, required=s.required)
        resp.type_for_cause.update(TYPE_FOR_CAUSE)
        resp.type_for_device_kind.update({k.value: code for k, code in TYPE_FOR_DEVICE.items()})
        for p in sorted(THRESHOLDS):
            th = THRESHOLDS[p]
            m2 = resp.thresholds.add(priority=p)
            m2.not_dispatched_amber.FromSeconds(int(th.not_dispatched_amber))
            m2.not_dispatched_red.FromSeconds(int(th.not_dispatched_red))
            m2.open_amber.FromSeconds(int(th.open_amber))
            m2.open_red.FromSeconds(int(th.open_red))
        return resp

    # --- create, update, note, step ---

    async def CreateIncident(
        self, request: incidents_pb2.CreateIncidentRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        return await self._run(
            context,
            request,
            "incident.create",
            request.type,
            request.description[:200],
            lambda: self.writes.write("CreateIncident", request, context),
            lambda m: f"{m.id} {m.type} P{m.priority}",
        )

    async def _create(
        self, request: incidents_pb2.CreateIncidentRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        first = await self._replay("create", request.idempotency_key, request, context)
        if first is not None:
            inc = self.desk.book.get(first["incident_id"]) or await self.desk.store.get(first["incident_id"])
            if inc is not None:
                return incident_to_pb(inc)
        if request.type not in BY_CODE:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"type {request.type!r} is not in the catalogue (ListIncidentTypes)",
            )
        why = check_point(request.position, "position")
        graph = self.desk.graph
        if (
            not why
            and graph is not None
            and graph.snap(request.position.lat, request.position.lon).offset_m > MAX_OFFSET_M
        ):
            why = f"position is more than {MAX_OFFSET_M:.0f} m from any street of the city"
        if why:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)
        inc = self.desk.create(
            request.type,
            request.priority,
            request.position.lat,
            request.position.lon,
            who(),
            description=request.description,
            alarm_ids=list(request.alarm_ids),
            asset_ids=list(request.asset_ids),
            camera_ids=list(request.camera_ids),
        )
        await self._remember("create", request.idempotency_key, request, {"incident_id": inc.id})
        return incident_to_pb(inc)

    async def UpdateIncident(
        self, request: incidents_pb2.UpdateIncidentRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        status = (
            incidents_pb2.Incident.Status.Name(request.status)
            if request.status in IncidentStatus._value2member_map_
            else ""
        )
        action = (
            "incident.override"
            if request.override
            else f"incident.{status.lower()}"
            if status
            else "incident.update"
        )
        return await self._run(
            context,
            request,
            action,
            request.incident_id,
            request.reason or request.outcome,
            lambda: self.writes.write("UpdateIncident", request, context),
            lambda m: f"{incidents_pb2.Incident.Status.Name(m.status)} P{m.priority}",
        )

    async def _update(
        self, request: incidents_pb2.UpdateIncidentRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        inc = await self._live(request.incident_id, context)
        role = principal.current().role
        status: IncidentStatus | None = None
        if request.status:
            if request.status not in IncidentStatus._value2member_map_:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "status must be an Incident.Status")
            status = IncidentStatus(request.status)
        if request.override and status is not IncidentStatus.RESOLVED:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "override goes with status RESOLVED")
        if (status is IncidentStatus.CLOSED or request.override) and role < Role.SUPERVISOR:
            what = (
                "closing an incident"
                if status is IncidentStatus.CLOSED
                else "resolving with required steps open"
            )
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"{what} needs role SUPERVISOR, you are {role.name}"
            )
        links = {
            "alarm_ids": (tuple(request.add_alarm_ids), tuple(request.remove_alarm_ids)),
            "asset_ids": (tuple(request.add_asset_ids), tuple(request.remove_asset_ids)),
            "camera_ids": (tuple(request.add_camera_ids), tuple(request.remove_camera_ids)),
        }
        book = self.desk.book
        now = time.time()
        # Check the whole request before changing anything: a refused status leaves the rest as is.
        if status is not None:
            book.check_status(
                inc, status, reason=request.reason, outcome=request.outcome, override=request.override
            )
        out = book.update(
            inc.id,
            who(),
            now,
            priority=request.priority,
            description=request.description if request.HasField("description") else None,
            links=links,
        )
        if status is not None:
            out = self.desk.set_incident_status(
                inc.id,
                status,
                who(),
                reason=request.reason,
                outcome=request.outcome,
                override=request.override,
            )
        return incident_to_pb(out)

    async def AddNote(
        self, request: incidents_pb2.AddNoteRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        return await self._run(
            context,
            request,
            "incident.note",
            request.incident_id,
            request.text[:200],
            lambda: self.writes.write("AddNote", request, context),
        )

    async def _note(
        self, request: incidents_pb2.AddNoteRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        inc = await self._live(request.incident_id, context)
        return incident_to_pb(self.desk.book.add_note(inc.id, request.text, who(), time.time()))

    async def SetStep(
        self, request: incidents_pb2.SetStepRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        return await self._run(
            context,
            request,
            "incident.step",
            request.incident_id,
            "",
            lambda: self.writes.write("SetStep", request, context),
            lambda _m: f"{request.step_id[:MAX_ID]} {'done' if request.done else 'reopened'}",
        )

    async def _step(
        self, request: incidents_pb2.SetStepRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Incident:
        inc = await self._live(request.incident_id, context)
        return incident_to_pb(
            self.desk.book.set_step(inc.id, request.step_id, request.done, who(), time.time())
        )

    # --- list and watch ---

    async def ListIncidents(
        self, request: incidents_pb2.ListIncidentsRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ListIncidentsResponse:
        why = bounds_problem(request)
        if why:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)
        if not 0 <= request.page_size <= MAX_PAGE:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 0..{MAX_PAGE}")
        q = IncidentQuery(limit=request.page_size or DEFAULT_PAGE)
        if request.page_token:
            q.after = decode_token(request.page_token)
            if q.after is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "page_token is not a token this server issued"
                )
        problem = filter_problem(
            request.statuses, IncidentStatus._value2member_map_, "statuses", "not an Incident.Status"
        ) or filter_problem(request.priorities, PRIORITIES, "priorities", "must be 1..4")
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        q.statuses = [int(s) for s in request.statuses]
        q.priorities = list(request.priorities)
        q.types = list(request.types)
        q.districts = list(request.districts)
        q.unit_id = request.unit_id
        q.text = request.text
        try:
            q.start, q.end = request_range(request)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        found, total = await self.desk.store.query(q)
        pbs = [incident_to_pb(i) for i in found]
        kept = fitting([m.ByteSize() for m in pbs])  # long timelines: a page stays far below 4 MB
        resp = incidents_pb2.ListIncidentsResponse(total_size=total, incidents=pbs[:kept])
        if len(found) == q.limit or kept < len(found):
            last = found[kept - 1]
            resp.next_page_token = encode_token(last.created_at, int(last.id.rsplit("-", 1)[1]))
        return resp

    async def WatchIncidents(
        self, request: incidents_pb2.WatchIncidentsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[incidents_pb2.WatchIncidentsResponse]:
        if not 0 <= request.max_batch <= MAX_BATCH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"max_batch must be 0..{MAX_BATCH}")
        why = bounds_problem(request)
        if why:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)
        batch = request.max_batch or DEFAULT_BATCH
        book = self._feed()
        seq = request.after_sequence
        if seq == 0:
            incidents = book.live(time.time())
            seq = book.sequence
            total = len(incidents)

            def chunk(items: Sequence[Incident], last: bool) -> incidents_pb2.WatchIncidentsResponse:
                msg = incidents_pb2.WatchIncidentsResponse(sequence=seq, epoch=book.epoch)
                msg.snapshot.last = last
                msg.snapshot.total_size = total
                for inc in items:
                    incident_to_pb(inc, msg.snapshot.incidents.add())
                return msg

            for msg in snapshot(incidents, SNAPSHOT_CHUNK, chunk):
                yield msg
        else:
            if self.catch_up_s and request.epoch == book.epoch:
                await wait_until_at(book, seq, self.catch_up_s)
            reason = await resume_refusal(
                seq, request.epoch, book.epoch, book.sequence, book.oldest_available, "sequence", context
            )
            if reason:
                yield self._resync(seq, reason)
                return

        def changes_message(changes: list[Incident]) -> incidents_pb2.WatchIncidentsResponse:
            msg = incidents_pb2.WatchIncidentsResponse(sequence=changes[-1].sequence, epoch=book.epoch)
            for inc in changes:
                c = msg.changes.changes.add(sequence=inc.sequence)
                incident_to_pb(inc, c.incident)
            return msg

        def heartbeat_message(position: int) -> incidents_pb2.WatchIncidentsResponse:
            hb = incidents_pb2.WatchIncidentsResponse(sequence=position, epoch=book.epoch)
            hb.heartbeat.server_time.GetCurrentTime()
            return hb

        async for msg in follow(
            book,
            seq,
            batch,
            self.heartbeat_s,
            lambda i: i.sequence,
            changes_message,
            heartbeat_message,
            self._resync,
            "sequence",
        ):
            yield msg

    def _resync(self, seq: int, reason: str) -> incidents_pb2.WatchIncidentsResponse:
        book = self._feed()
        return incidents_pb2.WatchIncidentsResponse(
            sequence=book.sequence,
            epoch=book.epoch,
            resync_needed=assets_pb2.ResyncNeeded(
                requested_revision=seq, oldest_available_revision=book.oldest_available, reason=reason
            ),
        )

    # --- recommend and assign ---

    async def Recommend(
        self, request: incidents_pb2.RecommendRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.RecommendResponse:
        why = bounds_problem(request)
        if why:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)
        if not 0 <= request.k <= MAX_K:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"k must be 0..{MAX_K}")
        cap: Capability | None = None
        if request.capability:
            if request.capability not in Capability._value2member_map_:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "capability must be a Unit.Capability")
            cap = Capability(request.capability)
        inc = await self._live(request.incident_id, context)
        try:
            found = await self.desk.recommend(inc, request.k or DEFAULT_K, cap)
        except RoutingUnavailable as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        resp = incidents_pb2.RecommendResponse()
        for c in found:
            m = resp.candidates.add(distance_m=c.route.distance_m)
            unit_to_pb(c.unit, m.unit)
            m.position.lat, m.position.lon = c.lat, c.lon
            m.eta.FromMilliseconds(int(c.route.time_s * 1000))
            m.route.extend(route_points(c.route))
        return resp

    async def Assign(
        self, request: incidents_pb2.AssignRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.AssignResponse:
        action = "incident.reassign" if request.replace_unit_id else "incident.assign"
        return await self._run(
            context,
            request,
            action,
            f"{request.incident_id[:MAX_ID]},{request.unit_id[:MAX_ID]}",
            request.reason,
            lambda: self.writes.write("Assign", request, context),
            lambda m: f"{m.unit.callsign}{' (override)' if m.override else ''}, ETA {m.route.eta.seconds} s",
        )

    async def _assign(
        self, request: incidents_pb2.AssignRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.AssignResponse:
        first = await self._replay("assign", request.idempotency_key, request, context)
        if first is not None:
            resp = incidents_pb2.AssignResponse()
            resp.ParseFromString(base64.b64decode(first["response"]))
            return resp
        if not request.unit_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unit_id is required")
        await self._live(request.incident_id, context)
        inc, unit, override, route = await self.desk.assign(
            request.incident_id, request.unit_id, who(), request.reason, request.replace_unit_id
        )
        resp = incidents_pb2.AssignResponse(override=override)
        incident_to_pb(inc, resp.incident)
        unit_to_pb(unit, resp.unit)
        c = resp.route
        unit_to_pb(unit, c.unit)
        c.position.lat, c.position.lon = route.points[0]
        c.eta.FromMilliseconds(int(route.time_s * 1000))
        c.distance_m = route.distance_m
        c.route.extend(route_points(route))
        await self._remember(
            "assign",
            request.idempotency_key,
            request,
            {"response": base64.b64encode(resp.SerializeToString()).decode()},
        )
        return resp
