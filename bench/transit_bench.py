"""Transit signal priority benchmark: the same seed, the same simulated hours, TSP off then on.

Two corridors: bus line L1's junctions (with the shuttles'), then every junction of every line.
Printed per run: the seconds late buses (> the 60 s threshold) and shuttles spent stopped at the
corridor's red lights (counted here, second by second), every bus's red time, the grants and
denials, the red time grants added to cross streets (measured from each phase's real periods
against its plan: the total and the largest single addition, which must stay within the max
wait), the product's own "time saved" figure, and what a simulated hour costs in CPU.

Fails (exit 1) when priority does not cut late buses' or shuttles' red time, or when a cross
street ever waited more than the max wait beyond its plan.

`python bench/transit_bench.py [--hours H] [--seed S]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vigie.backend.adapters.simulator.city import generate_city  # noqa: E402
from vigie.backend.adapters.simulator.transit.engine import TransitSim  # noqa: E402
from vigie.backend.adapters.simulator.transit.network import build_network  # noqa: E402
from vigie.backend.domain.transit import TspRules, VehicleClass  # noqa: E402

RULES = TspRules(
    min_lateness_s=60, shuttle_min_lateness_s=0, inhibit_s=90, max_cross_wait_s=20, max_extension_s=15
)


def run(city, seed: int, hours: float, corridor_lines: list[str] | None, tsp: bool) -> dict:
    net = build_network(city, seed)
    lines = corridor_lines or list(net.lines)
    corridor = {j.junction_id for lid in lines for j in net.lines[lid].junctions}
    corridor |= {
        j.junction_id for lid, line in net.lines.items() if lid.startswith("S") for j in line.junctions
    }
    for jid in corridor:
        j = net.junctions[jid]
        j.enabled, j.rules, j.timeline = tsp, RULES, []
    sim = TransitSim(net, seed, 0.0)
    late = shuttle = bus = 0.0
    cpu0 = time.process_time()
    for _ in range(int(hours * 3600)):
        sim.step()
        for v in sim.vehicles:
            if v.state != "waiting_signal" or v.checked_in not in corridor:
                continue
            if v.cls is VehicleClass.SHUTTLE:
                shuttle += 1
            elif v.cls is VehicleClass.BUS:
                bus += 1
                late += v.deviation > RULES.min_lateness_s
    cpu = time.process_time() - cpu0
    added: list[float] = []
    for jid in corridor:
        j = net.junctions[jid]
        p = j.plan
        green = {"A": p.green_a_s, "B": p.green_b_s}
        first: set[str] = set()
        for phase, is_green, start, end in j.timeline or []:
            if phase in first:
                planned = green[phase] if is_green else p.cycle_s - green[phase]
                added.append(max(0.0, (planned - (end - start)) if is_green else (end - start) - planned))
            first.add(phase)
    events = sim.log.after(0)
    return {
        "late": late,
        "shuttle": shuttle,
        "bus": bus,
        "grants": sum(e.kind.value == "granted" for e in events),
        "denials": sum(e.kind.value == "denied" for e in events),
        "saved": sum(e.time_saved_s for e in events),
        "cross_total": sum(added),
        "cross_max": max(added, default=0.0),
        "junctions": len(corridor),
        "cpu_ms_per_sim_hour": cpu * 1000 / hours,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    city = generate_city(args.seed)
    ok = True
    for name, lines in (("L1 + shuttles", ["L1"]), ("every line", None)):
        off = run(city, args.seed, args.hours, lines, tsp=False)
        on = run(city, args.seed, args.hours, lines, tsp=True)
        print(f"corridor {name} ({on['junctions']} junctions), seed {args.seed}, {args.hours:g} simulated h:")
        print(f"  {'':32}{'TSP off':>10}{'TSP on':>10}{'change':>9}")
        for key, label in (
            ("late", "late buses' red time (s)"),
            ("shuttle", "shuttles' red time (s)"),
            ("bus", "every bus's red time (s)"),
        ):
            change = (on[key] - off[key]) / off[key] * 100 if off[key] else 0.0
            print(f"  {label:32}{off[key]:>10.0f}{on[key]:>10.0f}{change:>8.0f}%")
        print(
            f"  grants / denials: {on['grants']} / {on['denials']}; time saved (product's figure): {on['saved']:.0f} s"
        )
        print(
            f"  cross streets: {on['cross_total']:.0f} s of red added in all, largest single addition"
            f" {on['cross_max']:.0f} s (max wait {RULES.max_cross_wait_s} s; off: {off['cross_max']:.0f} s)"
        )
        print(
            f"  simulation CPU: {on['cpu_ms_per_sim_hour']:.0f} ms per simulated hour (with the test's counting)"
        )
        if not (on["late"] < off["late"] and on["shuttle"] < off["shuttle"]):
            print("  FAILED: priority did not cut late buses' and shuttles' red time")
            ok = False
        if on["cross_max"] > RULES.max_cross_wait_s + 1:
            print("  FAILED: a cross street waited past the max wait")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
