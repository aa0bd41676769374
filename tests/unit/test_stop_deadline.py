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


HANGS_ON_AN_AWAIT = """
import asyncio, logging
from vigie.backend.cli import arm_stop_deadline

async def never_set(event):  # a stop step waiting on an event nobody sets, the loop idle
    await event.wait()

async def stop_step(event):
    await never_set(event)

async def main():
    event = asyncio.Event()
    asyncio.get_running_loop().create_task(stop_step(event), name="hung-stop-step")
    arm_stop_deadline(4.0)
    await asyncio.sleep(3600)

logging.basicConfig(level=logging.INFO)
asyncio.run(main())
"""


def test_a_hang_on_an_await_leaves_each_tasks_await_chain_in_the_log():
    proc = subprocess.run(
        [sys.executable, "-c", HANGS_ON_AN_AWAIT], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "still stopping 1 s after being asked" in proc.stderr
    dump = proc.stderr.split("still stopping", 1)[1].split("Timeout (0:00:04)!", 1)[0]
    hung = dump.split("- task hung-stop-step", 1)[1]
    # the chain from the task's coroutine down to the future it waits on, in order
    assert hung.index("in stop_step") < hung.index("in never_set") < hung.index("in wait")
    assert "waiting on <Future pending" in hung
    assert "- task Task-1" in dump  # the main task too, asleep
