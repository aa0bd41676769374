"""Audit records for refused calls, of fixed size and aggregated per peer, so that callers
without a token cannot fill the disk through the audit trail.

The first refusal of a kind (peer host, user, action, status and reason) within a window is
recorded at once, with at most MAX_IDS of its ids (each cut to ID_CHARS) and its reason cut to
REASON_CHARS; the next ones of that kind in the window are only counted, and one summary record
(the count and a few of their ids) is written when the window ends. At most MAX_KINDS kinds are
tracked per window; refusals beyond that share one bucket. So a flood writes at most two small
records per kind and window, whatever the size or number of its requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.audit import AuditEntry, AuditSink, join_targets

WINDOW_S = 60.0
MAX_IDS = 3
ID_CHARS = 64
REASON_CHARS = 100
DETAIL_CHARS = 200
PEER_CHARS = 64
MAX_KINDS = 1024
OTHER_PEERS = "(other peers)"


def peer_host(peer: str) -> str:
    """ "ipv4:127.0.0.1:5000" -> "ipv4:127.0.0.1" (a new connection must not make a new peer)."""
    if peer.startswith(("ipv4:", "ipv6:")):
        peer = peer.rsplit(":", 1)[0]
    return peer[:PEER_CHARS]


@dataclass(slots=True)
class _Tally:
    user: str
    console: str
    started: float
    count: int = 0  # refusals after the first, not yet written
    ids: list[str] = field(default_factory=list)


class RefusalAudit:
    """Aggregates refused calls into records of `sink`. Use from the asyncio loop only."""

    def __init__(
        self, sink: AuditSink, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sink = sink
        self.window_s = window_s
        self.clock = clock
        self._tallies: dict[tuple[str, str, str, str], _Tally] = {}
        self._task: asyncio.Task | None = None

    def refused(
        self, peer: str, user: str, console: str, action: str, ids: Sequence[str], reason: str, detail: str
    ) -> None:
        """One refused call: recorded at once if it is the first of its kind in the window."""
        host = peer_host(peer)
        detail = detail[:DETAIL_CHARS]
        key = (host, user, action, detail)
        tally = self._tallies.get(key)
        if tally is None and len(self._tallies) >= MAX_KINDS:
            key = (OTHER_PEERS, "", action, "")
            tally = self._tallies.get(key)
            if tally is None:  # the shared bucket writes only its summary
                tally = self._tallies[key] = _Tally("", "", self.clock())
        if tally is None:
            self._tallies[key] = _Tally(user, console, self.clock())
            self.sink.record(
                AuditEntry(
                    user=user,
                    console=console,
                    action=action,
                    target=join_targets(list(ids[:MAX_IDS]), MAX_IDS, ID_CHARS)
                    + (f",… ({len(ids)} ids)" if len(ids) > MAX_IDS else ""),
                    reason=reason[:REASON_CHARS],
                    result="denied",
                    detail=detail,
                )
            )
            return
        tally.count += 1
        for i in ids[: MAX_IDS - len(tally.ids)]:
            tally.ids.append(i[:ID_CHARS])

    def flush(self, everything: bool = False) -> None:
        """Write the summary of every window that ended (all of them: `everything`)."""
        now = self.clock()
        for key, tally in list(self._tallies.items()):
            if everything or now - tally.started >= self.window_s:
                del self._tallies[key]
                if tally.count:
                    self._summary(key, tally)

    def _summary(self, key: tuple[str, str, str, str], tally: _Tally) -> None:
        host, user, action, detail = key
        self.sink.record(
            AuditEntry(
                user=user,
                console=tally.console,
                action=action,
                target=",".join(tally.ids),
                reason="",
                result="denied",
                detail=f"{detail} ({tally.count} more refused calls from {host} within"
                f" {self.window_s:g} s)".lstrip(),
            )
        )

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="refusal-audit")

    async def stop(self) -> None:
        """Stop the timer and write the summaries of the windows still open."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        self.flush(everything=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(min(max(self.window_s / 10, 0.05), 5.0))
            self.flush()
