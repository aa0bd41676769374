"""A backend asked to stop is gone within its stop deadline, whatever hangs, and leaves every
thread's stack in its log (backend/cli.py arm_stop_deadline)."""

from __future__ import annotations

import subprocess
import sys

HANGS_AFTER_ARMING = """
import threading
from vigie.backend.cli import arm_stop_deadline

def stuck():  # a worker that never returns, like a hung shutdown step
    threading.Event().wait()

worker = threading.Thread(target=stuck, name="stuck-worker")  # not a daemon: exit would wait
worker.start()
arm_stop_deadline(1.0)
worker.join()
"""


def test_a_hung_stop_ends_with_the_stacks_in_the_log():
    proc = subprocess.run(
        [sys.executable, "-c", HANGS_AFTER_ARMING], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "Timeout (0:00:01)!" in proc.stderr
    assert "in stuck" in proc.stderr  # the hung thread's stack, to find the cause
