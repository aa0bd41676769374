"""The transit service: lines, live vehicles (asked for every few seconds by the controller),
junction TSP settings and corridor statistics, as app/models/transit.py records."""

from __future__ import annotations

from typing import Any

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume, ResyncNeeded
from vigie.app.models.transit import (
    CorridorRow,
    JunctionRecord,
    PriorityRecord,
    TransitLine,
    TransitStop,
    TransitVehicleRecord,
    TspRuleValues,
)
from vigie.v1 import transit_pb2, transit_pb2_grpc

MODES = {transit_pb2.BUS: "bus", transit_pb2.TRAM: "tram", transit_pb2.SHUTTLE: "shuttle"}
CLASSES = {
    transit_pb2.CLASS_BUS: "bus",
    transit_pb2.CLASS_SHUTTLE: "shuttle",
    transit_pb2.CLASS_TRAM: "tram",
    transit_pb2.CLASS_EMERGENCY: "emergency",
}
STATES = {
    transit_pb2.TransitVehicle.RUNNING: "running",
    transit_pb2.TransitVehicle.DWELLING: "dwelling",
    transit_pb2.TransitVehicle.WAITING_SIGNAL: "waiting_signal",
    transit_pb2.TransitVehicle.HELD: "held",
    transit_pb2.TransitVehicle.LAYOVER: "layover",
}


EVENT_KINDS = {
    transit_pb2.PriorityEvent.CHECK_IN: "check_in",
    transit_pb2.PriorityEvent.GRANTED: "granted",
    transit_pb2.PriorityEvent.DENIED: "denied",
    transit_pb2.PriorityEvent.CHECK_OUT: "check_out",
    transit_pb2.PriorityEvent.PREEMPTION_START: "preemption_start",
    transit_pb2.PriorityEvent.PREEMPTION_END: "preemption_end",
}
STRATEGIES = {
    transit_pb2.GREEN_EXTENSION: "green_extension",
    transit_pb2.EARLY_GREEN: "early_green",
    transit_pb2.PREEMPTION: "preemption",
}


def priority_record(m: transit_pb2.PriorityEvent) -> PriorityRecord:
    return PriorityRecord(
        m.sequence,
        EVENT_KINDS.get(m.kind, ""),
        m.junction_id,
        m.vehicle_id,
        m.line_id,
        CLASSES.get(m.vehicle_class, ""),
        STRATEGIES.get(m.strategy, ""),
        m.reason,
        m.lateness_s,
        m.cross_delay_s,
        m.time_saved_s,
        m.position.lat,
        m.position.lon,
    )


def line_record(m: transit_pb2.Line) -> TransitLine:
    return TransitLine(
        m.id,
        m.name,
        MODES.get(m.mode, "bus"),
        m.color,
        m.length_m,
        m.headway_s,
        tuple(TransitStop(s.id, s.name, s.distance_m, s.station_asset_id) for s in m.stops),
        tuple(m.junction_ids),
    )


def vehicle_record(m: transit_pb2.TransitVehicle) -> TransitVehicleRecord:
    return TransitVehicleRecord(
        m.id,
        m.line_id,
        m.distance_m,
        m.direction,
        m.deviation_s,
        STATES.get(m.state, "running"),
        m.headway_ahead_s,
        m.next_stop_id,
    )


def junction_record(m: transit_pb2.JunctionTsp) -> JunctionRecord:
    r = m.rules
    return JunctionRecord(
        m.junction_id,
        m.name,
        m.enabled,
        tuple(m.line_ids),
        r.min_lateness_s,
        r.max_cross_wait_s,
        r.inhibit_s,
        m.preempted,
        rule_values(r),
    )


def rule_values(r: transit_pb2.TspRules) -> TspRuleValues:
    return TspRuleValues(
        tuple(r.lines),
        tuple(CLASSES.get(c, "emergency") for c in r.classes),
        r.min_lateness_s,
        r.shuttle_min_lateness_s,
        r.inhibit_s,
        r.max_cross_wait_s,
        r.max_extension_s,
        r.early_green,
    )


def corridor_row(m: transit_pb2.CorridorHour) -> CorridorRow:
    return CorridorRow(
        m.hour.seconds + m.hour.nanos / 1e9,
        m.line_id,
        CLASSES.get(m.vehicle_class, "bus"),
        m.time_saved_s,
        m.signal_delay_s,
        m.grants,
        m.denials,
        m.cross_delay_s,
    )


class TransitClient(QObject):
    sig_lines = Signal(object)  # list[TransitLine]
    sig_vehicles = Signal(object)  # list[TransitVehicleRecord]
    sig_junctions = Signal(object)  # list[JunctionRecord]
    sig_corridor = Signal(object)  # list[CorridorRow]
    sig_failed = Signal(str, str)  # operation, why
    sig_priority = Signal(object)  # list[PriorityRecord]: the requests checked in (snapshot), then events

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core
        self.resume = Resume()
        core.on_start("transit-priority", self._watch)

    def list_lines(self) -> None:
        self.core.submit(
            self._unary(
                "lines",
                "ListLines",
                transit_pb2.ListLinesRequest(),
                lambda r: self.sig_lines.emit([line_record(x) for x in r.lines]),
            )
        )

    def list_vehicles(self) -> None:
        self.core.submit(
            self._unary(
                "vehicles",
                "ListVehicles",
                transit_pb2.ListVehiclesRequest(),
                lambda r: self.sig_vehicles.emit([vehicle_record(x) for x in r.vehicles]),
            )
        )

    def junctions(self) -> None:
        self.core.submit(
            self._unary(
                "junctions",
                "GetTspConfig",
                transit_pb2.GetTspConfigRequest(),
                lambda r: self.sig_junctions.emit([junction_record(x) for x in r.junctions]),
            )
        )

    def corridor(self) -> None:
        """The statistics since the simulation started (each hour of the day so far)."""
        self.core.submit(
            self._unary(
                "corridor",
                "GetCorridorStats",
                transit_pb2.GetCorridorStatsRequest(),
                lambda r: self.sig_corridor.emit([corridor_row(x) for x in r.hours]),
            )
        )

    # ---- the priority watch (resumes like every watch: app/client/streams.py) --------------

    async def _open(self, resume: Resume) -> grpc.aio.UnaryStreamCall:
        return self._stub().WatchPriority(
            transit_pb2.WatchPriorityRequest(after_sequence=resume.position, epoch=resume.epoch)
        )

    def _on_message(self, msg: transit_pb2.WatchPriorityResponse) -> None:
        kind = msg.WhichOneof("event")
        if kind == "resync_needed":
            self.resume.reset()
            raise ResyncNeeded(msg.resync_needed.reason)
        self.resume.position, self.resume.epoch = msg.sequence, msg.epoch
        if kind == "snapshot":
            self.sig_priority.emit([priority_record(e) for e in msg.snapshot.active])
        elif kind == "events" and msg.events.events:
            self.sig_priority.emit([priority_record(e) for e in msg.events.events])

    async def _watch(self) -> None:
        stream = self.core.stream("transit priority watch", self._open, self._on_message)
        stream.resume = self.resume
        await stream.run()

    def _stub(self) -> transit_pb2_grpc.TransitServiceStub:
        return self.core.stub(transit_pb2_grpc.TransitServiceStub)

    async def _unary(self, op: str, method: str, req: Any, done: Any, timeout: float = UNARY_TIMEOUT) -> None:
        await self.core.logged_in.wait()
        try:
            resp = await getattr(self._stub(), method)(req, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_failed.emit(op, self.core.describe(exc))
            return
        done(resp)
