"""Test setup: headless Qt, isolated settings, and a real backend process on loopback."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vigie.app.session import Session

# Qt reads these when it loads: set them before any test imports PySide6.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --js-flags=--expose-gc")
# As the console does (app/__init__.py): gRPC's fork handlers off, before grpc loads.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="vigie-test-config-")  # QSettings stay out of ~
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="vigie-test-state-")  # so do consoles' log files

import grpc
import pytest
from PySide6.QtCore import QCoreApplication, Qt

from vigie.v1 import auth_pb2, auth_pb2_grpc
from vigie.widgets.map.mbtiles import register_url_schemes

# Servers the tests start themselves (PostgreSQL; skipped saying why where not installed).
pytest_plugins = ["tests.fixtures.postgres"]

# QtWebEngine needs these before pytest-qt creates the QApplication.
register_url_schemes()
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)

ROOT = Path(__file__).resolve().parent.parent
READY = "VIGIE_BACKEND_LISTENING"


class BackendProcess:
    """`python -m vigie.backend` on loopback, as a real separate process, restartable on the same port.

    It runs with --demo-users (viewer, operator, supervisor, admin; password = name) unless
    `demo_users=False`; `stderr` (a file path) captures its standard error."""

    def __init__(
        self, *args: str, port: int = 0, demo_users: bool = True, stderr: Path | None = None
    ) -> None:
        self.args = list(args)
        if "--data-dir" not in self.args:  # never share (or pollute) the user's alarms.sqlite3
            self.args += ["--data-dir", tempfile.mkdtemp(prefix="vigie-test-data-")]
        if demo_users and "--demo-users" not in self.args:
            self.args.append("--demo-users")
        self.port = port
        self.stderr = stderr
        self.proc: subprocess.Popen[str] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> BackendProcess:
        err = open(self.stderr, "a") if self.stderr else None  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vigie.backend",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "WARNING",
                *self.args,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        if err is not None:
            err.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"backend exited with {self.proc.wait()}")
            if line.startswith(READY):
                self.port = int(line.split()[1].rsplit(":", 1)[1])
                return self
        self.kill()
        raise TimeoutError("backend did not become ready")

    def kill(self) -> None:
        """Stop abruptly, as a crash or a pulled cable would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)  # a clean stop; on a loaded 2-core machine it can take several seconds
            except subprocess.TimeoutExpired:
                self.kill()


TEST_CONSOLE = "pytest"


class _Details:
    """grpc.ClientCallDetails with our metadata added."""

    def __init__(self, details: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = [*(details.metadata or ()), *metadata]
        self.credentials = details.credentials
        self.wait_for_ready = details.wait_for_ready
        self.compression = details.compression


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Sends `authorization: Bearer <token>` (and the console's name) on every call."""

    def __init__(self, token: str, console: str = TEST_CONSOLE) -> None:
        self.metadata = [("authorization", f"Bearer {token}"), ("x-vigie-console", console)]

    def _call(self, continuation, details, request):
        return continuation(_Details(details, self.metadata), request)

    intercept_unary_unary = intercept_unary_stream = _call
    intercept_stream_unary = intercept_stream_stream = _call


def raw_channel(address: str, credentials: grpc.ChannelCredentials | None = None) -> grpc.Channel:
    """A ready channel without any token (plaintext, or TLS with `credentials`)."""
    ch = grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
    grpc.channel_ready_future(ch).result(timeout=10)
    return ch


ISSUED_TOKENS: set[str] = set()  # every token login() obtained: tests/api/conftest.py looks for them in logs


def login(
    address: str,
    user: str,
    password: str | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> auth_pb2.LoginResponse:
    """AuthService.Login (the demo users' password is their name)."""
    with raw_channel(address, credentials) as ch:
        response = auth_pb2_grpc.AuthServiceStub(ch).Login(
            auth_pb2.LoginRequest(
                user=user, password=user if password is None else password, console=TEST_CONSOLE
            ),
            timeout=10,
        )
    ISSUED_TOKENS.add(response.token)
    return response


def bearer_channel(
    address: str, token: str, credentials: grpc.ChannelCredentials | None = None
) -> grpc.Channel:
    """A ready channel that sends `token` on every call."""
    return grpc.intercept_channel(raw_channel(address, credentials), BearerToken(token))


def open_channel(
    address: str, user: str | None = "operator", credentials: grpc.ChannelCredentials | None = None
) -> grpc.Channel:
    """A blocking channel to a test backend, logged in as `user` (the demo users' password is
    their name; None: no token). Every API test opens its channels here, the one place that
    knows how tests authenticate."""
    if user is None:
        return raw_channel(address, credentials)
    return bearer_channel(address, login(address, user, credentials=credentials).token, credentials)


def console_session(address: str, user: str = "operator", **kwargs: object) -> Session:
    """A console session logged in as a demo user (password = name), like `vigie demo` does."""
    from vigie.app.auth import Credentials
    from vigie.app.session import Session

    return Session(address, credentials=Credentials(user, user, console=f"test-{user}"), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def backend() -> Iterator[BackendProcess]:
    """A shared backend on the default simulated city (read-only tests)."""
    b = BackendProcess("--seed", "7").start()
    yield b
    b.stop()


@pytest.fixture
def make_backend() -> Iterator[type[BackendProcess]]:
    """Start private backends (with their own flags); all are stopped after the test."""
    started: list[BackendProcess] = []

    class Tracked(BackendProcess):
        def start(self, timeout: float = 60.0) -> BackendProcess:
            started.append(self)
            return super().start(timeout)

    yield Tracked
    for b in started:
        b.stop()


@pytest.fixture(autouse=True)
def _no_popup_left_open():
    """A menu or combo list a test leaves open is the application's active popup: Qt then sends
    every later mouse event to it, and the next GUI test's hover or click reaches nothing. Close
    what a test left (after it, whatever its outcome), naming it so the leak can be found."""
    yield
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    left = []
    while (popup := QApplication.activePopupWidget()) is not None and len(left) < 20:
        left.append(type(popup).__name__)
        popup.close()
    if left:
        import warnings

        warnings.warn(f"popups left open by this test, closed: {', '.join(left)}", stacklevel=1)
