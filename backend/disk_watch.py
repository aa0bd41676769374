"""Watches the free space of the data directory's file system, so a filling disk is reported
(a system alarm, NOT_SERVING health for `vigie.backend.disk`) before any write fails.

`os.statvfs` runs in an executor (a slow or hung network file system never stalls the loop). The
trouble starts below `min_free_bytes` and ends above it plus a margin (5 % of the threshold, at
least 1 MiB), so a disk hovering at the threshold does not raise an alarm per check."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

from vigie.backend.cancel import cancel_and_wait

log = logging.getLogger(__name__)

MIB = 1024 * 1024


def free_bytes(path: str) -> int:
    """Bytes an unprivileged process may still write under `path`."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class DiskWatcher:
    """Every `interval_s`, compares the free space under `path` with `min_free_bytes` and calls
    `report(problem)` when that changes (`problem` None: enough space again)."""

    def __init__(
        self,
        path: str,
        min_free_bytes: int,
        report: Callable[[str | None], None],
        interval_s: float = 10.0,
    ) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self.report = report
        self.interval_s = interval_s
        self.margin = max(min_free_bytes // 20, MIB)
        self.low = False
        self._task: asyncio.Task | None = None

    async def check(self) -> None:
        """One measurement (also the first, made before the backend serves)."""
        try:
            free = await asyncio.get_running_loop().run_in_executor(None, free_bytes, self.path)
        except OSError as exc:
            self.low = True
            self.report(f"cannot read the free space of {self.path}: {exc}")
            return
        limit = self.min_free_bytes + (self.margin if self.low else 0)
        low = free < limit
        if low:
            self.report(
                f"free disk space for {self.path} is {free / MIB:.0f} MiB, below"
                f" {self.min_free_bytes / MIB:.0f} MiB (--min-free-mb): free space before alarms"
                " and the audit trail can no longer be saved"
            )
        elif self.low:
            self.report(None)
        self.low = low

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="disk-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:  # one failed check must not end the watch
                log.exception("disk space check failed")
