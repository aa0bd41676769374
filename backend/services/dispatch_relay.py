"""Where a dispatch write runs (docs/cluster.md). One backend: here, as it always did. On a
cluster (`cluster`, backend/bus/incidents.py's DispatchOnBus): on the leader's desk, whichever
replica the console called. The request (its protobuf bytes) and the caller (user, role, console)
go to the leader over the relay; the leader runs the same service code against its desk, its
refusals (an abort, a domain error) come back as a status and a message, its answer as protobuf;
the asking replica then answers with the incidents and units as its own views have them
(numbered by the streams, as its WatchIncidents and WatchUnits). The audit record stays with the
replica the console called (the services audit around `write`)."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError, Message

from vigie.backend.dispatch import DispatchUnavailable
from vigie.backend.security import principal
from vigie.backend.security.principal import Principal, Role
from vigie.backend.services.dispatch_convert import domain_status, incident_to_pb, unit_to_pb
from vigie.v1 import incidents_pb2

Work = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _LeaderContext:
    """What the service code sees of its call when it runs for another replica's console: an
    abort becomes the answer's status."""

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise _Refused(code, details)


@dataclass(frozen=True, slots=True)
class _Handler:
    request: type[Message]
    response: type[Message]
    work: Work


class DispatchWrites:
    """`register` each write RPC's work (the service's own code); `write` runs it here or on the
    leader; `execute` is the leader's side of the relay."""

    def __init__(self, cluster: Any = None) -> None:
        self.cluster = cluster
        self._handlers: dict[str, _Handler] = {}
        if cluster is not None:
            cluster.relay.execute = self.execute

    def register(self, rpc: str, request: type[Message], response: type[Message], work: Work) -> None:
        self._handlers[rpc] = _Handler(request, response, work)

    async def write(self, rpc: str, request: Message, context: grpc.aio.ServicerContext) -> Any:
        handler = self._handlers[rpc]
        if self.cluster is None:
            return await handler.work(request, context)
        who = principal.current()
        try:
            answer = await self.cluster.relay.call(
                {
                    "rpc": rpc,
                    "request": base64.b64encode(request.SerializeToString()).decode(),
                    "user": who.user,
                    "role": int(who.role),
                    "console": who.console,
                }
            )
        except DispatchUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        error = answer.get("error")
        if error:
            code = getattr(grpc.StatusCode, str(error), grpc.StatusCode.UNKNOWN)
            await context.abort(code, str(answer.get("detail", ""))[:1000])
        return self._as_seen_here(handler.response.FromString(base64.b64decode(answer["response"])))

    def _as_seen_here(self, resp: Any) -> Any:
        """The answer's incidents and units as this replica's views have them."""
        incidents, units = self.cluster.incidents, self.cluster.units

        def fresh_incident(m: incidents_pb2.Incident) -> None:
            inc = incidents.get(m.id)
            if inc is not None:
                m.Clear()
                incident_to_pb(inc, m)

        def fresh_unit(m: incidents_pb2.Unit) -> None:
            u = units.get(m.id)
            if u is not None:
                m.Clear()
                unit_to_pb(u, m)

        if isinstance(resp, incidents_pb2.Incident):
            fresh_incident(resp)
        elif isinstance(resp, incidents_pb2.Unit):
            fresh_unit(resp)
        elif isinstance(resp, incidents_pb2.AssignResponse):
            fresh_incident(resp.incident)
            fresh_unit(resp.unit)
            fresh_unit(resp.route.unit)
        return resp

    async def execute(self, r: dict[str, Any]) -> dict[str, Any]:
        """On the leader: one relayed write, run as its caller, against this desk."""
        handler = self._handlers.get(str(r.get("rpc")))
        if handler is None:
            return {
                "error": "INVALID_ARGUMENT",
                "detail": f"not a dispatch write: {str(r.get('rpc'))[:64]!r}",
            }
        try:
            request = handler.request.FromString(base64.b64decode(str(r["request"])))
            caller = Principal(str(r["user"]), Role(int(r["role"])), str(r.get("console", "")))
        except (KeyError, ValueError, TypeError, DecodeError) as exc:
            return {"error": "INVALID_ARGUMENT", "detail": f"malformed relayed request: {exc}"}
        token = principal.set_current(caller)
        try:
            resp = await handler.work(request, cast(grpc.aio.ServicerContext, _LeaderContext()))
        except _Refused as exc:
            return {"error": exc.code.name, "detail": exc.details}
        except Exception as exc:
            status = domain_status(exc)
            if status is None:
                raise
            return {"error": status[0].name, "detail": status[1]}
        finally:
            principal.reset_current(token)
        return {"response": base64.b64encode(resp.SerializeToString()).decode()}
