"""A fixed scale and reference limits per metric, so a chart reads the same for every device.

Autoscale makes a 3.85-3.95 bar wobble look like a collapse; a fixed scale from zero to what the
metric can reach keeps a normal day flat and a real drop obvious. A value past the scale widens it
to the next round step, never narrows it. Limits are the levels an operator judges against (the
backend's alarms come from device states, and its API carries no numeric thresholds yet): a dashed
line, named in the chart's bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    value: float
    label: str


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    limits: tuple[Limit, ...] = ()


SCALES: dict[str, Scale] = {
    # 2.5 bar: below it, upper floors lose water (the "pressure low" episodes of the simulated
    # network go there).
    "pressure_bar": Scale(0.0, 6.0, (Limit(2.5, "low pressure"),)),
    "flow_m3h": Scale(0.0, 100.0),
    "power_w": Scale(0.0, 200.0),
    "bitrate_kbps": Scale(0.0, 6000.0),
    "vehicles_per_min": Scale(0.0, 60.0),
    "cycles_per_h": Scale(0.0, 40.0),
    "badge_events_per_h": Scale(0.0, 200.0),
    "occupancy_pct": Scale(0.0, 100.0),
    "passengers_waiting": Scale(0.0, 250.0),
    "speed_kmh": Scale(0.0, 90.0, (Limit(50.0, "urban speed limit"),)),  # French towns: 50 km/h
}


def _round_up(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(value))
    return next(m * p for m in (1, 2, 5, 10) if m * p >= value)


def y_range(metric: str, lowest: float, highest: float) -> tuple[float, float]:
    """The metric's fixed range, widened (to a round value) only when the data leave it; an
    unknown metric gets zero to a round value above its data."""
    scale = SCALES.get(metric)
    if scale is None:
        return (min(0.0, lowest), _round_up(highest))
    low = scale.low if lowest >= scale.low else -_round_up(-lowest)
    high = scale.high if highest <= scale.high else _round_up(highest)
    return (low, high)


def limits(metric: str) -> tuple[Limit, ...]:
    scale = SCALES.get(metric)
    return scale.limits if scale else ()
