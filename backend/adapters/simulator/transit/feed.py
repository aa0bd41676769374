"""Between the transit simulation and the city's device network: transit vehicles as assets (so
the map and every watch show them, with their schedule deviation), each junction's TSP switch and
rules read from its traffic signal's reported state, and the regulation commands applied.

A traffic signal's `bus_priority` attribute ("on"/"off", SIGNAL_BUS_PRIORITY_ON/OFF) turns TSP on
at its junction; its `tsp_rules` attribute (TSP_CONFIGURE) holds the junction's rules; a signal
that is flashing, faulty or offline runs no plan, so it grants nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vigie.backend.adapters.simulator.city import City, district_index, district_names, to_latlon
from vigie.backend.adapters.simulator.transit.engine import RegulationError, TransitSim, Vehicle
from vigie.backend.adapters.simulator.transit.network import build_network
from vigie.backend.domain.actions import Action, Params
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.transit import DEFAULT_RULES, decode_rules, encode_rules

TRANSIT_ACTIONS = frozenset(
    {Action.TSP_CONFIGURE, Action.TRAM_HOLD, Action.TRAM_RELEASE, Action.TRAM_SKIP_STATION}
)
# At most this many 1 s steps per city tick (~1.2 ms each here): the loop is never held more than
# ~0.2 s, so speeds above ~150x run at ~150x, and a stalled loop catches up 2.5 minutes per tick.
MAX_STEPS_PER_TICK = 150


class TransitFeed:
    def __init__(self, city: City, seed: int, speed: float, start: float) -> None:
        """`speed`: simulated seconds per real second (1: real time; tests and benches go faster)."""
        if not 0.1 <= speed <= 1000:
            raise ValueError("the transit speed must be 0.1..1000")
        self.speed = speed
        self.sim = TransitSim(build_network(city, seed), seed, start)
        self._owed = 0.0

    def initial_assets(self) -> list[Asset]:
        return self.assets(0.0)

    def tag_junctions(self, assets: list[Asset]) -> None:
        """The signals the lines cross carry the "bus_line" tag the city modes select by."""
        ids = set(self.sim.network.junctions)
        for a in assets:
            if a.id in ids:
                tags = [t for t in a.attributes.get("tags", "").split(",") if t]
                if "bus_line" not in tags:
                    a.attributes["tags"] = ",".join([*tags, "bus_line"])
                a.attributes.setdefault("tsp_rules", encode_rules(DEFAULT_RULES))

    def advance(self, real_dt: float, device: Callable[[str], Asset | None]) -> None:
        """Run real_dt × speed simulated seconds, the junctions set from their signals first."""
        for jid, j in self.sim.network.junctions.items():
            a = device(jid)
            running = (
                a is not None
                and a.status in (Status.OK, Status.WARNING)
                and a.attributes.get("mode") != "flashing"
            )
            j.enabled = running and a is not None and a.attributes.get("bus_priority") == "on"
            if a is not None:
                j.rules = decode_rules(a.attributes.get("tsp_rules", ""))
        self._owed += real_dt * self.speed
        steps = min(int(self._owed), MAX_STEPS_PER_TICK)
        self._owed = min(self._owed - steps, float(MAX_STEPS_PER_TICK))
        for _ in range(steps):
            self.sim.step()

    def assets(self, now: float) -> list[Asset]:
        """Every vehicle's state now."""
        vs = self.sim.vehicles
        names = district_names()
        idx = district_index(np.array([v.x for v in vs]), np.array([v.y for v in vs])).tolist()
        return [self._asset(v, now, names[d]) for v, d in zip(vs, idx, strict=True)]

    def asset_of(self, vehicle_id: str, now: float) -> Asset:
        v = self.sim.by_id[vehicle_id]
        d = int(district_index(np.array([v.x]), np.array([v.y]))[0])
        return self._asset(v, now, district_names()[d])

    def _asset(self, v: Vehicle, now: float, district: str) -> Asset:
        lat, lon = to_latlon(v.x, v.y)
        line = v.line
        nxt = line.stop_in(v.direction, min(v.stop_i, len(line.stops) - 1))
        status, reason = (Status.WARNING, v.alarm) if v.alarm else (Status.OK, "")
        return Asset(
            v.id,
            Kind.VEHICLE,
            v.name,
            district,
            lat,
            lon,
            status,
            reason,
            now,
            round(v.heading, 1),
            {
                "fleet": v.mode.value,
                "callsign": v.name,
                "line": line.id,
                "speed_kmh": f"{v.speed * 3.6:.0f}",
                "deviation_s": str(round(v.deviation)),
                "state": v.state,
                "next_stop": nxt.id,
                "headway_s": str(round(v.headway_ahead)),
                "hold_s": str(v.hold_s),
                "skip_station": self.sim.skip_stop_id(v),
                # What TRAM_SKIP_STATION accepts now: the command dialog offers these.
                "stations_ahead": ",".join(self.sim.stations_ahead(v)),
            },
        )

    def check(self, action: Action, asset: Asset, params: Params) -> str:
        """Why the vehicle or junction cannot do it ("" when it can)."""
        if action is Action.TSP_CONFIGURE:
            return (
                ""
                if asset.id in self.sim.network.junctions
                else f"{asset.id} is on no transit line: no TSP here"
            )
        v = self.sim.by_id.get(asset.id)
        if v is None or v.mode.value != "tram":
            return f"{asset.id} is not a tram: regulation is for trams"
        if action is Action.TRAM_SKIP_STATION and params.station_id not in {s.id for s in v.line.stops}:
            return f"station {params.station_id[:40]!r} is not on line {v.line.id}"
        return ""

    def apply(self, action: Action, asset_id: str, params: Params) -> tuple[bool, str, dict[str, str]]:
        """Do it: (done, detail, the attributes the device now reports)."""
        if action is Action.TSP_CONFIGURE:
            assert params.tsp_rules is not None
            return True, "rules set", {"tsp_rules": encode_rules(params.tsp_rules)}
        try:
            if action is Action.TRAM_HOLD:
                detail = self.sim.hold(asset_id, params.hold_seconds)
            elif action is Action.TRAM_RELEASE:
                detail = self.sim.release(asset_id)
            else:
                detail = self.sim.skip(asset_id, params.station_id)
        except RegulationError as exc:
            return False, str(exc), {}
        return True, detail, {}
