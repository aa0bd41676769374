"""A signalised junction: its fixed-time two-phase plan, and the priority request server that
bends that plan for transit (NTCIP 1211's PRS) or gives way to emergency preemption.

Phase A serves the east-west approaches, phase B the north-south ones (an approach's phase is the
axis of the street it arrives on). The plan's clock runs through one cycle:

    A green [0, gA) | intergreen | B green | intergreen      (cycle_s in all; amber counts as red)

Priority acts on that clock: a *green extension* holds it at the end of the vehicle's green (the
cross street's red lasts longer by that much), an *early green* jumps it forward through the
cross street's green (its green is cut by that much). What either adds to the cross street, per
red period, never exceeds `max_cross_wait_s`; no new grant within `inhibit_s` of the last one.
Preemption forces one phase green and holds it, whatever the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigie.backend.domain.transit import DEFAULT_RULES, Strategy, TspRules, VehicleClass

MIN_GREEN_S = 6.0  # the cross street keeps at least this much of its green when cut short


@dataclass(frozen=True, slots=True)
class Plan:
    cycle_s: int
    green_a_s: int
    green_b_s: int
    offset_s: int
    intergreen_s: int = 4

    @property
    def b_start(self) -> float:
        return float(self.green_a_s + self.intergreen_s)

    def green_window(self, phase: str) -> tuple[float, float]:
        """[start, end) of the phase's green on the cycle clock."""
        if phase == "A":
            return 0.0, float(self.green_a_s)
        return self.b_start, self.b_start + self.green_b_s

    def is_green(self, phase: str, clock: float) -> bool:
        s, e = self.green_window(phase)
        return s <= clock % self.cycle_s < e

    def wait_at(self, phase: str, clock: float) -> float:
        """Seconds of red left for `phase` at cycle clock `clock` (0 when green)."""
        c = clock % self.cycle_s
        s, e = self.green_window(phase)
        if s <= c < e:
            return 0.0
        return (s - c) % self.cycle_s


@dataclass(slots=True)
class Decision:
    granted: bool
    strategy: Strategy = Strategy.NONE
    reason: str = ""
    cross_delay_s: float = 0.0  # what the grant adds to the cross street
    needed: bool = True  # False: green anyway on arrival, nothing to do


@dataclass(slots=True)
class Junction:
    id: str
    name: str
    lat: float
    lon: float
    plan: Plan
    rules: TspRules = DEFAULT_RULES
    enabled: bool = False
    line_ids: list[str] = field(default_factory=list)
    clock: float = 0.0
    last_grant: float | None = None
    # An active green extension: the phase held, and until when (simulation seconds).
    hold_phase: str = ""
    hold_until: float = 0.0
    hold_vehicle: str = ""
    # Emergency preemption: the phase forced green, until when.
    preempt_phase: str = ""
    preempt_until: float = 0.0
    # What priority added to each phase's current red (reset when that phase turns green).
    added: dict[str, float] = field(default_factory=lambda: {"A": 0.0, "B": 0.0})
    # Measured phase timeline: each phase's green and red periods as they really happened.
    timeline: list[tuple[str, bool, float, float]] | None = None  # (phase, green, start, end)
    _state: dict[str, tuple[bool, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = float(self.plan.offset_s % self.plan.cycle_s)

    def is_green(self, phase: str) -> bool:
        if self.preempt_phase:
            return phase == self.preempt_phase
        return self.plan.is_green(phase, self.clock)

    def step(self, now: float, dt: float) -> None:
        """Advance the clock by dt, holding it for an extension or a preemption."""
        p = self.plan
        if self.preempt_phase and now >= self.preempt_until:
            self.preempt_phase = ""
        if self.preempt_phase:
            s, _ = p.green_window(self.preempt_phase)
            self.clock = s + 1.0  # held in the forced green; the normal cycle resumes from there
        elif self.hold_phase and now < self.hold_until and p.is_green(self.hold_phase, self.clock):
            _, e = p.green_window(self.hold_phase)
            nxt = self.clock + dt
            if nxt >= e:  # the green would end: held, and the cross street's red grows as much
                self.added[_other(self.hold_phase)] += nxt - (e - 0.001)
                self.clock = e - 0.001
            else:
                self.clock = nxt
        else:
            self.hold_phase = ""
            self.clock = (self.clock + dt) % p.cycle_s
        self._record(now + dt)

    def _record(self, now: float) -> None:
        for phase in ("A", "B"):
            g = self.is_green(phase)
            prev = self._state.get(phase)
            if prev is None:
                self._state[phase] = (g, now)
                continue
            if prev[0] != g:
                if self.timeline is not None:
                    self.timeline.append((phase, prev[0], prev[1], now))
                self._state[phase] = (g, now)
                if g:
                    self.added[phase] = 0.0

    # --- the request server -------------------------------------------------------------------

    def decide(
        self,
        now: float,
        vehicle_id: str,
        phase: str,
        eta_s: float,
        line: str,
        cls: VehicleClass,
        lateness_s: float,
    ) -> Decision:
        """A checked-in vehicle's request, judged by the rules (the caller logs the answer)."""
        r = self.rules
        if not r.allows_class(cls):
            return Decision(False, reason=f"class {cls.value} not allowed here")
        if not r.allows_line(line):
            return Decision(False, reason=f"line {line} not allowed here")
        threshold = r.threshold_s(cls)
        if threshold > 0 and lateness_s <= threshold:
            return Decision(False, reason=f"not late enough ({lateness_s:.0f} s, threshold {threshold} s)")
        if self.preempt_phase:
            return Decision(False, reason="emergency preemption in progress")
        p = self.plan
        arrival = self.clock + eta_s
        if p.is_green(phase, arrival):
            return Decision(True, needed=False, reason="green on arrival")
        if self.last_grant is not None and now - self.last_grant < r.inhibit_s:
            return Decision(False, reason=f"inhibit: {now - self.last_grant:.0f} s since the last grant")
        budget = r.max_cross_wait_s - self.added[_other(phase)]
        if self.is_green(phase):
            _, e = p.green_window(phase)
            need = (arrival - e) % p.cycle_s + 2.0  # past the end of green, with a margin
            ext = min(need, r.max_extension_s)
            if need > r.max_extension_s:
                return Decision(False, reason=f"extension needed {need:.0f} s > max {r.max_extension_s} s")
            if ext > budget:
                return Decision(False, reason=f"cross street at its max wait ({r.max_cross_wait_s} s)")
            # Held from the green's normal end for `ext` more seconds (or until the vehicle clears).
            end_in = e - self.clock % p.cycle_s
            self.hold_phase, self.hold_until, self.hold_vehicle = phase, now + end_in + ext, vehicle_id
            self.last_grant = now
            return Decision(True, Strategy.GREEN_EXTENSION, cross_delay_s=ext)
        if not r.early_green:
            return Decision(False, reason="early green not allowed here")
        other = _other(phase)
        if not self.plan.is_green(other, self.clock):
            return Decision(False, reason="in intergreen: too late to cut")
        s_o, e_o = p.green_window(other)
        left = e_o - self.clock % p.cycle_s
        used = self.clock % p.cycle_s - s_o
        cut = min(p.wait_at(phase, arrival), left - max(0.0, MIN_GREEN_S - used), budget)
        if cut < 1.0:
            reason = (
                f"cross street at its max wait ({r.max_cross_wait_s} s)"
                if budget < 1.0
                else "cross street at its minimum green"
            )
            return Decision(False, reason=reason)
        self.clock = (self.clock + cut) % p.cycle_s
        self.added[phase] = 0.0
        self.added[other] += cut
        self.last_grant = now
        return Decision(True, Strategy.EARLY_GREEN, cross_delay_s=cut)

    def check_out(self, vehicle_id: str) -> None:
        """The vehicle cleared the junction: an extension held for it ends."""
        if self.hold_vehicle == vehicle_id:
            self.hold_phase = ""
            self.hold_vehicle = ""

    def preempt(self, phase: str, until: float) -> None:
        self.preempt_phase, self.preempt_until = phase, until
        s, _ = self.plan.green_window(phase)
        self.clock = s


def _other(phase: str) -> str:
    return "B" if phase == "A" else "A"


def phase_of(dx: float, dy: float) -> str:
    """The phase serving an approach heading (dx, dy): east-west A, north-south B."""
    return "A" if abs(dx) >= abs(dy) else "B"
