"""What Help > Diagnostics shows of the connection: the backend's version and address, the
round-trip time of a gRPC health check, and each resilient stream's state and the age of its
last message. Collected on the client loop (where the streams live), handed to the GUI as
plain dataclasses by `sig_report`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client.core import UNARY_TIMEOUT, ClientCore

VERSION_KEY = "x-vigie-version"  # sent by the backend with health Check answers


@dataclass(frozen=True, slots=True)
class StreamInfo:
    name: str
    state: str  # StreamState's value: live, backoff, stale...
    last_message_age_s: float | None  # None: no message yet
    reconnections: int


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    address: str
    connection: str  # the core's state: connected, reconnecting...
    user: str
    role: str
    backend_version: str  # "" when the check failed
    rtt_ms: float | None  # None when the check failed
    problem: str  # why the check failed ("" when it worked)
    streams: tuple[StreamInfo, ...]


class DiagnosticsClient(QObject):
    sig_report = Signal(object)  # ConnectionReport

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core

    def request(self) -> None:
        """Measure and collect now; answered by sig_report."""
        self.core.submit(self._report())

    async def _report(self) -> None:
        version, rtt, problem = "", None, ""
        await self.core.channel_ready.wait()
        stub = self.core.stub(health_pb2_grpc.HealthStub)
        start = time.perf_counter()
        try:
            call = stub.Check(health_pb2.HealthCheckRequest(), timeout=UNARY_TIMEOUT)
            await call
            rtt = (time.perf_counter() - start) * 1000
            for key, value in await call.initial_metadata() or ():
                if key == VERSION_KEY:
                    version = str(value)
        except grpc.aio.AioRpcError as exc:
            problem = self.core.describe(exc)
        now = time.monotonic()
        streams = tuple(
            sorted(
                (
                    StreamInfo(
                        s.name,
                        s.state.value,
                        now - s.last_message_at if s.last_message_at else None,
                        max(0, s.opened - 1),
                    )
                    for s in list(self.core.streams)
                ),
                key=lambda i: i.name,
            )
        )
        self.sig_report.emit(
            ConnectionReport(
                self.core.address,
                self.core.state,
                self.core.user,
                self.core.role,
                version,
                rtt,
                problem,
                streams,
            )
        )
