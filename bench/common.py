"""What every benchmark needs: running the Qt event loop for a while (never sleeping through it),
and logging in as a demo user."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from PySide6.QtCore import QEventLoop, QTimer

if TYPE_CHECKING:
    from vigie.app.session import Session


def spin(seconds: float, until: Callable[[], object] | None = None) -> None:
    """Run the Qt event loop for `seconds`, or until `until()` is true."""
    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ((until and until()) or time.monotonic() > deadline) and loop.quit())
    timer.start()
    loop.exec()
    timer.stop()


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the token of a demo user to every call of a blocking channel."""

    def __init__(self, token: str) -> None:
        self.metadata = [("authorization", f"Bearer {token}")]

    def _details(self, d):
        return d._replace(metadata=list(d.metadata or []) + self.metadata)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)


def open_channel(address: str, user: str = "operator") -> grpc.Channel:
    """A blocking channel logged in as a demo user (benchmark backends run with --demo-users)."""
    from vigie.v1 import auth_pb2, auth_pb2_grpc

    ch = grpc.insecure_channel(address)
    login = auth_pb2_grpc.AuthServiceStub(ch).Login(
        auth_pb2.LoginRequest(user=user, password=user, console="bench"), timeout=30, wait_for_ready=True
    )
    return grpc.intercept_channel(ch, _Bearer(login.token))


def demo_session(address: str, user: str = "operator") -> Session:
    from vigie.app.auth import Credentials
    from vigie.app.session import Session

    return Session(address, credentials=Credentials(user, user, console="bench"))
