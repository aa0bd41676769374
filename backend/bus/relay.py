"""Requests that only the leader applies, from any replica: over NATS request/reply on a subject
of `vigie-leader.>`, answered by the replica that leads (it subscribes while it does). A replica
that leads applies its own requests directly. While none leads, a request finds no responder and
is refused with `unavailable` ("no leader replica at the moment"), and nothing is done. Shared by
the alarm actions (backend/bus/alarm_relay.py) and the city modes (backend/bus/modes.py)."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

NO_LEADER = "no leader replica at the moment (one is being elected): try again"


class LeaderRelay:
    """Subclasses give `handle(request) -> answer` (JSON objects), run on the leader."""

    def __init__(self, nc: Client, subject: str, unavailable: type[Exception], timeout_s: float) -> None:
        self.nc = nc
        self.subject = subject
        self.unavailable = unavailable
        self.timeout_s = timeout_s
        self.serving = False
        self._sub: Subscription | None = None

    async def serve(self) -> None:
        """This replica leads: it answers the cluster's requests."""
        self.serving = True
        self._sub = await self.nc.subscribe(self.subject, cb=self._answer)

    async def stop_serving(self) -> None:
        self.serving = False
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except nats.errors.Error as exc:
                log.warning("%s: unsubscribe failed: %r", self.subject, exc)

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """The leader's answer (this replica's own when it leads); `unavailable` when none leads
        or it did not answer in time."""
        if self.serving:
            return await self.handle(request)
        try:
            reply = await self.nc.request(self.subject, json.dumps(request).encode(), timeout=self.timeout_s)
        except nats.errors.NoRespondersError as exc:
            raise self.unavailable(NO_LEADER) from exc
        except nats.errors.TimeoutError as exc:
            raise self.unavailable("the leader replica did not answer in time: try again") from exc
        answer = json.loads(reply.data)
        if not isinstance(answer, dict):
            raise self.unavailable(f"the leader replica answered {str(answer)[:100]!r}")
        return answer

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def _answer(self, msg: Msg) -> None:
        try:
            request = json.loads(msg.data)
            if not isinstance(request, dict):
                answer: dict[str, Any] = {"error": "invalid", "detail": "not an object"}
            elif not self.serving:
                answer = {"error": "no-leader", "detail": NO_LEADER}
            else:
                answer = await self.handle(request)
        except json.JSONDecodeError as exc:
            answer = {"error": "invalid", "detail": f"not JSON: {exc}"}
        with contextlib.suppress(nats.errors.Error):
            await msg.respond(json.dumps(answer).encode())
