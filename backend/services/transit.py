"""vigie.v1.TransitService: lines and stops, live vehicles with their schedule deviation, each
junction's TSP configuration, the priority events (resumable watch), corridor statistics and
emergency preemption. Changing rules and regulating trams are commands (CommandService).

Reads are answered from the transit simulation's current state on the loop (a hundred vehicles,
a few dozen junctions: well under a millisecond); statistics sum at most a week of hourly rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc

from vigie.backend.adapters.simulator.city import to_latlon, to_xy
from vigie.backend.adapters.simulator.transit.engine import TransitSim, Vehicle
from vigie.backend.adapters.simulator.transit.signals import Junction
from vigie.backend.domain.audit import AuditSink
from vigie.backend.domain.transit import EventKind, Mode, PriorityEvent, Strategy
from vigie.backend.services.audit_trail import audited
from vigie.backend.services.convert import CLASS_TO_PB, clip, rules_to_pb, seconds_of, stamp
from vigie.backend.services.resumable import follow, resume_refusal, snapshot
from vigie.v1 import assets_pb2, common_pb2, transit_pb2, transit_pb2_grpc

DEFAULT_BATCH = 500
MAX_BATCH = 5000
SNAPSHOT_CHUNK = 1000
MAX_PREEMPT_S = 600
DEFAULT_PREEMPT_S = 120

MODE_TO_PB = {Mode.BUS: transit_pb2.BUS, Mode.TRAM: transit_pb2.TRAM, Mode.SHUTTLE: transit_pb2.SHUTTLE}
STATE_TO_PB = {
    "running": transit_pb2.TransitVehicle.RUNNING,
    "dwelling": transit_pb2.TransitVehicle.DWELLING,
    "waiting_signal": transit_pb2.TransitVehicle.WAITING_SIGNAL,
    "held": transit_pb2.TransitVehicle.HELD,
    "layover": transit_pb2.TransitVehicle.LAYOVER,
}
KIND_TO_PB = {
    EventKind.CHECK_IN: transit_pb2.PriorityEvent.CHECK_IN,
    EventKind.GRANTED: transit_pb2.PriorityEvent.GRANTED,
    EventKind.DENIED: transit_pb2.PriorityEvent.DENIED,
    EventKind.CHECK_OUT: transit_pb2.PriorityEvent.CHECK_OUT,
    EventKind.PREEMPTION_START: transit_pb2.PriorityEvent.PREEMPTION_START,
    EventKind.PREEMPTION_END: transit_pb2.PriorityEvent.PREEMPTION_END,
}
STRATEGY_TO_PB = {
    Strategy.NONE: transit_pb2.PRIORITY_STRATEGY_UNSPECIFIED,
    Strategy.GREEN_EXTENSION: transit_pb2.GREEN_EXTENSION,
    Strategy.EARLY_GREEN: transit_pb2.EARLY_GREEN,
    Strategy.PREEMPTION: transit_pb2.PREEMPTION,
}


def event_to_pb(e: PriorityEvent, out: transit_pb2.PriorityEvent) -> transit_pb2.PriorityEvent:
    out.sequence = e.sequence
    out.kind = KIND_TO_PB[e.kind]  # type: ignore[assignment]
    stamp(e.time, out.time)
    out.junction_id = e.junction_id
    out.vehicle_id = e.vehicle_id
    out.line_id = e.line_id
    out.vehicle_class = CLASS_TO_PB[e.vehicle_class]  # type: ignore[assignment]
    out.strategy = STRATEGY_TO_PB[e.strategy]  # type: ignore[assignment]
    out.reason = clip(e.reason)
    out.lateness_s = e.lateness_s
    out.time_saved_s = e.time_saved_s
    out.cross_delay_s = e.cross_delay_s
    out.position.lat, out.position.lon = e.lat, e.lon
    return out


class _Log:
    """The simulation's priority log seen through the resume contract's protocol."""

    def __init__(self, sim: TransitSim) -> None:
        self.sim = sim

    @property
    def oldest_available(self) -> int:
        return self.sim.log.oldest_available

    def changes_after(self, position: int, limit: int | None = None) -> list[PriorityEvent]:
        return self.sim.log.after(position, limit)

    async def wait_for_change(self, position: int, timeout: float) -> bool:
        return await self.sim.log.wait_beyond(position, timeout)


class TransitService(transit_pb2_grpc.TransitServiceServicer):
    def __init__(
        self, sim: TransitSim | None, epoch: str, audit: AuditSink, heartbeat_s: float = 5.0
    ) -> None:
        """`sim` None: the device network runs no transit (every call: UNAVAILABLE)."""
        self.sim = sim
        self.epoch = epoch
        self.audit = audit
        self.heartbeat_s = heartbeat_s

    async def _need(self, context: grpc.aio.ServicerContext) -> TransitSim:
        if self.sim is None:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "this backend runs no transit network (--no-transit)"
            )
        assert self.sim is not None
        return self.sim

    async def ListLines(
        self, request: transit_pb2.ListLinesRequest, context: grpc.aio.ServicerContext
    ) -> transit_pb2.ListLinesResponse:
        sim = await self._need(context)
        modes = {int(m) for m in request.modes}
        if modes - set(MODE_TO_PB.values()):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "modes has an unknown value (BUS, TRAM, SHUTTLE)"
            )
        resp = transit_pb2.ListLinesResponse()
        for line in sim.network.lines.values():
            if modes and MODE_TO_PB[line.mode] not in modes:
                continue
            m = resp.lines.add(
                id=line.id,
                name=line.name,
                mode=MODE_TO_PB[line.mode],  # type: ignore[arg-type]
                color=line.color,
                headway_s=round(line.headway_s),
                vehicles=line.vehicles,
                length_m=line.length,
                junction_ids=[j.junction_id for j in line.junctions],
            )
            for k, st in enumerate(line.stops):
                x, y, _ = line.point_at(st.distance_m)
                lat, lon = to_latlon(x, y)
                m.stops.add(
                    id=st.id,
                    name=st.name,
                    order=k + 1,
                    distance_m=st.distance_m,
                    scheduled_offset_s=round(line.offsets[0][k]),
                    station_asset_id=st.station_asset,
                ).position.CopyFrom(_point(lat, lon))
            for x, y in line.xy:
                lat, lon = to_latlon(x, y)
                m.path.add(lat=lat, lon=lon)
        return resp

    async def ListVehicles(
        self, request: transit_pb2.ListVehiclesRequest, context: grpc.aio.ServicerContext
    ) -> transit_pb2.ListVehiclesResponse:
        sim = await self._need(context)
        unknown = set(request.line_ids) - set(sim.network.lines)
        if unknown:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown line ids: {', '.join(sorted(unknown)[:10])}"
            )
        lines = set(request.line_ids)
        resp = transit_pb2.ListVehiclesResponse()
        stamp(sim.now(), resp.sim_time)
        for v in sim.vehicles:
            if not lines or v.line.id in lines:
                self._vehicle(sim, v, resp.vehicles.add())
        return resp

    def _vehicle(self, sim: TransitSim, v: Vehicle, m: transit_pb2.TransitVehicle) -> None:
        line = v.line
        lat, lon = to_latlon(v.x, v.y)
        m.id, m.line_id = v.id, line.id
        m.mode = MODE_TO_PB[line.mode]  # type: ignore[assignment]
        m.vehicle_class = CLASS_TO_PB[v.cls]  # type: ignore[assignment]
        m.position.lat, m.position.lon = lat, lon
        m.heading_deg = v.heading
        m.distance_m = v.s if v.direction == 0 else line.length - v.s
        n = len(line.stops)
        if v.stop_i > 0:
            m.previous_stop_id = line.stop_in(v.direction, min(v.stop_i - 1, n - 1)).id
        m.next_stop_id = line.stop_in(v.direction, min(v.stop_i, n - 1)).id
        m.deviation_s = round(v.deviation)
        m.state = STATE_TO_PB[v.state]  # type: ignore[assignment]
        m.headway_ahead_s = round(v.headway_ahead)
        if v.state == "held":
            stamp(sim.start + v.hold_until, m.held_until)
        m.skip_stop_id = sim.skip_stop_id(v)
        m.signal_delay_s = v.signal_delay
        m.direction = v.direction

    async def GetTspConfig(
        self, request: transit_pb2.GetTspConfigRequest, context: grpc.aio.ServicerContext
    ) -> transit_pb2.GetTspConfigResponse:
        sim = await self._need(context)
        junctions = sim.network.junctions
        unknown = [i for i in request.junction_ids if i not in junctions]
        if unknown:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"not junctions of a transit line: {', '.join(unknown[:10])}",
            )
        resp = transit_pb2.GetTspConfigResponse()
        for jid in request.junction_ids or sorted(junctions):
            _junction(sim, junctions[jid], resp.junctions.add())
        return resp

    async def WatchPriority(
        self, request: transit_pb2.WatchPriorityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[transit_pb2.WatchPriorityResponse]:
        sim = await self._need(context)
        if not 0 <= request.max_batch <= MAX_BATCH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"max_batch must be 0..{MAX_BATCH}")
        only = set(request.junction_ids)
        if only - set(sim.network.junctions):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "junction_ids names junctions of no transit line"
            )
        batch = request.max_batch or DEFAULT_BATCH
        log = _Log(sim)
        seq = request.after_sequence
        if seq == 0:
            seq = sim.log.last
            active = [e for e in sim.active.values() if not only or e.junction_id in only]
            total = len(active)

            def chunk(items: Sequence[PriorityEvent], last: bool) -> transit_pb2.WatchPriorityResponse:
                msg = transit_pb2.WatchPriorityResponse(sequence=seq, epoch=self.epoch)
                msg.snapshot.last = last
                msg.snapshot.total_size = total
                for e in items:
                    event_to_pb(e, msg.snapshot.active.add())
                return msg

            for msg in snapshot(active, SNAPSHOT_CHUNK, chunk):
                yield msg
        else:
            reason = await resume_refusal(
                seq, request.epoch, self.epoch, sim.log.last, sim.log.oldest_available, "sequence", context
            )
            if reason:
                yield self._resync(sim, seq, reason)
                return

        def changes_message(events: list[PriorityEvent]) -> transit_pb2.WatchPriorityResponse:
            msg = transit_pb2.WatchPriorityResponse(sequence=events[-1].sequence, epoch=self.epoch)
            msg.events.SetInParent()
            for e in events:
                if not only or e.junction_id in only:
                    event_to_pb(e, msg.events.events.add())
            return msg

        def heartbeat_message(position: int) -> transit_pb2.WatchPriorityResponse:
            hb = transit_pb2.WatchPriorityResponse(sequence=position, epoch=self.epoch)
            hb.heartbeat.server_time.GetCurrentTime()
            return hb

        async for msg in follow(
            log,
            seq,
            batch,
            self.heartbeat_s,
            lambda e: e.sequence,
            changes_message,
            heartbeat_message,
            lambda s, r: self._resync(sim, s, r),
            "sequence",
        ):
            yield msg

    def _resync(self, sim: TransitSim, seq: int, reason: str) -> transit_pb2.WatchPriorityResponse:
        return transit_pb2.WatchPriorityResponse(
            sequence=sim.log.last,
            epoch=self.epoch,
            resync_needed=assets_pb2.ResyncNeeded(
                requested_revision=seq, oldest_available_revision=sim.log.oldest_available, reason=reason
            ),
        )

    async def GetCorridorStats(
        self, request: transit_pb2.GetCorridorStatsRequest, context: grpc.aio.ServicerContext
    ) -> transit_pb2.CorridorStatsResponse:
        sim = await self._need(context)
        start = seconds_of(request.start) if request.HasField("start") else sim.start
        end = seconds_of(request.end) if request.HasField("end") else sim.now()
        if start is None or end is None or end < start:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "end must not be before start")
        assert start is not None and end is not None
        if end - start > 31 * 86_400:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a range is at most 31 days")
        unknown = set(request.line_ids) - set(sim.network.lines)
        if unknown:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown line ids: {', '.join(sorted(unknown)[:10])}"
            )
        resp = transit_pb2.CorridorStatsResponse()
        stamp(start, resp.start)
        stamp(end, resp.end)
        for hour, line, cls, h in sim.stats.hours(start, end, set(request.line_ids)):
            m = resp.hours.add(
                line_id=line,
                vehicle_class=CLASS_TO_PB[cls],  # type: ignore[arg-type]
                time_saved_s=h.time_saved_s,
                signal_delay_s=h.signal_delay_s,
                requests=h.requests,
                grants=h.grants,
                denials=h.denials,
                cross_delay_s=h.cross_delay_s,
                mean_deviation_s=h.deviation_sum / h.deviation_n if h.deviation_n else 0.0,
            )
            stamp(hour * 3600.0, m.hour)
        for jid, t in sorted(sim.stats.junction_totals(start, end).items()):
            resp.junctions.add(
                junction_id=jid,
                grants=t.grants,
                denials=t.denials,
                cross_delay_s=t.cross_delay_s,
                max_cross_delay_s=t.max_cross_delay_s,
            )
        return resp

    async def RequestPreemption(
        self, request: transit_pb2.RequestPreemptionRequest, context: grpc.aio.ServicerContext
    ) -> transit_pb2.RequestPreemptionResponse:
        sim = await self._need(context)

        async def work() -> transit_pb2.RequestPreemptionResponse:
            if len(request.route) < 2:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "route needs at least 2 points")
            if not 0 <= request.duration_s <= MAX_PREEMPT_S:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"duration_s must be 0..{MAX_PREEMPT_S}"
                )
            for p in request.route:
                if not (-90 <= p.lat <= 90 and -180 <= p.lon <= 180):
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, "route has a point outside lat/lon ranges"
                    )
            route = [to_xy(p.lat, p.lon) for p in request.route]
            ids = sim.preempt(
                route, request.duration_s or DEFAULT_PREEMPT_S, request.unit_id, request.incident_id
            )
            return transit_pb2.RequestPreemptionResponse(junction_ids=ids)

        return await audited(
            self.audit,
            context,
            "transit.preempt",
            request.unit_id or request.incident_id,
            request.reason,
            work,
            lambda r: (
                f"junctions: {', '.join(r.junction_ids)}" if r.junction_ids else "no junction on the route"
            ),
        )


def _point(lat: float, lon: float) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(lat=lat, lon=lon)


def _junction(sim: TransitSim, j: Junction, m: transit_pb2.JunctionTsp) -> None:
    m.junction_id, m.name = j.id, clip(j.name)
    m.position.lat, m.position.lon = j.lat, j.lon
    m.enabled = j.enabled
    rules_to_pb(j.rules, m.rules)
    p = j.plan
    m.plan.cycle_s, m.plan.main_green_s, m.plan.cross_green_s = p.cycle_s, p.green_a_s, p.green_b_s
    m.plan.offset_s, m.plan.intergreen_s = p.offset_s, p.intergreen_s
    m.line_ids.extend(j.line_ids)
    if j.last_grant is not None:
        stamp(sim.start + j.last_grant, m.last_grant)
    m.preempted = bool(j.preempt_phase)
