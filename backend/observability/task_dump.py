"""Where every asyncio task of a loop is waiting, as text for the log.

faulthandler's thread stacks show an idle loop as `select` and nothing more: a stop that hangs on
an awaited coroutine (a stream handler that never ends, an event never set) needs the tasks' await
chains. `Task.get_stack` gives only a task's outermost frame, so this walks `cr_await` down to the
future at the bottom (asyncio.format_call_graph does it from Python 3.14 on)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

MAX_DEPTH = 64  # an await chain deeper than this is cut (a recursion would never end)
MAX_TASKS = 500  # a dump of more tasks says how many it left out


def await_chain(awaitable: Any, leaf: Any = None) -> list[str]:
    """'file:line in function' for each coroutine down the chain, then what it waits on: `leaf`
    if given (a task's future; the chain itself ends in an opaque FutureIter)."""
    lines: list[str] = []
    current = awaitable
    for _ in range(MAX_DEPTH):
        frame, nxt = _frame_and_next(current)
        if frame is None and nxt is None:
            if leaf is not None:
                lines.append(f"waiting on {_short(leaf)}")
            elif current is not None and current is not awaitable:
                lines.append(f"waiting on {_short(current)}")
            break
        if frame is not None:
            code = frame.f_code
            lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        current = nxt
        if current is None:
            if leaf is not None:
                lines.append(f"waiting on {_short(leaf)}")
            break
    else:
        lines.append("(chain cut)")
    return lines


def _frame_and_next(obj: Any) -> tuple[types.FrameType | None, Any]:
    if isinstance(obj, types.CoroutineType):
        return obj.cr_frame, obj.cr_await
    if isinstance(obj, types.GeneratorType):
        return obj.gi_frame, obj.gi_yieldfrom
    if isinstance(obj, types.AsyncGeneratorType):
        return obj.ag_frame, obj.ag_await
    frame = getattr(obj, "cr_frame", None)  # Cython coroutines (grpc's) look like coroutines
    if frame is not None or hasattr(obj, "cr_await"):
        return frame, getattr(obj, "cr_await", None)
    return None, None


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 300 else text[:297] + "..."


def format_tasks(loop: asyncio.AbstractEventLoop) -> str:
    """Every pending task of `loop` with its await chain; call it on the loop's own thread."""
    tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
    out = [f"{len(tasks)} asyncio tasks pending:"]
    for task in tasks[:MAX_TASKS]:
        out.append(f"- task {task.get_name()}{' (cancelling)' if task.cancelling() else ''}")
        out.extend(f"    {line}" for line in await_chain(task.get_coro(), getattr(task, "_fut_waiter", None)))
    if len(tasks) > MAX_TASKS:
        out.append(f"... and {len(tasks) - MAX_TASKS} more")
    return "\n".join(out)
