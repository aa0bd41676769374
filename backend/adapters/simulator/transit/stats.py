"""Corridor statistics, the figures agencies publish for TSP: per line, vehicle class and hour of
the simulation's clock, the red time saved by grants and still lost at signals, requests, grants
and denials, the red time grants added to cross streets, and the mean schedule deviation; per
junction and hour, grants, denials and cross-street delay. Hours older than `keep_hours` go."""

from __future__ import annotations

from dataclasses import dataclass

from vigie.backend.domain.transit import VehicleClass


@dataclass(slots=True)
class Hour:
    time_saved_s: float = 0.0
    signal_delay_s: float = 0.0
    requests: int = 0
    grants: int = 0
    denials: int = 0
    cross_delay_s: float = 0.0
    deviation_sum: float = 0.0
    deviation_n: int = 0


@dataclass(slots=True)
class JunctionHour:
    grants: int = 0
    denials: int = 0
    cross_delay_s: float = 0.0
    max_cross_delay_s: float = 0.0


class CorridorStats:
    def __init__(self, keep_hours: int = 24 * 7) -> None:
        self.keep_hours = keep_hours
        self.lines: dict[tuple[int, str, VehicleClass], Hour] = {}
        self.junctions: dict[tuple[int, str], JunctionHour] = {}
        self._newest = 0

    def _h(self, now: float, line: str, cls: VehicleClass) -> Hour:
        hour = int(now // 3600)
        if hour > self._newest:
            self._newest = hour
            self._prune()
        key = (hour, line, cls)
        h = self.lines.get(key)
        if h is None:
            h = self.lines[key] = Hour()
        return h

    def _j(self, now: float, jid: str) -> JunctionHour:
        key = (int(now // 3600), jid)
        h = self.junctions.get(key)
        if h is None:
            h = self.junctions[key] = JunctionHour()
        return h

    def _prune(self) -> None:
        oldest = self._newest - self.keep_hours
        for k in [k for k in self.lines if k[0] < oldest]:
            del self.lines[k]
        for k2 in [k for k in self.junctions if k[0] < oldest]:
            del self.junctions[k2]

    def request(self, now: float, line: str, cls: VehicleClass) -> None:
        self._h(now, line, cls).requests += 1

    def grant(self, now: float, line: str, cls: VehicleClass, jid: str, cross: float) -> None:
        h = self._h(now, line, cls)
        h.grants += 1
        h.cross_delay_s += cross
        j = self._j(now, jid)
        j.grants += 1
        j.cross_delay_s += cross
        j.max_cross_delay_s = max(j.max_cross_delay_s, cross)

    def denial(self, now: float, line: str, cls: VehicleClass, jid: str) -> None:
        self._h(now, line, cls).denials += 1
        self._j(now, jid).denials += 1

    def saved(self, now: float, line: str, cls: VehicleClass, seconds: float) -> None:
        self._h(now, line, cls).time_saved_s += seconds

    def signal_wait(self, now: float, line: str, cls: VehicleClass, seconds: float) -> None:
        if seconds > 0:
            self._h(now, line, cls).signal_delay_s += seconds

    def stop_passed(self, now: float, line: str, cls: VehicleClass, deviation: float) -> None:
        h = self._h(now, line, cls)
        h.deviation_sum += deviation
        h.deviation_n += 1

    def hours(
        self, start: float, end: float, lines: set[str] | None = None
    ) -> list[tuple[int, str, VehicleClass, Hour]]:
        """The line hours overlapping [start, end], by hour then line."""
        lo, hi = int(start // 3600), int(end // 3600)
        out = [
            (k[0], k[1], k[2], h)
            for k, h in self.lines.items()
            if lo <= k[0] <= hi and (not lines or k[1] in lines)
        ]
        return sorted(out, key=lambda r: (r[0], r[1], r[2].value))

    def junction_totals(self, start: float, end: float) -> dict[str, JunctionHour]:
        lo, hi = int(start // 3600), int(end // 3600)
        out: dict[str, JunctionHour] = {}
        for (hour, jid), h in self.junctions.items():
            if lo <= hour <= hi:
                t = out.setdefault(jid, JunctionHour())
                t.grants += h.grants
                t.denials += h.denials
                t.cross_delay_s += h.cross_delay_s
                t.max_cross_delay_s = max(t.max_cross_delay_s, h.max_cross_delay_s)
        return out
