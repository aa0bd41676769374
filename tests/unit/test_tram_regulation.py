"""Tram regulation on the real transit simulation (seeded city, 1 s steps): a hold at a station
shrinks the headway of the tram behind to about the planned headway minus the hold, which is
bunching; holding that follower in turn opens its headway again and the bunching clears; a skipped
station is passed without stopping.

Arrivals are seen by the test from each tram's state, second by second; the expected headways
come from the planned headway and the hold given here.
"""

from __future__ import annotations

import pytest

from vigie.backend.adapters.simulator.city import generate_city
from vigie.backend.adapters.simulator.transit.engine import RegulationError, TransitSim, Vehicle
from vigie.backend.adapters.simulator.transit.network import build_network

SEED = 1
HOLD_S = 300
SLACK_S = 60  # dwell and pace differences between two trams over one inter-station run


@pytest.fixture(scope="module")
def city():
    return generate_city(SEED)


def fresh(city) -> TransitSim:
    return TransitSim(build_network(city, SEED), SEED, 0.0)


def at_stop(v: Vehicle) -> int:
    """The trip-order index of the stop a dwelling or held tram is at (-1: not at one)."""
    return v.stop_i - 1 if v.state in ("dwelling", "held") else -1


def run_until(sim: TransitSim, cond, limit_s: int = 4 * 3600) -> None:
    for _ in range(limit_s):
        if cond():
            return
        sim.step()
    raise AssertionError("the condition never came true in the simulated time allowed")


def arrivals(
    sim: TransitSim, direction: int, stop: int, count: int, limit_s: int = 3 * 3600
) -> list[tuple[float, str]]:
    """The next `count` (time, tram) arrivals of T1 trams at `stop` going `direction`."""
    out: list[tuple[float, str]] = []
    trams = [v for v in sim.vehicles if v.line.id == "T1"]
    before = {v.id: at_stop(v) for v in trams}
    for _ in range(limit_s):
        sim.step()
        for v in trams:
            now = at_stop(v)
            if now == stop and before[v.id] != stop and v.direction == direction:
                out.append((sim.t, v.id))
            before[v.id] = now
        if len(out) >= count:
            return out
    raise AssertionError(f"only {len(out)} arrivals at stop {stop}")


def test_a_hold_bunches_the_follower_and_holding_the_follower_clears_it(city):
    sim = fresh(city)
    line = sim.network.lines["T1"]
    h = line.headway_s
    a = next(v for v in sim.vehicles if v.line.id == "T1")
    run_until(sim, lambda: 2 <= at_stop(a) <= 7)
    k, d = at_stop(a), a.direction
    sim.hold(a.id, HOLD_S)
    assert a.hold_s == HOLD_S
    # At the next station: the held tram, then its follower.
    (t_a, first), (t_b, follower) = arrivals(sim, d, k + 1, 2)
    assert first == a.id
    headway = t_b - t_a
    assert headway <= h - HOLD_S + SLACK_S, f"headway {headway:.0f} s, planned {h:.0f} s"
    b = sim.by_id[follower]
    assert b.alarm == "bunching"
    assert a.hold_s == 0  # the hold is over once it left
    # The regulator holds the follower at its next station long enough to space them again.
    sim.hold(b.id, round(h / 2))
    ((t_a2, _), (t_b2, _)) = arrivals(sim, d, k + 3, 2)
    assert t_b2 - t_a2 >= h / 2 - SLACK_S
    run_until(sim, lambda: at_stop(b) == k + 3)
    assert b.alarm == "", f"still {b.alarm!r} with headway {b.headway_ahead:.0f} s"


def test_a_release_ends_a_hold_at_once(city):
    sim = fresh(city)
    a = next(v for v in sim.vehicles if v.line.id == "T2")
    run_until(sim, lambda: 2 <= at_stop(a) <= 7)
    sim.hold(a.id, 600)
    run_until(sim, lambda: a.state == "held")
    held_at = sim.t
    sim.release(a.id)
    run_until(sim, lambda: a.state == "running", limit_s=60)
    assert sim.t - held_at < 60  # rather than the 600 s asked
    assert a.hold_s == 0


def test_a_skipped_station_is_passed_without_stopping(city):
    sim = fresh(city)
    a = next(v for v in sim.vehicles if v.line.id == "T1")
    run_until(sim, lambda: 2 <= at_stop(a) <= 7)
    k, d = at_stop(a), a.direction
    target = line_stop(a, k + 1)
    sim.skip(a.id, target)
    assert sim.skip_stop_id(a) == target
    stopped_there = False
    for _ in range(3600):
        sim.step()
        stopped_there = stopped_there or at_stop(a) == k + 1
        if a.stop_i > k + 2 or a.direction != d:
            break
    assert not stopped_there and sim.skip_stop_id(a) == ""


def test_regulation_refuses_what_a_tram_cannot_do(city):
    sim = fresh(city)
    bus = next(v for v in sim.vehicles if v.line.id == "L1")
    with pytest.raises(RegulationError, match="is not a tram"):
        sim.hold(bus.id, 60)
    tram = next(v for v in sim.vehicles if v.line.id == "T1")
    with pytest.raises(RegulationError, match="is not ahead of"):
        sim.skip(tram.id, "T2-03")


def line_stop(v: Vehicle, k: int) -> str:
    return v.line.stop_in(v.direction, k).id
