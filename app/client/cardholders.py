"""The cardholder service: the directory, the exceptions (set and removed by a SUPERVISOR, with a
reason) and the live access decisions at the doors (WatchAccessEvents, same resume contract as
the other watches). The decisions stream only while a panel asks for them (`watch_events`):
most consoles never show them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client.convert import seconds, stamp
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume, ResyncNeeded
from vigie.app.models.cardholders import AccessEventRecord, AccessExceptionRecord, Building, Cardholder
from vigie.v1 import modes_pb2, modes_pb2_grpc

MAX_REASON = 500  # bounded here too: the backend refuses longer ones anyway
MAX_TEXT = 200
WATCH_TASK = "access-events"


def cardholder(p: modes_pb2.Cardholder) -> Cardholder:
    return Cardholder(p.person_id, p.name, p.organisation, p.group, tuple(p.badge_ids))


def building(b: modes_pb2.Building) -> Building:
    return Building(b.name, b.building_type, b.district, tuple(b.access_point_ids))


def exception(e: modes_pb2.AccessException) -> AccessExceptionRecord:
    return AccessExceptionRecord(
        e.exception_id,
        e.person_id,
        e.group,
        tuple(e.buildings),
        tuple(e.building_types),
        seconds(e.valid_from),
        seconds(e.valid_until),
        e.note,
        e.created_by,
        seconds(e.created_at),
    )


def exception_pb(r: AccessExceptionRecord) -> modes_pb2.AccessException:
    m = modes_pb2.AccessException(
        exception_id=r.exception_id,
        person_id=r.person_id,
        group=r.group,
        buildings=list(r.buildings),
        building_types=list(r.building_types),
        note=r.note[:MAX_TEXT],
    )
    m.valid_from.CopyFrom(stamp(r.valid_from))
    m.valid_until.CopyFrom(stamp(r.valid_until))
    return m


def access_event(e: modes_pb2.AccessEvent) -> AccessEventRecord:
    return AccessEventRecord(
        e.sequence,
        seconds(e.time),
        e.asset_id,
        e.building,
        e.building_type,
        e.badge_id,
        e.person_id,
        e.person_name,
        e.group,
        e.granted,
        e.reason,
        e.exception_id,
        e.run_id,
        e.district,
    )


class CardholdersClient(QObject):
    sig_directory = Signal(object, object, int)  # list[Cardholder], list[str] groups, total matching
    sig_exceptions = Signal(object, object)  # list[AccessExceptionRecord], list[Building]
    sig_changed = Signal(str)  # what a supervisor's set/remove did (then sig_exceptions follows)
    sig_events_reset = Signal()  # a new history of decisions (first call, resync, new epoch)
    sig_events = Signal(object)  # list[AccessEventRecord], in sequence order
    sig_failed = Signal(str, str)  # operation, why (for the operator)

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core
        self.resume = Resume()

    def _stub(self) -> modes_pb2_grpc.CardholderServiceStub:
        return self.core.stub(modes_pb2_grpc.CardholderServiceStub)

    # ---- reading (any thread) --------------------------------------------------------------

    def list_cardholders(self, text: str = "", group: str = "", page_size: int = 5000) -> None:
        req = modes_pb2.ListCardholdersRequest(
            text=text[:MAX_TEXT], group=group[:MAX_TEXT], page_size=page_size
        )

        def done(r: modes_pb2.ListCardholdersResponse) -> None:
            self.sig_directory.emit([cardholder(p) for p in r.cardholders], list(r.groups), r.total_size)

        self.core.submit(self._unary("directory", "ListCardholders", req, done))

    def list_exceptions(self) -> None:
        self.core.submit(
            self._unary(
                "exceptions", "ListExceptions", modes_pb2.ListExceptionsRequest(), self._on_exceptions
            )
        )

    # ---- a supervisor's changes (any thread) -----------------------------------------------

    def set_exception(self, rule: AccessExceptionRecord, reason: str) -> None:
        req = modes_pb2.SetExceptionRequest(exception=exception_pb(rule), reason=reason[:MAX_REASON])

        def done(r: modes_pb2.AccessException) -> None:
            self.sig_changed.emit(f"Exception set for {r.person_id or 'group ' + r.group}")
            self.list_exceptions()

        self.core.submit(self._unary("set", "SetException", req, done))

    def remove_exception(self, exception_id: str, reason: str) -> None:
        req = modes_pb2.RemoveExceptionRequest(exception_id=exception_id, reason=reason[:MAX_REASON])

        def done(_r: modes_pb2.RemoveExceptionResponse) -> None:
            self.sig_changed.emit("Exception removed")
            self.list_exceptions()

        self.core.submit(self._unary("remove", "RemoveException", req, done))

    # ---- the live decisions ----------------------------------------------------------------

    def watch_events(self, on: bool) -> None:
        """Start (or stop) following the access decisions."""
        self.core.submit(self.core.replace_task(WATCH_TASK, self._watch() if on else None))

    async def _open(self, resume: Resume) -> grpc.aio.UnaryStreamCall:
        if not resume.position:
            self.sig_events_reset.emit()
        return self._stub().WatchAccessEvents(
            modes_pb2.WatchAccessEventsRequest(after_sequence=resume.position, epoch=resume.epoch)
        )

    async def _watch(self) -> None:
        self.resume = Resume()  # a new watch starts from the newest decisions
        stream = self.core.stream("access event watch", self._open, self._on_message)
        stream.resume = self.resume
        try:
            await stream.run()
        finally:
            self.core.forget_task(WATCH_TASK)

    def _on_message(self, msg: modes_pb2.WatchAccessEventsResponse) -> None:
        kind = msg.WhichOneof("event")
        if kind == "events":
            if msg.epoch != self.resume.epoch:
                self.resume.epoch = msg.epoch
            self.resume.position = msg.sequence
            self.sig_events.emit([access_event(e) for e in msg.events.events])
        elif kind == "heartbeat":
            self.resume.epoch = self.resume.epoch or msg.epoch
            self.resume.position = self.resume.position or msg.sequence
        elif kind == "resync_needed":
            raise ResyncNeeded(msg.resync_needed.reason)

    # ---- calls ------------------------------------------------------------------------------

    def _on_exceptions(self, r: modes_pb2.ListExceptionsResponse) -> None:
        self.sig_exceptions.emit([exception(e) for e in r.exceptions], [building(b) for b in r.buildings])

    async def _unary(self, op: str, method: str, req: Any, done: Callable[[Any], None]) -> None:
        await self.core.logged_in.wait()
        try:
            resp = await getattr(self._stub(), method)(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_failed.emit(op, self.core.describe(exc))
            return
        done(resp)
