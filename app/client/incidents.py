"""The incident service: the catalogue, the live incident watch (same resume contract as the alarm
watch) and the dispatcher's actions: create (with an idempotency key), update, note, step,
recommend and assign (with an idempotency key and, for an override, a reason).

Create and assign are retried with the same key while their answer may have been lost
(UNAVAILABLE, DEADLINE_EXCEEDED, an expired token), so the backend acts once; the other actions
are idempotent by nature or shown to the operator when they fail."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import dispatch_convert as dc
from vigie.app.client.changefeed import ChangeFeed
from vigie.app.client.commands import COMMAND_RETRY_S, RETRY_CODES
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume, StreamEvent, StreamState, backoff_delay
from vigie.v1 import incidents_pb2, incidents_pb2_grpc


class IncidentsClient(QObject):
    sig_catalogue = Signal(object)  # Catalogue (types with their checklists, thresholds per priority)
    sig_snapshot = Signal(object, int)  # list[IncidentRecord], sequence
    sig_changes = Signal(object, int)  # list[IncidentRecord] (latest per incident), sequence
    sig_incident = Signal(object)  # IncidentRecord: the answer to an action made here
    sig_created = Signal(str, object)  # idempotency key, IncidentRecord
    # incident id, list[Candidate] best first ([] and a reason in sig_result when it failed)
    sig_recommendation = Signal(str, object)
    sig_assigned = Signal(str, object, object, bool)  # key, IncidentRecord, Candidate | None, override
    sig_result = Signal(bool, str)  # an action: done?, what happened (for the status bar)
    sig_stream = Signal(str, str)  # the watch's state ("live", "backoff"...), detail

    def __init__(self, core: ClientCore, flush_interval: float = 0.05) -> None:
        super().__init__()
        self.core = core
        self.flush_interval = flush_interval
        self.resume = Resume()
        self.feed = ChangeFeed(
            self.resume, "incident", "incidents", dc.incident, self.sig_snapshot.emit, self.sig_changes.emit
        )
        core.on_start("incidents", self._watch)
        core.on_start("incident-flush", lambda: self.feed.flush_every(self.flush_interval))
        core.on_start("incident-types", self._catalogue)

    def _stub(self) -> incidents_pb2_grpc.IncidentServiceStub:
        return self.core.stub(incidents_pb2_grpc.IncidentServiceStub)

    # ---- actions (any thread) --------------------------------------------------------------

    def request_catalogue(self) -> None:
        self.core.submit(self._catalogue())

    def create(
        self,
        type_code: str,
        lat: float,
        lon: float,
        priority: int = 0,
        description: str = "",
        alarm_ids: list[str] | None = None,
        asset_ids: list[str] | None = None,
        camera_ids: list[str] | None = None,
    ) -> str:
        """Open an incident; returns the idempotency key that names it in sig_created."""
        key = uuid.uuid4().hex
        req = dc.create_request(
            key,
            type_code,
            priority,
            lat,
            lon,
            description,
            alarm_ids or [],
            asset_ids or [],
            camera_ids or [],
        )

        async def done(inc: incidents_pb2.Incident) -> None:
            rec = dc.incident(inc)
            self.sig_created.emit(key, rec)
            self.sig_incident.emit(rec)
            self.sig_result.emit(True, f"Incident {rec.id} created")

        self.core.submit(self._retried("CreateIncident", req, done))
        return key

    def update(
        self, incident_id: str, status: str = "", reason: str = "", outcome: str = "", override: bool = False
    ) -> None:
        req = dc.update_request(incident_id, status, reason, outcome, override)
        what = f"{incident_id}: {status.replace('_', ' ')}" if status else f"{incident_id} updated"
        self.core.submit(self._once("UpdateIncident", req, what))

    def note(self, incident_id: str, text: str) -> None:
        req = incidents_pb2.AddNoteRequest(incident_id=incident_id, text=text)
        self.core.submit(self._once("AddNote", req, f"{incident_id}: note added"))

    def step(self, incident_id: str, step_id: str, done: bool) -> None:
        req = incidents_pb2.SetStepRequest(incident_id=incident_id, step_id=step_id, done=done)
        self.core.submit(self._once("SetStep", req, f"{incident_id}: step {'done' if done else 'reopened'}"))

    def recommend(self, incident_id: str, k: int = 5, capability: str = "") -> None:
        req = incidents_pb2.RecommendRequest(
            incident_id=incident_id,
            k=k,
            capability=dc.CAPABILITY_NUMBERS.get(capability.upper(), 0),  # type: ignore[arg-type]
        )
        self.core.submit(self._recommend(req))

    def assign(self, incident_id: str, unit_id: str, reason: str = "", replace_unit_id: str = "") -> str:
        """Send a unit; returns the idempotency key that names the answer in sig_assigned."""
        key = uuid.uuid4().hex
        req = incidents_pb2.AssignRequest(
            idempotency_key=key,
            incident_id=incident_id,
            unit_id=unit_id,
            reason=reason,
            replace_unit_id=replace_unit_id,
        )

        async def done(resp: incidents_pb2.AssignResponse) -> None:
            rec = dc.incident(resp.incident)
            route = dc.candidate(resp.route) if resp.HasField("route") else None
            self.sig_assigned.emit(key, rec, route, resp.override)
            self.sig_incident.emit(rec)
            self.sig_result.emit(True, f"{resp.unit.callsign or unit_id} assigned to {incident_id}")

        self.core.submit(self._retried("Assign", req, done))
        return key

    # ---- calls -----------------------------------------------------------------------------

    async def _catalogue(self) -> None:
        await self.core.channel_ready.wait()
        await self.core.logged_in.wait()
        try:
            resp = await self._stub().ListIncidentTypes(
                incidents_pb2.ListIncidentTypesRequest(), timeout=UNARY_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.core.sig_error.emit(f"Incident types: {self.core.describe(exc)}")
            return
        self.sig_catalogue.emit(dc.catalogue(resp))

    async def _once(self, method: str, request: Any, done: str) -> None:
        try:
            inc = await getattr(self._stub(), method)(request, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"{method} refused: {self.core.describe(exc)}")
            return
        self.sig_incident.emit(dc.incident(inc))
        self.sig_result.emit(True, done)

    async def _retried(self, method: str, request: Any, done: Callable[[Any], Awaitable[None]]) -> None:
        """Call with the request's idempotency key until an answer comes (or COMMAND_RETRY_S)."""
        deadline = time.monotonic() + COMMAND_RETRY_S
        attempt = 0
        user = self.core.user
        while True:
            await self.core.ready_stub(incidents_pb2_grpc.IncidentServiceStub)
            if user and self.core.user != user:  # keys are per user: never replay under another login
                self.sig_result.emit(False, f"{method} dropped: the user changed")
                return
            try:
                resp = await getattr(self._stub(), method)(request, timeout=UNARY_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                self.core.note_rpc_error(exc)
                if exc.code() in RETRY_CODES and time.monotonic() < deadline and not self.core.stopping():
                    await asyncio.sleep(backoff_delay(attempt))
                    attempt += 1
                    continue
                self.sig_result.emit(False, f"{method} refused: {self.core.describe(exc)}")
                return
            await done(resp)
            return

    async def _recommend(self, request: incidents_pb2.RecommendRequest) -> None:
        try:
            resp = await self._stub().Recommend(request, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_recommendation.emit(request.incident_id, [])
            self.sig_result.emit(False, f"Recommend: {self.core.describe(exc)}")
            return
        self.sig_recommendation.emit(request.incident_id, [dc.candidate(c) for c in resp.candidates])

    # ---- the incident watch ----------------------------------------------------------------

    async def _open(self, resume: Resume) -> grpc.aio.UnaryStreamCall:
        self.feed.reset()
        return self._stub().WatchIncidents(
            incidents_pb2.WatchIncidentsRequest(after_sequence=resume.position, epoch=resume.epoch)
        )

    async def _watch(self) -> None:
        stream = self.core.stream("incident watch", self._open, self.feed.feed, on_event=self._on_event)
        stream.resume = self.resume
        await stream.run()

    def _on_event(self, ev: StreamEvent) -> None:
        if ev.state in (StreamState.LIVE, StreamState.BACKOFF, StreamState.STALE, StreamState.FAILED):
            self.sig_stream.emit(ev.state.value, ev.detail)
