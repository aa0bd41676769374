"""A console names itself after its seat in the room (its primary window's role, "console-left")
at its host, not the host alone: the audit trail says which position acted (issue 19, item 10)."""

from __future__ import annotations

import socket
import time

from google.protobuf.timestamp_pb2 import Timestamp

from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.app.auth import Credentials
from vigie.app.session import Session
from vigie.v1 import audit_pb2, audit_pb2_grpc


def logins_since(address: str, t0: float, user: str) -> list[audit_pb2.AuditRecord]:
    start = Timestamp()
    start.FromSeconds(int(t0) - 1)
    channel = open_channel(address, "supervisor")
    try:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        request = audit_pb2.ListAuditRequest(
            start=start, user=user, action="login", result="ok", page_size=500
        )
        return list(stub.ListAudit(request, timeout=10).records)
    finally:
        channel.close()


def test_the_audit_trail_names_the_console_by_its_seat_and_host(qtbot, backend, monkeypatch):
    monkeypatch.delenv("VIGIE_CONSOLE", raising=False)
    t0 = time.time()
    # Credentials without a console name, as `vigie` makes them from the login dialog.
    session = Session(backend.address, credentials=Credentials("admin", "admin"))
    window = ConsoleHarness(backend.address, session=session).start()
    try:
        expected = f"console-left@{socket.gethostname()}"  # the laptop workspace's one window
        qtbot.waitUntil(lambda: session.role == "ADMIN", timeout=30000)
        consoles = [r.console for r in logins_since(backend.address, t0, "admin")]
        assert expected in consoles, consoles
    finally:
        window.close()
