"""Carries accepted commands to the devices and follows each target to its end.

Per target: send through the device network; no answer within `ack_timeout_s` -> TIMED_OUT; a
refusal -> FAILED; an acknowledgement -> ACKNOWLEDGED, then wait for the store: CONFIRMED only when
a state the device published after the command was sent shows the change (actions.shows), FAILED
when the device reports a new fault instead, TIMED_OUT when nothing shows it within the action's
deadline. One task follows the store for every waiting target. Every acknowledgement, refusal or
silence leaves one "command.device_ack" audit record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from vigie.backend.adapters.base import DeviceCommand, DeviceNetwork
from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.actions import Action, Params, describe, shows
from vigie.backend.domain.assets import Asset, Status
from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.domain.commands import Command, Stage
from vigie.backend.domain.revlog import AssetStore, HistoryExpired

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
# How long the new state may take to show after the acknowledgement (device travel + margin).
STATE_TIMEOUT_S = {
    Action.LIGHT_ON: 5.0,
    Action.LIGHT_OFF: 5.0,
    Action.LIGHT_DIM: 5.0,
    Action.SIGNAL_FLASHING: 8.0,
    Action.SIGNAL_NORMAL: 8.0,
    Action.SIGNAL_BUS_PRIORITY_ON: 8.0,
    Action.SIGNAL_BUS_PRIORITY_OFF: 8.0,
    Action.BOLLARD_RAISE: 15.0,
    Action.BOLLARD_LOWER: 15.0,
    Action.ACCESS_LOCK: 5.0,
    Action.ACCESS_UNLOCK: 5.0,
    Action.BADGE_DEACTIVATE: 5.0,
    Action.BADGE_GRANT_TEMPORARY: 5.0,
    Action.CAMERA_GOTO_PRESET: 8.0,
    Action.SENSOR_LOW_PRESSURE_THRESHOLD: 5.0,
    Action.TSP_CONFIGURE: 8.0,
    Action.TRAM_HOLD: 8.0,
    Action.TRAM_RELEASE: 8.0,
    Action.TRAM_SKIP_STATION: 8.0,
}


@dataclass(eq=False, slots=True)
class _Waiter:
    """A target waiting for its device's new state."""

    action: Action
    params: Params
    sent_revision: int  # only states published after the command was sent count
    faulty_before: bool
    result: asyncio.Future  # (Stage, detail)

    def offer(self, a: Asset) -> None:
        if self.result.done() or a.revision <= self.sent_revision:
            return
        if shows(self.action, self.params, a):
            self.result.set_result((Stage.CONFIRMED, describe(self.action, self.params)))
        elif a.status is Status.FAULT and not self.faulty_before:
            self.result.set_result(
                (Stage.FAILED, f"device reported a fault: {a.status_reason or 'no detail'}")
            )


class CommandDispatcher:
    def __init__(
        self,
        store: AssetStore,
        network: DeviceNetwork,
        audit: AuditSink,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        state_timeout_s: float | None = None,
    ) -> None:
        """`state_timeout_s` replaces every per-action state deadline (tests)."""
        self.store = store
        self.network = network
        self.audit = audit
        self.ack_timeout_s = ack_timeout_s
        self.state_timeout_s = state_timeout_s
        self._waiting: dict[str, set[_Waiter]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._follower: asyncio.Task | None = None

    async def start(self) -> None:
        self._follower = asyncio.get_running_loop().create_task(self._follow(), name="commands-follow-store")

    async def stop(self) -> None:
        """Abandon the targets still in progress (the backend is stopping)."""
        tasks = [t for t in (self._follower, *self._tasks) if t is not None]
        self._follower = None
        await cancel_and_wait(*tasks)

    async def dispatch(self, command: Command) -> None:
        """Hand every ACCEPTED target over; returns once they are on their way."""
        loop = asyncio.get_running_loop()
        for t in command.targets:
            if t.stage is Stage.ACCEPTED:
                task = loop.create_task(self._run(command, t.asset_id), name=f"{command.id}:{t.asset_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _run(self, command: Command, asset_id: str) -> None:
        try:
            await self._follow_target(command, asset_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not leave the target hanging forever
            log.exception("command %s on %s failed", command.id, asset_id)
            if command.stage(asset_id) in (Stage.ACCEPTED, Stage.ACKNOWLEDGED):
                command.advance(asset_id, Stage.FAILED, f"internal error: {exc}")

    async def _follow_target(self, command: Command, asset_id: str) -> None:
        sent_revision = self.store.revision
        # Faulty already when sent (a fault reported between sending and the acknowledgement is
        # the command's failure, not an old state).
        initial = self.store.get(asset_id)
        faulty_before = initial is not None and initial.status is Status.FAULT
        msg = DeviceCommand(command.id, asset_id, command.action, command.params)
        try:
            async with asyncio.timeout(self.ack_timeout_s):
                answer = await self.network.command(msg)
        except TimeoutError:
            detail = f"no acknowledgement within {self.ack_timeout_s:g} s (device offline or not answering)"
            self._ack_record(command, asset_id, "failed", detail)
            command.advance(asset_id, Stage.TIMED_OUT, detail)
            return
        except Exception as exc:
            log.exception("device network failed to send %s to %s", command.id, asset_id)
            detail = f"device network error: {exc}"
            self._ack_record(command, asset_id, "failed", detail)
            command.advance(asset_id, Stage.FAILED, detail)
            return
        if not answer.ok:
            detail = answer.detail or "refused"
            self._ack_record(command, asset_id, "failed", detail)
            command.advance(asset_id, Stage.FAILED, detail)
            return
        self._ack_record(command, asset_id, "ok", answer.detail or "acknowledged")
        command.advance(asset_id, Stage.ACKNOWLEDGED, answer.detail or "acknowledged")

        before = self.store.get(asset_id)
        waiter = _Waiter(
            command.action,
            command.params,
            sent_revision,
            faulty_before,
            asyncio.get_running_loop().create_future(),
        )
        if before is not None:
            waiter.offer(before)  # it may already have reported (fast devices)
        self._waiting.setdefault(asset_id, set()).add(waiter)
        timeout = self.state_timeout_s or STATE_TIMEOUT_S[command.action]
        try:
            async with asyncio.timeout(timeout):
                stage, detail = await waiter.result
        except TimeoutError:
            stage = Stage.TIMED_OUT
            detail = f"acknowledged, but the device reported no new state within {timeout:g} s"
        finally:
            waiters = self._waiting.get(asset_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiting[asset_id]
        command.advance(asset_id, stage, detail)

    async def _follow(self) -> None:
        """Offer every published state of a watched device to its waiters."""
        seen = self.store.revision
        while True:
            await self.store.wait_for_change(seen, 5.0)
            now = self.store.revision
            if not self._waiting:
                seen = now
                continue
            try:
                changes = self.store.changes_after(seen)
            except HistoryExpired:  # fell behind the log: the current states will do
                changes = [a for a in map(self.store.get, list(self._waiting)) if a is not None]
            seen = now
            for a in changes:
                waiters = self._waiting.get(a.id)
                if waiters:
                    for w in list(waiters):
                        w.offer(a)

    def _ack_record(self, command: Command, asset_id: str, result: str, detail: str) -> None:
        self.audit.record(
            AuditEntry(
                user=command.user,
                console=command.console,
                action="command.device_ack",
                target=asset_id,
                reason=command.request.reason,
                result=result,
                detail=f"{command.id}: {detail}",
                time=time.time(),
            )
        )
