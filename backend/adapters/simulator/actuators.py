"""How the simulated devices answer commands: they acknowledge (or refuse, or stay silent), then
change their state after a realistic delay and report it to the store like any other report.

Acknowledgements take 0.1-0.5 s; the new state follows after ~0.5-1 s for street lights, 1-2 s
for traffic signals, 3-6 s of travel for bollards (reported `raising`/`lowering` meanwhile),
~0.3 s for locks and badge lists, ~1 s for a camera to reach a preset. OFFLINE devices never
answer, FAULT devices refuse with their fault, devices in MAINTENANCE are under local control and
refuse. A seeded share `failure_rate` of the others fail: most refuse ("motor fault", ...), a
bollard may instead acknowledge and get stuck halfway (a FAULT it reports).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

from vigie.backend.adapters.base import DeviceAnswer, DeviceCommand, PtzAction, PtzCommand, PtzError
from vigie.backend.adapters.simulator.transit.feed import TRANSIT_ACTIONS
from vigie.backend.domain.actions import (
    MAX_BADGE_ENTRIES,
    Action,
    fits,
    format_badges,
    format_grants,
    parse_badges,
    parse_grants,
    target_attributes,
    unfit_reason,
)
from vigie.backend.domain.assets import Asset, Kind, Status

if TYPE_CHECKING:
    from vigie.backend.adapters.simulator.simulator import CitySimulator

ACK_S = (0.1, 0.5)
TRANSIT_ACT_S = (0.2, 0.6)  # a junction controller or a tram's onboard computer takes the instruction
ACT_S = {
    Kind.STREET_LIGHT: (0.5, 1.0),
    Kind.TRAFFIC_SIGNAL: (1.0, 2.0),
    Kind.BOLLARD: (3.0, 6.0),
    Kind.ACCESS_POINT: (0.2, 0.4),
    Kind.CAMERA: (0.8, 1.5),
    Kind.WATER_SENSOR: (0.3, 0.8),
}
REFUSALS = {
    Kind.STREET_LIGHT: ("lamp driver not answering", "circuit controller busy"),
    Kind.TRAFFIC_SIGNAL: ("controller refused: conflict monitor tripped", "junction controller busy"),
    Kind.BOLLARD: ("motor fault", "hydraulic pressure too low"),
    Kind.ACCESS_POINT: ("lock actuator jammed", "controller memory write failed"),
    Kind.CAMERA: ("PTZ motor fault", "PTZ head not answering"),
    Kind.WATER_SENSOR: ("sensor configuration locked", "telemetry unit busy"),
}


async def _never() -> DeviceAnswer:
    """An unreachable device: the message is lost, no answer ever comes."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


class Actuators:
    """The simulated city's answers to commands (one per CitySimulator; the loop's)."""

    def __init__(self, sim: CitySimulator, seed: int, failure_rate: float) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be in 0..1")
        self.sim = sim
        self.failure_rate = failure_rate
        self.rng = random.Random(seed * 7_919 + 101)
        # Devices an operator commanded: their spontaneous operation (doors locking on a schedule,
        # bollards cycling) stops, as it does when a control room takes a device over.
        self.controlled: set[str] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    def stop(self) -> None:
        """Drop the state changes still travelling (the simulation is over)."""
        for t in self._timers:
            t.cancel()
        self._timers.clear()

    async def command(self, cmd: DeviceCommand) -> DeviceAnswer:
        a = self.sim.device(cmd.asset_id)
        if a is None:
            return DeviceAnswer(False, f"unknown device {cmd.asset_id!r}")
        if not fits(cmd.action, a.kind):
            return DeviceAnswer(False, unfit_reason(cmd.action, a.kind))
        if a.status is Status.OFFLINE:
            return await _never()
        await asyncio.sleep(self.rng.uniform(*ACK_S))
        a = self.sim.device(cmd.asset_id)
        assert a is not None
        if a.status is Status.OFFLINE:
            return await _never()
        if a.status is Status.FAULT:
            return DeviceAnswer(False, f"device in fault: {a.status_reason or 'no detail'}")
        if a.status is Status.MAINTENANCE:
            return DeviceAnswer(False, f"device in maintenance ({a.status_reason}): under local control")
        problem = self._cannot(a, cmd)
        if problem:
            return DeviceAnswer(False, problem)
        if cmd.action in TRANSIT_ACTIONS:  # the transit feed answers for its vehicles and junctions
            return self._transit(a, cmd)
        jam = ""  # a bollard that will jam: where it stays stuck (where it was)
        if self.rng.random() < self.failure_rate:
            reason = self.rng.choice(REFUSALS[a.kind])
            if a.kind is not Kind.BOLLARD or reason != "motor fault":
                return DeviceAnswer(False, reason)
            jam = a.attributes.get("position", "raised")
        self.controlled.add(a.id)
        delay = self.rng.uniform(*ACT_S[a.kind])
        detail = "acknowledged"
        if a.kind is Kind.BOLLARD:
            goal = target_attributes(cmd.action, cmd.params)["position"]
            if a.attributes.get("position") != goal:
                moving = "raising" if goal == "raised" else "lowering"
                self.sim.update_device(
                    a.id, last_seen=time.time(), attributes=dict(a.attributes, position=moving)
                )
                detail = f"acknowledged: {moving} (about {delay:.0f} s)"
        self._later(delay, self._finish, cmd, jam)
        return DeviceAnswer(True, detail)

    def _transit(self, a: Asset, cmd: DeviceCommand) -> DeviceAnswer:
        feed = self.sim.transit
        if feed is None:
            return DeviceAnswer(False, "no transit network in this city")
        problem = feed.check(cmd.action, a, cmd.params)
        if problem:
            return DeviceAnswer(False, problem)
        self._later(self.rng.uniform(*TRANSIT_ACT_S), self._finish_transit, cmd)
        return DeviceAnswer(True, "acknowledged")

    def _finish_transit(self, cmd: DeviceCommand) -> None:
        feed, a = self.sim.transit, self.sim.device(cmd.asset_id)
        if feed is None or a is None or a.status in (Status.OFFLINE, Status.FAULT, Status.MAINTENANCE):
            return
        done, _detail, attrs = feed.apply(cmd.action, a.id, cmd.params)
        if done:
            self.sim.transit_report(a.id, attrs)

    def _cannot(self, a: Asset, cmd: DeviceCommand) -> str:
        """What the device itself refuses, whatever its health ("" when it can do it)."""
        attrs, badge = a.attributes, cmd.params.badge_id
        if cmd.action is Action.BADGE_DEACTIVATE:
            off = parse_badges(attrs.get("badges_deactivated", ""))
            if badge not in off and len(off) >= MAX_BADGE_ENTRIES:
                return f"badge list full ({MAX_BADGE_ENTRIES} deactivated badges)"
        elif cmd.action is Action.BADGE_GRANT_TEMPORARY:
            if badge in parse_badges(attrs.get("badges_deactivated", "")):
                return f"badge {badge} is deactivated on this access point"
            grants = _live(parse_grants(attrs.get("temporary_access", "")))
            if badge not in grants and len(grants) >= MAX_BADGE_ENTRIES:
                return f"temporary access list full ({MAX_BADGE_ENTRIES} badges)"
        elif cmd.action is Action.CAMERA_GOTO_PRESET:
            head = self.sim.ptz_head(a.id)
            if head is None:
                return "fixed camera: no PTZ"
            numbers = [p.number for p in head.presets]
            if cmd.params.preset not in numbers:
                return f"unknown preset {cmd.params.preset}; this camera has {', '.join(map(str, numbers))}"
        return ""

    def _finish(self, cmd: DeviceCommand, jam: str) -> None:
        """The device has done it (or jammed): report the new state."""
        a = self.sim.device(cmd.asset_id)
        if a is None or a.status in (Status.OFFLINE, Status.FAULT, Status.MAINTENANCE):
            return  # it went down meanwhile: no new state (the command times out)
        now = time.time()
        attrs = dict(a.attributes)
        if jam:
            attrs["position"] = jam
            self.sim.fault_device(a.id, f"bollard stuck in {jam} position", attrs)
            return
        if cmd.action is Action.BADGE_DEACTIVATE:
            off = parse_badges(attrs.get("badges_deactivated", ""))
            if cmd.params.badge_id not in off:
                off.append(cmd.params.badge_id)
            grants = _live(parse_grants(attrs.get("temporary_access", "")))
            grants.pop(cmd.params.badge_id, None)
            attrs["badges_deactivated"] = format_badges(off)
            attrs["temporary_access"] = format_grants(grants)
        elif cmd.action is Action.BADGE_GRANT_TEMPORARY:
            grants = _live(parse_grants(attrs.get("temporary_access", "")))
            grants[cmd.params.badge_id] = float(int(cmd.params.until))
            attrs["temporary_access"] = format_grants(grants)
        else:
            if cmd.action is Action.CAMERA_GOTO_PRESET:
                head = self.sim.ptz_head(a.id)
                if head is None:
                    return
                try:
                    head.apply(PtzCommand(PtzAction.GOTO_PRESET, preset=cmd.params.preset))
                except PtzError:
                    return
            attrs.update(target_attributes(cmd.action, cmd.params))
        self.sim.update_device(a.id, last_seen=now, attributes=attrs)

    def _later(self, delay: float, fn, *args) -> None:
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._timers.discard(handle)
            fn(*args)

        handle = loop.call_later(delay, run)
        self._timers.add(handle)


def _live(grants: dict[str, float]) -> dict[str, float]:
    """The grants not yet expired (a device forgets the others)."""
    now = time.time()
    return {b: t for b, t in grants.items() if t > now}
