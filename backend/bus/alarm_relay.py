"""Where alarm writes go on the bus: to the leader's engine, and nowhere else.

* Operator actions (acknowledge, shelve, unshelve) given to any replica are sent to the leader
  over NATS request/reply (`vigie-leader.alarms`), applied there by its engine, and answered once
  the asking replica's own view (backend/bus/alarms.py) has the change: a console sees its
  acknowledgement in its WatchAlarms before the call returns. While no replica leads they are
  refused (`EngineUnavailable`, UNAVAILABLE to the console), and nothing is done.
* The engine's other writers (system alarms, city modes, access control, the city's incidents)
  get `LeaderOnlyAlarms`: on the leader it is the engine; elsewhere their raises and clears are
  not applied (the leader's own writers raise the cluster's alarms), and reads come from the view.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client

from vigie.backend.bus.alarms import AlarmView
from vigie.backend.bus.relay import NO_LEADER, LeaderRelay
from vigie.backend.domain.alarms import Alarm, AlarmClosed, AlarmEngine, EngineUnavailable, UnknownAlarm

log = logging.getLogger(__name__)

SUBJECT = "vigie-leader.alarms"
REQUEST_TIMEOUT_S = 8.0
SEEN_TIMEOUT_S = 5.0  # how long the asking replica waits for its view to show the change


class AlarmRelay(LeaderRelay):
    """Operator actions, applied by the leader's engine (see the module). `engine` is set while
    this replica leads with an engine restored from the view."""

    def __init__(
        self, nc: Client, view: AlarmView, journal: Callable[[list[str]], Awaitable[dict[str, Alarm]]]
    ) -> None:
        """`journal(ids)`: this replica's closed alarms by id (an acknowledgement may close some)."""
        super().__init__(nc, SUBJECT, EngineUnavailable, REQUEST_TIMEOUT_S)
        self.view = view
        self.journal = journal
        self.engine: AlarmEngine | None = None
        self.applied = 0  # actions this replica's engine applied (as the leader)

    async def serve(self, engine: AlarmEngine) -> None:  # type: ignore[override]
        """This replica leads: its engine applies the cluster's operator actions."""
        self.engine = engine
        await super().serve()

    async def stop_serving(self) -> None:
        self.engine = None
        await super().stop_serving()

    # --- what AlarmService calls ----------------------------------------------------------------------

    async def acknowledge(self, ids: list[str], operator: str, comment: str, now: float) -> list[Alarm]:
        return await self._call({"op": "acknowledge", "ids": ids, "operator": operator, "comment": comment})

    async def shelve(
        self, ids: list[str], duration_s: float, reason: str, operator: str, now: float
    ) -> list[Alarm]:
        return await self._call(
            {"op": "shelve", "ids": ids, "duration": duration_s, "reason": reason, "operator": operator}
        )

    async def unshelve(self, ids: list[str], operator: str, now: float) -> list[Alarm]:
        return await self._call({"op": "unshelve", "ids": ids, "operator": operator})

    async def _call(self, request: dict[str, Any]) -> list[Alarm]:
        answer = await self.ask(request)
        error = answer.get("error")
        if error == "unknown":
            raise UnknownAlarm(list(answer["ids"]))
        if error == "closed":
            raise AlarmClosed(str(answer["detail"]))
        if error == "invalid":
            raise ValueError(str(answer["detail"]))
        if error:
            raise EngineUnavailable(str(answer.get("detail") or error))
        if not await self.view.wait_for_change_number(int(answer["change"]), SEEN_TIMEOUT_S):
            raise EngineUnavailable(
                "the leader applied it but the bus has not confirmed it in time (it may be electing a"
                " new leader): check the alarm before trying again"
            )
        # As this replica's consoles see them (the answer carries no alarm: thousands of them
        # would not fit in a NATS message): open ones from the view, closed ones from the journal
        # it feeds.
        ids = list(dict.fromkeys(str(i) for i in request["ids"]))
        found = {i: a for i in ids if (a := self.view.get(i)) is not None}
        missing = [i for i in ids if i not in found]
        if missing:
            found.update(await self.journal(missing))
        lost = [i for i in ids if i not in found]
        if lost:
            raise EngineUnavailable(f"alarms changed but not found here: {', '.join(lost[:20])}")
        return [found[i] for i in ids]

    # --- on the leader --------------------------------------------------------------------------------

    def _apply(self, r: dict[str, Any]) -> dict[str, Any]:
        engine = self.engine
        if engine is None:
            return {"error": "no-leader", "detail": NO_LEADER}
        now = time.time()
        try:
            ids = [str(i) for i in r["ids"]]
            op = r["op"]
            if op == "acknowledge":
                done = engine.acknowledge(ids, str(r["operator"]), str(r["comment"]), now)
            elif op == "shelve":
                done = engine.shelve(ids, float(r["duration"]), str(r["reason"]), str(r["operator"]), now)
            elif op == "unshelve":
                done = engine.unshelve(ids, str(r["operator"]), now)
            else:
                return {"error": "invalid", "detail": f"unknown operation {op!r}"}
        except UnknownAlarm as exc:
            return {"error": "unknown", "ids": exc.ids[:1000]}  # a bounded answer
        except AlarmClosed as exc:
            return {"error": "closed", "detail": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"error": "invalid", "detail": str(exc)}
        self.applied += 1
        return {"change": engine.sequence, "changed": len(done)}

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._apply(request)


class LeaderOnlyAlarms:
    """The alarm engine as the writers other than its sources see it on a replica (see the
    module): writes reach the engine only while `leading()`; reads come from the engine there,
    from the view elsewhere."""

    WRITES = (
        "raise_alarm",
        "clear",
        "acknowledge",
        "shelve",
        "unshelve",
        "set_suppressed",
        "suppress_by_design",
        "lift_by_design",
        "set_out_of_service",
        "expire_shelves",
    )

    def __init__(self, engine: AlarmEngine, view: AlarmView, leading: Callable[[], bool]) -> None:
        self._engine = engine
        self._view = view
        self._leading = leading
        self.skipped = 0  # writes not applied: this replica did not lead
        self._warned = 0.0

    def __getattr__(self, name: str) -> Any:
        if name in self.WRITES:
            if self._leading():
                return getattr(self._engine, name)
            return self._skip(name)
        return getattr(self._engine if self._leading() else self._view, name)

    def _skip(self, name: str) -> Callable[..., Any]:
        def skipped(*args: Any, **kwargs: Any) -> Any:
            self.skipped += 1
            now = time.monotonic()
            if now - self._warned > 60.0:
                self._warned = now
                log.info(
                    "alarm %s not applied here: this replica does not lead (the leader's engine raises"
                    " the cluster's alarms; %d such writes so far)",
                    name,
                    self.skipped,
                )
            return None if name in ("raise_alarm", "clear") else []

        return skipped
