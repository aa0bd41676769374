"""The effect of transit signal priority on one corridor: the same seed, the same two simulated
hours, TSP off then on at the junctions of bus line L1 and of the health shuttles.

What is measured here is measured by the test itself, second by second, from the vehicles' and
the junctions' observable state (not from the product's statistics): the seconds that late buses
(more than the rules' 60 s; of any line crossing the corridor) and shuttles spend stopped at the
corridor's red lights, and every red and green
period each phase of the corridor's junctions really had, compared with its fixed plan.
"""

from __future__ import annotations

import pytest

from vigie.backend.adapters.simulator.city import generate_city
from vigie.backend.adapters.simulator.transit.engine import TransitSim
from vigie.backend.adapters.simulator.transit.network import build_network
from vigie.backend.domain.transit import TspRules, VehicleClass

SEED = 1
HOURS = 2
RULES = TspRules(
    min_lateness_s=60, shuttle_min_lateness_s=0, inhibit_s=90, max_cross_wait_s=20, max_extension_s=15
)
LATE_S = 60  # what "late" means for buses here (the rules' threshold)
STEP_SLACK_S = 1.0  # the simulation's step: a period is measured to the second


@pytest.fixture(scope="module")
def city():
    return generate_city(SEED)


def run(city, tsp: bool) -> dict:
    net = build_network(city, SEED)
    corridor = {j.junction_id for j in net.lines["L1"].junctions}
    corridor |= {
        j.junction_id for lid, line in net.lines.items() if lid.startswith("S") for j in line.junctions
    }
    for jid in corridor:
        j = net.junctions[jid]
        j.enabled = tsp
        j.rules = RULES
        j.timeline = []
    sim = TransitSim(net, SEED, 0.0)
    late_bus_red = shuttle_red = 0.0
    for _ in range(HOURS * 3600):
        sim.step()
        for v in sim.vehicles:
            if v.state != "waiting_signal" or v.checked_in not in corridor:
                continue
            if v.cls is VehicleClass.SHUTTLE:
                shuttle_red += 1.0
            elif v.cls is VehicleClass.BUS and v.deviation > LATE_S:
                late_bus_red += 1.0
    excess_red: list[float] = []  # each red period beyond the plan's red for that phase
    cut_green: list[float] = []  # each green period short of the plan's green
    for jid in corridor:
        j = net.junctions[jid]
        p = j.plan
        planned_green = {"A": p.green_a_s, "B": p.green_b_s}
        seen: set[str] = set()
        for phase, green, start, end in j.timeline or []:
            if phase not in seen:  # the first period was caught part-way through
                seen.add(phase)
                continue
            if green:
                cut_green.append(planned_green[phase] - (end - start))
            else:
                excess_red.append((end - start) - (p.cycle_s - planned_green[phase]))
    grants = sum(1 for e in sim.log.after(0) if e.kind.value == "granted")
    return {
        "late_bus_red": late_bus_red,
        "shuttle_red": shuttle_red,
        "excess_red": excess_red,
        "cut_green": cut_green,
        "grants": grants,
    }


def test_priority_saves_late_buses_and_shuttles_red_time_and_costs_the_cross_street_at_most_its_max_wait(
    city,
):
    off = run(city, tsp=False)
    on = run(city, tsp=True)
    print(
        f"\nTSP off: {off['late_bus_red']:.0f} s red for late buses, {off['shuttle_red']:.0f} s for shuttles"
    )
    print(f"TSP on:  {on['late_bus_red']:.0f} s red for late buses, {on['shuttle_red']:.0f} s for shuttles,")
    print(f"         {on['grants']} grants, largest cross-street red added {max(on['excess_red']):.1f} s")
    # Without priority the plan is the plan: every period as planned (proves the measurement).
    assert off["grants"] == 0
    assert max(off["excess_red"]) <= STEP_SLACK_S and max(off["cut_green"]) <= STEP_SLACK_S
    # With it: less time lost at red lights for late buses and for shuttles...
    assert on["grants"] > 20
    assert on["late_bus_red"] < off["late_bus_red"]
    assert on["shuttle_red"] < off["shuttle_red"]
    # ... and the cross streets pay: some red periods longer or greens cut, never by more than
    # the configured max wait.
    assert max(on["excess_red"]) > STEP_SLACK_S or max(on["cut_green"]) > STEP_SLACK_S
    assert max(on["excess_red"]) <= RULES.max_cross_wait_s + STEP_SLACK_S
    assert max(on["cut_green"]) <= RULES.max_cross_wait_s + STEP_SLACK_S
