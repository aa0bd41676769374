"""What every benchmark needs: running the Qt event loop for a while (never sleeping through it),
waiting for a condition or failing loudly, logging in as a demo user, probing the GUI thread for
freezes, and reading process CPU from /proc (so the backend's CPU is never counted as the console's)."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEventLoop, QTimer, SignalInstance

if TYPE_CHECKING:
    from vigie.app.backend_process import BackendProcess
    from vigie.app.session import Session

TICK = os.sysconf("SC_CLK_TCK")
FREEZE_MS = 50.0  # a gap between GUI ticks longer than this is a freeze a person notices


class BenchError(Exception):
    """A benchmark could not measure what it claims: the run fails (non-zero exit)."""


def spin(seconds: float, until: Callable[[], object] | None = None) -> bool:
    """Run the Qt event loop for `seconds`, or until `until()` is true; returns whether it became true."""
    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    done = [False]

    def check() -> None:
        if until is not None and until():
            done[0] = True
            loop.quit()
        elif time.monotonic() > deadline:
            loop.quit()

    timer = QTimer(interval=10)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    return done[0]


def wait_for(seconds: float, until: Callable[[], object], what: str) -> None:
    """Run the Qt event loop until `until()` is true; a timeout is a failed benchmark."""
    if not spin(seconds, until):
        raise BenchError(f"timed out after {seconds:.0f} s waiting for {what}")


def end_session(session: Session, *signals: SignalInstance) -> None:
    """Stop a benchmark's session and cut `signals` while their receivers still live: a queued
    signal of a stopped session must never reach the next case's event loop (it crashed there)."""
    session.stop()
    QCoreApplication.sendPostedEvents()
    with warnings.catch_warnings():  # PySide warns when a signal had nothing connected
        warnings.simplefilter("ignore", RuntimeWarning)
        for signal in signals:
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect()
    QCoreApplication.sendPostedEvents()


def require(condition: object, what: str) -> None:
    if not condition:
        raise BenchError(what)


def check_alive(backend: BackendProcess) -> None:
    """A backend that died during a run makes its figures meaningless."""
    if backend.proc is None or backend.proc.poll() is not None:
        raise BenchError(f"the backend process exited (code {backend.proc and backend.proc.returncode})")


def run_main(body: Callable[[], None]) -> int:
    """Run a benchmark's body: 0 when it measured everything, 1 (with the reason) otherwise."""
    try:
        body()
    except BenchError as e:
        print(f"BENCH FAILED ({Path(sys.argv[0]).name}): {e}", file=sys.stderr, flush=True)
        return 1
    except Exception:  # any crash is a failed benchmark, loudly
        traceback.print_exc()
        print(f"BENCH FAILED ({Path(sys.argv[0]).name}): crashed", file=sys.stderr, flush=True)
        return 1
    return 0


# ---- GUI freezes -------------------------------------------------------------------------------


class StallProbe:
    """A timer on the GUI thread every `interval_ms`: each gap between two ticks beyond the interval
    is time the GUI could not react. Percentiles alone hide freezes, so it also reports the longest
    gap and the share of wall time spent in gaps longer than FREEZE_MS."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval_ms = interval_ms
        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._last = 0
        self._timer = QTimer(interval=interval_ms)
        self._timer.timeout.connect(self._tick)
        self._wall = 0.0

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e6)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._tick()  # a freeze running at the end of the window counts too
        self._timer.stop()
        self._wall = self._clock.nsecsElapsed() / 1e6

    def summary(self) -> dict[str, float]:
        require(
            self._wall > 0 and len(self.gaps) >= 10, f"GUI stall probe: only {len(self.gaps)} ticks recorded"
        )
        stalls = sorted(max(0.0, g - self.interval_ms) for g in self.gaps)
        frozen = sum(g for g in self.gaps if g > FREEZE_MS)
        return {
            "p50": statistics.median(stalls),
            "p99": stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))],
            "max": max(self.gaps),
            "frozen_pct": 100 * frozen / self._wall,
            "freezes": sum(1 for g in self.gaps if g > FREEZE_MS),
        }


STALL_HEADER = f"{'stall p50':>9} {'p99':>6} {'max gap':>7} {'frozen':>6}"
STALL_NOTE = (
    f"GUI stalls: a 5 ms timer on the GUI thread; 'max gap' the longest time between two ticks, "
    f"'frozen' the share of wall time inside gaps > {FREEZE_MS:.0f} ms"
)


def stall_cells(s: dict[str, float]) -> str:
    return f"{s['p50']:>9.1f} {s['p99']:>6.1f} {s['max']:>7.0f} {s['frozen_pct']:>5.1f}%"


# ---- CPU from /proc ----------------------------------------------------------------------------


def _stat_fields(path: str) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return Path(path).read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), not of its children."""
    f = _stat_fields(f"/proc/{pid}/stat")
    return (int(f[11]) + int(f[12])) / TICK


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """User + system CPU seconds of one thread (tid == pid is the main thread, the GUI thread)."""
    f = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
    return (int(f[11]) + int(f[12])) / TICK


def descendants(pid: int) -> list[int]:
    """Every live descendant process of `pid`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(f"/proc/{entry}/stat")[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of one process now, in MB (peaks are the caller's to sample)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def tree_cpu_seconds(pid: int, exclude: set[int] | None = None) -> float:
    """CPU seconds of a process and its descendants, leaving out the subtrees rooted at `exclude`
    (the backend, a child of the benchmark, is not the console)."""
    exclude = exclude or set()
    skipped: set[int] = set()
    for x in exclude:
        skipped.add(x)
        skipped.update(descendants(x))
    total = 0.0
    for p in [pid, *descendants(pid)]:
        if p in skipped:
            continue
        with contextlib.suppress(OSError):  # exited meanwhile: its CPU is counted on neither side
            total += process_cpu_seconds(p)
    return total


class CpuMeter:
    """CPU of the console (this process), of its GUI thread, of its other child processes
    (QtWebEngine) and of the backend process, over one window, in % of one core."""

    def __init__(self, backend: BackendProcess) -> None:
        require(backend.proc is not None, "backend not started")
        self.backend_pid = backend.proc.pid  # type: ignore[union-attr]
        self.pid = os.getpid()

    def _read(self) -> tuple[float, float, float, float, float]:
        own = process_cpu_seconds(self.pid)
        gui = thread_cpu_seconds(self.pid, self.pid)
        tree = tree_cpu_seconds(self.pid, exclude={self.backend_pid})
        backend = tree_cpu_seconds(self.backend_pid)
        return own, gui, tree, backend, time.monotonic()

    def start(self) -> None:
        self._t0 = self._read()

    def stop(self) -> dict[str, float]:
        t1 = self._read()
        wall = t1[4] - self._t0[4]
        own, gui, tree, backend = (100 * (b - a) / wall for a, b in zip(self._t0[:4], t1[:4], strict=True))
        return {"console": own, "gui": gui, "children": tree - own, "backend": backend}


# ---- logging in --------------------------------------------------------------------------------


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


def token_for(address: str, user: str = "viewer") -> str:
    """One demo user's login, shared by a benchmark's clients of that backend (the backend limits
    logins in flight from one address, docs/security.md)."""
    from vigie.v1 import auth_pb2, auth_pb2_grpc

    with grpc.insecure_channel(address) as ch:
        return (
            auth_pb2_grpc.AuthServiceStub(ch)
            .Login(
                auth_pb2.LoginRequest(user=user, password=user, console="bench"),
                timeout=30,
                wait_for_ready=True,
            )
            .token
        )


def token_channel(address: str, token: str) -> grpc.Channel:
    """A blocking channel carrying a token from `token_for`."""
    return grpc.intercept_channel(grpc.insecure_channel(address), _Bearer(token))


def demo_session(address: str, user: str = "operator") -> Session:
    from vigie.app.auth import Credentials
    from vigie.app.session import Session

    return Session(address, credentials=Credentials(user, user, console="bench"))
