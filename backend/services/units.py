"""vigie.v1.UnitService: the dispatch units (list, resumable watch, status by hand) and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from vigie.backend.dispatch import DispatchDesk, RoutingUnavailable
from vigie.backend.domain.audit import AuditSink
from vigie.backend.domain.units import Capability, TransitionRefused, Unit, UnitStatus, UnknownUnit
from vigie.backend.routing import NoRoute
from vigie.backend.services.audit_trail import audited
from vigie.backend.services.dispatch_convert import (
    MAX_ID,
    MAX_OFFSET_M,
    check_point,
    route_points,
    unit_to_pb,
    who,
)
from vigie.backend.services.dispatch_relay import DispatchWrites
from vigie.backend.services.resumable import follow, resume_refusal, snapshot, wait_until_at
from vigie.v1 import assets_pb2, incidents_pb2, incidents_pb2_grpc

SNAPSHOT_CHUNK = 1000
DEFAULT_BATCH = 500
MAX_BATCH = 5000
MAX_REASON = 500
MAX_FILTERS = 20


class UnitService(incidents_pb2_grpc.UnitServiceServicer):
    def __init__(
        self,
        desk: DispatchDesk,
        audit: AuditSink,
        heartbeat_s: float = 5.0,
        writes: DispatchWrites | None = None,
    ) -> None:
        """`audit` gets one record per status change by hand; `writes` on a cluster: the
        changes go to the leader's desk and the units are served from the bus
        (backend/services/dispatch_relay.py)."""
        self.desk = desk
        self.audit = audit
        self.heartbeat_s = heartbeat_s
        self.writes = writes or DispatchWrites()
        self.cluster = self.writes.cluster
        self.catch_up_s = 0.0  # on a cluster: a console arriving from a replica a little ahead
        self.writes.register(
            "SetUnitStatus", incidents_pb2.SetUnitStatusRequest, incidents_pb2.Unit, self._set_status
        )

    def _feed(self) -> Any:
        """What ListUnits and WatchUnits read: the desk's board, or on a cluster the bus's units."""
        return self.desk.board if self.cluster is None else self.cluster.units

    async def ListUnits(
        self, request: incidents_pb2.ListUnitsRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ListUnitsResponse:
        if len(request.statuses) > MAX_FILTERS or len(request.capabilities) > MAX_FILTERS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_FILTERS} statuses and capabilities"
            )
        if len(request.fleet) > MAX_ID:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"fleet is at most {MAX_ID} characters")
        statuses = {int(s) for s in request.statuses}
        caps = {int(c) for c in request.capabilities}
        if statuses - {int(s) for s in UnitStatus} or caps - {int(c) for c in Capability}:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "statuses or capabilities has an unknown value"
            )
        board = self._feed()
        resp = incidents_pb2.ListUnitsResponse(sequence=board.sequence, epoch=board.epoch)
        for u in board.units():
            if statuses and int(u.status) not in statuses:
                continue
            if caps and not caps & {int(c) for c in u.capabilities}:
                continue
            if request.fleet and u.fleet != request.fleet:
                continue
            unit_to_pb(u, resp.units.add())
        return resp

    async def WatchUnits(
        self, request: incidents_pb2.WatchUnitsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[incidents_pb2.WatchUnitsResponse]:
        if not 0 <= request.max_batch <= MAX_BATCH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"max_batch must be 0..{MAX_BATCH}")
        if len(request.epoch) > MAX_ID:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"epoch is at most {MAX_ID} characters")
        batch = request.max_batch or DEFAULT_BATCH
        board = self._feed()
        seq = request.after_sequence
        if seq == 0:
            units = board.units()
            seq = board.sequence
            total = len(units)

            def chunk(items: Sequence[Unit], last: bool) -> incidents_pb2.WatchUnitsResponse:
                msg = incidents_pb2.WatchUnitsResponse(sequence=seq, epoch=board.epoch)
                msg.snapshot.last = last
                msg.snapshot.total_size = total
                for u in items:
                    unit_to_pb(u, msg.snapshot.units.add())
                return msg

            for msg in snapshot(units, SNAPSHOT_CHUNK, chunk):
                yield msg
        else:
            if self.catch_up_s and request.epoch == board.epoch:
                await wait_until_at(board, seq, self.catch_up_s)
            reason = await resume_refusal(
                seq, request.epoch, board.epoch, board.sequence, board.oldest_available, "sequence", context
            )
            if reason:
                yield self._resync(seq, reason)
                return

        def changes_message(changes: list[Unit]) -> incidents_pb2.WatchUnitsResponse:
            msg = incidents_pb2.WatchUnitsResponse(sequence=changes[-1].sequence, epoch=board.epoch)
            for u in changes:
                c = msg.changes.changes.add(sequence=u.sequence)
                unit_to_pb(u, c.unit)
            return msg

        def heartbeat_message(position: int) -> incidents_pb2.WatchUnitsResponse:
            hb = incidents_pb2.WatchUnitsResponse(sequence=position, epoch=board.epoch)
            hb.heartbeat.server_time.GetCurrentTime()
            return hb

        async for msg in follow(
            board,
            seq,
            batch,
            self.heartbeat_s,
            lambda u: u.sequence,
            changes_message,
            heartbeat_message,
            self._resync,
            "sequence",
        ):
            yield msg

    def _resync(self, seq: int, reason: str) -> incidents_pb2.WatchUnitsResponse:
        board = self._feed()
        return incidents_pb2.WatchUnitsResponse(
            sequence=board.sequence,
            epoch=board.epoch,
            resync_needed=assets_pb2.ResyncNeeded(
                requested_revision=seq, oldest_available_revision=board.oldest_available, reason=reason
            ),
        )

    async def SetUnitStatus(
        self, request: incidents_pb2.SetUnitStatusRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Unit:
        status_name = (
            incidents_pb2.Unit.Status.Name(request.status)
            if request.status in UnitStatus._value2member_map_
            else str(request.status)
        )
        return await audited(
            self.audit,
            context,
            "unit.status",
            request.unit_id[:MAX_ID],
            request.reason,
            lambda: self.writes.write("SetUnitStatus", request, context),
            lambda u: f"{u.callsign}: {status_name}",
        )

    async def _set_status(
        self, request: incidents_pb2.SetUnitStatusRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.Unit:
        if not request.unit_id or len(request.unit_id) > MAX_ID:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unit_id is required (at most {MAX_ID} characters)"
            )
        if len(request.reason) > MAX_REASON:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"reason is at most {MAX_REASON} characters"
            )
        if request.status not in UnitStatus._value2member_map_:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "status must be a Unit.Status")
        try:
            u = self.desk.set_unit_status(
                request.unit_id, UnitStatus(request.status), who(), reason=request.reason
            )
        except UnknownUnit:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no unit {request.unit_id!r}")
        except TransitionRefused as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return unit_to_pb(u)

    async def Route(
        self, request: incidents_pb2.RouteRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.RouteResponse:
        for p, name in ((request.origin, "origin"), (request.destination, "destination")):
            why = check_point(p, name)
            if why:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, why)
        graph = self.desk.graph
        if graph is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "this device network has no street map")
        assert graph is not None
        for p, name in ((request.origin, "origin"), (request.destination, "destination")):
            if graph.snap(p.lat, p.lon).offset_m > MAX_OFFSET_M:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{name} is more than {MAX_OFFSET_M:.0f} m from any street",
                )
        try:
            route = await self.desk.route(
                (request.origin.lat, request.origin.lon), (request.destination.lat, request.destination.lon)
            )
        except NoRoute as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except RoutingUnavailable as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        resp = incidents_pb2.RouteResponse(distance_m=route.distance_m)
        resp.polyline.extend(route_points(route))
        resp.eta.FromMilliseconds(int(route.time_s * 1000))
        return resp
