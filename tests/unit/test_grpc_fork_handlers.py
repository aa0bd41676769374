"""The console loads with gRPC's fork handlers off (app/__init__.py): QtWebEngine forks its
zygotes while the session's gRPC threads run, and with the handlers on the map's renderer
sometimes never started. Checked in a fresh interpreter that loads the console's entry point
the way `vigie` does, then forks while a thread is inside gRPC: a registered handler says
"skipping fork() handlers" on such a fork."""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = """
import os, threading
import grpc

channel = grpc.insecure_channel("127.0.0.1:9")
stop = threading.Event()

def busy() -> None:
    while not stop.is_set():
        try:
            grpc.channel_ready_future(channel).result(timeout=0.001)
        except grpc.FutureTimeoutError:
            pass

t = threading.Thread(target=busy)
t.start()
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
stop.set()
t.join()
print("forked", os.environ.get("GRPC_ENABLE_FORK_SUPPORT"))
"""


def _forks(first: str) -> subprocess.CompletedProcess[str]:
    """CHILD in a fresh interpreter whose environment does not name the setting, after `first`."""
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    code = first + "\n" + CHILD
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_the_console_loads_with_grpcs_fork_handlers_off():
    res = _forks("import vigie.app.cli  # the console's entry point first, as `vigie` loads it")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "forked 0"
    assert "fork() handlers" not in res.stderr, res.stderr[-2000:]


def test_without_the_console_grpcs_fork_handlers_run():
    """The same forks with grpc loaded first (its default): the message the test above looks
    for shows, so its absence there means something."""
    res = _forks("pass")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "forked None"
    assert "skipping fork() handlers" in res.stderr
