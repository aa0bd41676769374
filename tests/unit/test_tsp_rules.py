"""The junction's priority request server, rule by rule, on a plan laid out by hand.

Plan: cycle 60 s, phase A green [0, 24), intergreen [24, 28), B green [28, 56), intergreen
[56, 60). A bus on phase A checking in at clock 20 with an ETA of 10 s arrives at 30: in B's green,
so it needs a green extension of 30 - 24 + 2 = 8 s. One at clock 40 with ETA 10 arrives at 50,
still B green: it needs an early green (B is cut). Every expected value below is worked out from
those numbers, not asked of the product.
"""

from __future__ import annotations

from vigie.backend.adapters.simulator.transit.signals import Junction, Plan
from vigie.backend.domain.transit import Strategy, TspRules, VehicleClass

PLAN = Plan(cycle_s=60, green_a_s=24, green_b_s=28, offset_s=0, intergreen_s=4)
BUS, SHUTTLE, TRAM = VehicleClass.BUS, VehicleClass.SHUTTLE, VehicleClass.TRAM


def junction(rules: TspRules, clock: float = 20.0) -> Junction:
    j = Junction("sig-0001", "Carrefour test", 47.3, 5.0, PLAN, rules=rules, enabled=True)
    j.clock = clock
    return j


def test_a_late_bus_gets_the_extension_it_needs_and_the_cross_street_pays_that_much():
    j = junction(TspRules(min_lateness_s=60, max_extension_s=15, max_cross_wait_s=20))
    d = j.decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=90)
    assert d.granted and d.strategy is Strategy.GREEN_EXTENSION
    assert d.cross_delay_s == 8.0
    # The green really lasts: after 9 s of steps phase A is still green, B still red.
    for k in range(9):
        j.step(100.0 + k, 1.0)
    assert j.is_green("A") and not j.is_green("B")
    assert abs(j.added["B"] - 5.0) < 0.01  # clock 20 -> held at 24 from the 4th second: 5 s added


def test_lateness_threshold_buses_only_when_later_than_it_shuttles_always():
    rules = TspRules(min_lateness_s=60, shuttle_min_lateness_s=0)
    d = junction(rules).decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=59)
    assert not d.granted and d.reason == "not late enough (59 s, threshold 60 s)"
    d = junction(rules).decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=61)
    assert d.granted and d.strategy is Strategy.GREEN_EXTENSION
    # A shuttle on time (even early) is served: its threshold is 0.
    d = junction(rules).decide(100.0, "shu-1", "A", 10.0, "S1", SHUTTLE, lateness_s=-30)
    assert d.granted and d.strategy is Strategy.GREEN_EXTENSION


def test_inhibit_time_after_a_grant_then_served_again_once_it_has_passed():
    rules = TspRules(min_lateness_s=0, inhibit_s=90)
    j = junction(rules)
    assert j.decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=120).granted
    j.clock = 20.0
    j.added = {"A": 0.0, "B": 0.0}
    d = j.decide(150.0, "bus-2", "A", 10.0, "L2", BUS, lateness_s=120)
    assert not d.granted and d.reason == "inhibit: 50 s since the last grant"
    j.clock = 20.0
    d = j.decide(191.0, "bus-3", "A", 10.0, "L2", BUS, lateness_s=120)
    assert d.granted, d.reason


def test_vehicle_class_and_line_rules():
    buses_only = TspRules(classes=(BUS,), min_lateness_s=0, shuttle_min_lateness_s=0)
    d = junction(buses_only).decide(100.0, "shu-1", "A", 10.0, "S1", SHUTTLE, lateness_s=300)
    assert not d.granted and d.reason == "class shuttle not allowed here"
    # Default classes (empty): buses and shuttles, never trams.
    d = junction(TspRules(min_lateness_s=0)).decide(100.0, "tram-1", "A", 10.0, "T1", TRAM, lateness_s=300)
    assert not d.granted and d.reason == "class tram not allowed here"
    one_line = TspRules(lines=("L3",), min_lateness_s=0)
    d = junction(one_line).decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=300)
    assert not d.granted and d.reason == "line L1 not allowed here"
    assert junction(one_line).decide(100.0, "bus-9", "A", 10.0, "L3", BUS, lateness_s=300).granted


def test_early_green_cuts_the_cross_street_at_most_its_max_wait():
    # At clock 40 (B green since 28, 16 s left) a bus on A arriving at 50 would wait 10 s more
    # (A's green starts at 60). The cut is min(10, 16 - 0, max wait 6) = 6 s.
    j = junction(TspRules(min_lateness_s=0, max_cross_wait_s=6), clock=40.0)
    d = j.decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=100)
    assert d.granted and d.strategy is Strategy.EARLY_GREEN and d.cross_delay_s == 6.0
    assert j.clock == 46.0


def test_the_cross_street_keeps_its_minimum_green():
    # At clock 30 B has had 2 s of green: it keeps 6 s, so at most 56 - 30 - 4 = 22 s may be cut;
    # the bus arriving at 40 needs 20 s: granted with 20 s (max wait 30).
    j = junction(TspRules(min_lateness_s=0, max_cross_wait_s=30), clock=30.0)
    d = j.decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=100)
    assert d.granted and d.cross_delay_s == 20.0


def test_green_on_arrival_needs_nothing_and_is_not_counted_as_a_grant():
    j = junction(TspRules(min_lateness_s=0), clock=0.0)
    d = j.decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=100)
    assert d.granted and not d.needed and d.strategy is Strategy.NONE
    assert j.last_grant is None


def test_an_extension_longer_than_allowed_is_denied():
    j = junction(TspRules(min_lateness_s=0, max_extension_s=5))
    d = j.decide(100.0, "bus-1", "A", 10.0, "L1", BUS, lateness_s=100)
    assert not d.granted and d.reason == "extension needed 8 s > max 5 s"
