"""The unit service: the live unit watch (same resume contract as the incident watch), a unit's
status set by hand (a crew radios in) and road routes between two points."""

from __future__ import annotations

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import dispatch_convert as dc
from vigie.app.client.changefeed import ChangeFeed
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume
from vigie.v1 import incidents_pb2, incidents_pb2_grpc


class UnitsClient(QObject):
    sig_snapshot = Signal(object, int)  # list[UnitRecord], sequence
    sig_changes = Signal(object, int)  # list[UnitRecord] (latest per unit), sequence
    sig_unit = Signal(object)  # UnitRecord: the answer to a status set here
    sig_result = Signal(bool, str)  # a status change: done?, what happened
    # route: the key it was asked with, [(lat, lon)...], distance m, ETA s ([] when refused)
    sig_route = Signal(str, object, float, float)

    def __init__(self, core: ClientCore, flush_interval: float = 0.05) -> None:
        super().__init__()
        self.core = core
        self.flush_interval = flush_interval
        self.resume = Resume()
        self.feed = ChangeFeed(
            self.resume, "unit", "units", dc.unit, self.sig_snapshot.emit, self.sig_changes.emit
        )
        core.on_start("units", self._watch)
        core.on_start("unit-flush", lambda: self.feed.flush_every(self.flush_interval))

    def _stub(self) -> incidents_pb2_grpc.UnitServiceStub:
        return self.core.stub(incidents_pb2_grpc.UnitServiceStub)

    def set_status(self, unit_id: str, status: str, reason: str = "") -> None:
        """Unknown status names are a console bug (KeyError)."""
        req = incidents_pb2.SetUnitStatusRequest(
            unit_id=unit_id,
            status=dc.UNIT_STATUS_NUMBERS[status],
            reason=reason,
        )
        self.core.submit(self._set_status(req))

    def route(self, key: str, origin: tuple[float, float], destination: tuple[float, float]) -> None:
        req = incidents_pb2.RouteRequest(origin=dc.point(*origin), destination=dc.point(*destination))
        self.core.submit(self._route(key, req))

    async def _set_status(self, req: incidents_pb2.SetUnitStatusRequest) -> None:
        try:
            u = await self._stub().SetUnitStatus(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"Unit status refused: {self.core.describe(exc)}")
            return
        rec = dc.unit(u)
        self.sig_unit.emit(rec)
        self.sig_result.emit(True, f"{rec.callsign}: {rec.status.replace('_', ' ')}")

    async def _route(self, key: str, req: incidents_pb2.RouteRequest) -> None:
        try:
            resp = await self._stub().Route(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_route.emit(key, [], 0.0, 0.0)
            return
        eta = resp.eta.seconds + resp.eta.nanos * 1e-9
        self.sig_route.emit(key, [(p.lat, p.lon) for p in resp.polyline], resp.distance_m, eta)

    # ---- the unit watch --------------------------------------------------------------------

    async def _open(self, resume: Resume) -> grpc.aio.UnaryStreamCall:
        self.feed.reset()
        return self._stub().WatchUnits(
            incidents_pb2.WatchUnitsRequest(after_sequence=resume.position, epoch=resume.epoch)
        )

    async def _watch(self) -> None:
        stream = self.core.stream("unit watch", self._open, self.feed.feed)
        stream.resume = self.resume
        await stream.run()
