"""Procedural telemetry: every sample is a pure function of (asset seed, metric, time, anomalies).

Nothing is stored: a history query and a live query evaluate the same function on the same
grid (t = k * period_s), so they agree to the bit, and any past range can be answered. Noise
comes from an integer hash of the grid index rather than a stateful RNG for the same reason.
Downsampling keeps every n-th grid point with k a multiple of n, so a zoomed-out chart is a
subset of the full-resolution one instead of an approximation of it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from vigie.backend.adapters.base import Series
from vigie.backend.adapters.simulator import city_zone
from vigie.backend.domain.assets import Kind, MetricInfo, Status

LAT_RAD = math.radians(47.322)
LON_DEG = 5.041
HARD_CAP = 200_000  # points returned when the caller sets no max_points

METRICS: dict[Kind, list[MetricInfo]] = {
    Kind.CAMERA: [MetricInfo("bitrate_kbps", "kbit/s", "Bitrate", 5.0)],
    Kind.TRAFFIC_SIGNAL: [MetricInfo("vehicles_per_min", "veh/min", "Traffic flow", 5.0)],
    Kind.STREET_LIGHT: [MetricInfo("power_w", "W", "Power", 5.0)],
    Kind.BOLLARD: [MetricInfo("cycles_per_h", "cycles/h", "Cycles", 5.0)],
    Kind.ACCESS_POINT: [MetricInfo("badge_events_per_h", "events/h", "Badge events", 5.0)],
    Kind.DELIVERY_BAY: [MetricInfo("occupancy_pct", "%", "Occupancy (15 min)", 5.0)],
    Kind.WATER_SENSOR: [
        MetricInfo("pressure_bar", "bar", "Pressure", 5.0),
        MetricInfo("flow_m3h", "m³/h", "Flow", 5.0),
    ],
    Kind.TRAM_STATION: [MetricInfo("passengers_waiting", "passengers", "Passengers waiting", 5.0)],
    Kind.VEHICLE: [MetricInfo("speed_kmh", "km/h", "Speed", 1.0)],
}

_M64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A status episode the simulator created; `end` None while it is still active."""

    start: float
    end: float | None
    status: Status
    reason: str

    def mask(self, t: np.ndarray) -> np.ndarray:
        m = t >= self.start
        if self.end is not None:
            m &= t < self.end
        return m


def asset_seed(city_seed: int, asset_id: str) -> int:
    """A stable per-asset seed (crc32 rather than hash(), which is salted per process)."""
    return zlib.crc32(f"{city_seed}:{asset_id}".encode())


def metrics_for(kind: Kind) -> list[MetricInfo]:
    return list(METRICS.get(kind, ()))


def grid_indices(period_s: float, start: float, end: float, max_points: int) -> np.ndarray:
    """Grid indices k (t = k * period) in [start, end], strided to at most max_points."""
    k0 = math.ceil(start / period_s - 1e-9)
    k1 = math.floor(end / period_s + 1e-9)
    n = k1 - k0 + 1
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    cap = max_points if max_points > 0 else HARD_CAP
    stride = 1 if n <= cap else -(-n // cap)
    k0 = -(-k0 // stride) * stride
    return np.arange(k0, k1 + 1, stride, dtype=np.int64)


def _hash01(seed: int | np.ndarray, salt: int, k: np.ndarray) -> np.ndarray:
    """splitmix64 of (seed, salt, k) mapped to [0, 1): stateless noise indexed by integers.

    `seed` may be an array (one per element of k) so many assets can be evaluated at once.
    """
    with np.errstate(over="ignore"):
        key = np.asarray(seed, dtype=np.uint64) * np.uint64(0x100000001B3) + np.uint64(
            (salt * 0x9E3779B97F4A7C15) & _M64
        )
        x = k.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + key
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _const(seed: int, salt: int) -> float:
    return float(_hash01(seed, salt, np.zeros(1, dtype=np.int64))[0])


def _bump(h: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-(((h - centre) / width) ** 2))


class _Ctx:
    """Everything a metric model needs for one evaluation, with its noise helpers."""

    def __init__(
        self, seed: int | np.ndarray, t: np.ndarray, k: np.ndarray, attrs: Mapping[str, str], anomalies
    ) -> None:
        self.seed, self.t, self.k, self.attrs = seed, t, k, attrs
        self.technical: np.ndarray | bool = attrs.get("fleet") == "technical"
        self.anomalies: list[Anomaly] = list(anomalies)
        self._local: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def h(self) -> np.ndarray:
        """Local hour of day (computed lazily: the time-zone lookup is the costly part)."""
        if self._local is None:
            self._local = _local_hour(self.t)
        return self._local[0]

    @property
    def dow(self) -> np.ndarray:
        if self._local is None:
            self._local = _local_hour(self.t)
        return self._local[1]

    def white(self, salt: int) -> np.ndarray:
        """Independent noise in [-1, 1) per grid point."""
        return 2.0 * _hash01(self.seed, salt, self.k) - 1.0

    def smooth(self, salt: int, knot_s: float) -> np.ndarray:
        """Value noise in [-1, 1) interpolated between knots every knot_s seconds."""
        u = self.t / knot_s
        i = np.floor(u)
        f = u - i
        f = f * f * (3 - 2 * f)
        ii = i.astype(np.int64)
        a = _hash01(self.seed, salt, ii)
        b = _hash01(self.seed, salt, ii + 1)
        return 2.0 * (a + (b - a) * f) - 1.0

    def const(self, salt: int) -> float:
        return _const(self.seed, salt)

    def active(self, *reasons: str) -> tuple[np.ndarray, np.ndarray]:
        """(mask, seconds since the episode started) where an anomaly with one of `reasons` runs."""
        mask = np.zeros(self.t.shape, dtype=bool)
        elapsed = np.zeros(self.t.shape)
        for a in self.anomalies:
            if a.reason in reasons or a.status.value in reasons:
                m = a.mask(self.t)
                mask |= m
                elapsed = np.where(m, self.t - a.start, elapsed)
        return mask, elapsed


def _local_hour(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The city's local (city_zone.py) hour of day and weekday (Mon = 0), DST-correct per day."""
    if t.size == 0:
        return t.copy(), t.astype(np.int64)
    days = np.floor(t / 86400.0).astype(np.int64)
    uniq, inv = np.unique(days, return_inverse=True)
    offs = np.array(
        [
            datetime.fromtimestamp(int(d) * 86400 + 43200, UTC)
            .astimezone(city_zone.zone())
            .utcoffset()
            .total_seconds()
            for d in uniq
        ]
    )
    local = t + offs[inv]
    h = (local % 86400.0) / 3600.0
    dow = (np.floor(local / 86400.0).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return h, dow


def sun_altitude_deg(t: np.ndarray) -> np.ndarray:
    """Approximate solar altitude over Dijon (no equation of time: minutes don't matter here)."""
    days = (t - 946684800.0) / 86400.0
    decl = np.radians(-23.44) * np.cos(2 * np.pi * ((days % 365.2422) + 10) / 365.2422)
    solar_h = (t % 86400.0) / 3600.0 + LON_DEG / 15.0
    ha = np.radians(15.0 * (solar_h - 12.0))
    s = np.sin(LAT_RAD) * np.sin(decl) + np.cos(LAT_RAD) * np.cos(decl) * np.cos(ha)
    return np.degrees(np.arcsin(np.clip(s, -1, 1)))


def traffic_profile(h: np.ndarray, dow: np.ndarray) -> np.ndarray:
    """Relative traffic (~0.1 at night, ~1 at the 8h and 18h rush hours on weekdays)."""
    weekday = dow < 5
    day = 1 / (1 + np.exp(-(h - 6.5) * 2)) * (1 / (1 + np.exp((h - 21.5) * 1.5)))
    rush = np.where(weekday, 0.6 * _bump(h, 8.0, 1.1) + 0.55 * _bump(h, 18.0, 1.4), 0.15 * _bump(h, 16, 3))
    return 0.1 + 0.4 * day + rush + 0.12 * _bump(h, 12.5, 1.3)


# --- metric models -----------------------------------------------------------------------------------


def _bitrate(c: _Ctx) -> np.ndarray:
    base = 2200 + 1800 * c.const(1)
    night = sun_altitude_deg(c.t) < -4
    v = base * (0.75 + 0.25 * traffic_profile(c.h, c.dow) + 0.15 * night) * (1 + 0.04 * c.smooth(2, 120))
    v *= 1 + 0.03 * c.white(3)
    for reason, factor in (("image degraded", 0.55), ("lens obstructed", 0.35), ("encoder failure", 0.02)):
        m, _ = c.active(reason)
        v = np.where(m, v * factor, v)
    m, _ = c.active(Status.MAINTENANCE.value)
    return np.where(m, v * 0.3, v)


def _vehicles(c: _Ctx) -> np.ndarray:
    capacity = 14 + 26 * c.const(1)
    mean = capacity * traffic_profile(c.h, c.dow) * (1 + 0.12 * c.smooth(2, 300))
    v = np.maximum(0.0, mean + np.sqrt(mean) * 0.9 * c.white(3))
    m, _ = c.active("detector loop fault")
    v = np.where(m, 0.0, v)
    m, _ = c.active(Status.MAINTENANCE.value)
    return np.round(np.where(m, v * 0.7, v), 1)


def _power(c: _Ctx) -> np.ndarray:
    rated = float(c.attrs.get("rated_w", "70") or 70)
    level = float(c.attrs.get("level_pct", "100") or 100) / 100.0
    on = sun_altitude_deg(c.t) < -1.0
    lit = rated * level * (1 + 0.015 * c.white(1))
    v = np.where(on, lit, 0.8)
    m, _ = c.active("lamp failure")
    v = np.where(m, 0.8, v)
    m, _ = c.active("lamp flickering")
    v = np.where(m & on, lit * (0.25 + 0.75 * (c.white(2) > 0)), v)
    m, _ = c.active(Status.MAINTENANCE.value)
    return np.round(np.where(m, 0.0, v), 2)


def _cycles(c: _Ctx) -> np.ndarray:
    rate = 1.0 + 18 * _bump(c.h, 8.5, 1.8) + 6 * ((c.h > 11) & (c.h < 20)) + 4 * c.const(1)
    v = np.maximum(0.0, rate * (1 + 0.35 * c.white(2)))
    m, _ = c.active("bollard stuck in raised position", "bollard stuck in lowered position")
    v = np.where(m, 0.0, v)
    m, _ = c.active("hydraulic pressure low")
    return np.round(np.where(m, v * 0.5, v), 1)


def _badges(c: _Ctx) -> np.ndarray:
    size = 10 + 50 * c.const(1)
    open_h = (c.h > 7.5) & (c.h < 18.5)
    weekday = c.dow < 5
    base = np.where(open_h, np.where(weekday, 1.0, 0.15), 0.02)
    arrivals = 1 + 1.5 * _bump(c.h, 8.2, 0.6) + 0.8 * _bump(c.h, 13.5, 0.7) + 1.2 * _bump(c.h, 17.0, 0.8)
    v = np.maximum(0.0, size * base * arrivals * (1 + 0.3 * c.white(2)))
    m, _ = c.active("badge reader fault")
    v = np.where(m, 0.0, v)
    m, _ = c.active("door held open")
    return np.round(np.where(m, v * 0.2, v), 1)


BAY_BLOCK_S = 300.0


def _bay_block_occupied(seed: int, h_block: np.ndarray, dow: np.ndarray, block: np.ndarray) -> np.ndarray:
    p = 0.05 + 0.65 * _bump(h_block, 9.5, 2.2) + 0.3 * _bump(h_block, 15.0, 2.5)
    p = np.where(dow == 6, p * 0.2, p)  # Sunday
    return (_hash01(seed, 77, block) < p).astype(np.float64)


def bay_occupied(seed: int, t: float) -> bool:
    """Whether a bay is occupied at t (the simulator publishes this, matching the telemetry)."""
    block = np.array([math.floor(t / BAY_BLOCK_S)], dtype=np.int64)
    h, dow = _local_hour(block * BAY_BLOCK_S + BAY_BLOCK_S / 2)
    return bool(_bay_block_occupied(seed, h, dow, block)[0] > 0)


def _occupancy(c: _Ctx) -> np.ndarray:
    """Share of the last 15 minutes during which the bay was occupied (5-minute occupancy blocks)."""
    win = 900.0
    first = np.floor((c.t - win) / BAY_BLOCK_S).astype(np.int64)
    total = np.zeros(c.t.shape)
    for j in range(4):
        b = first + j
        lo = np.maximum(c.t - win, b * BAY_BLOCK_S)
        hi = np.minimum(c.t, (b + 1) * BAY_BLOCK_S)
        overlap = np.clip(hi - lo, 0.0, BAY_BLOCK_S)
        h, dow = _local_hour(b * BAY_BLOCK_S + BAY_BLOCK_S / 2)
        total += overlap * _bay_block_occupied(c.seed, h, dow, b)
    v = 100.0 * total / win
    m, el = c.active("overstay")
    v = np.where(m, np.maximum(v, np.minimum(100.0, 100.0 * el / win + 40.0)), v)
    m, _ = c.active("occupancy sensor fault")
    return np.round(np.where(m, 0.0, v), 1)


def _demand(c: _Ctx) -> np.ndarray:
    return 0.35 + 0.55 * _bump(c.h, 7.5, 1.5) + 0.45 * _bump(c.h, 19.5, 2.0) + 0.25 * _bump(c.h, 12.5, 1.5)


def _pressure(c: _Ctx) -> np.ndarray:
    base = 3.7 + 1.1 * c.const(1)
    v = base - 0.45 * _demand(c) + 0.06 * c.smooth(2, 600) + 0.02 * c.white(3)
    m, el = c.active("pressure low")
    v = np.where(m, v - 1.6 * (1 - np.exp(-el / 300.0)), v)
    m, el = c.active("leak suspected")
    v = np.where(m, v - 0.8 * (1 - np.exp(-el / 600.0)), v)
    return np.round(np.maximum(v, 0.2), 3)


def _flow(c: _Ctx) -> np.ndarray:
    diameter = float(c.attrs.get("diameter_mm", "200") or 200)
    base = 40.0 * (diameter / 200.0) ** 2 * (0.7 + 0.6 * c.const(4))
    v = base * _demand(c) * (1 + 0.05 * c.smooth(5, 300)) * (1 + 0.02 * c.white(6))
    m, el = c.active("leak suspected")
    v = np.where(m, v + 0.6 * base * (1 - np.exp(-el / 600.0)), v)
    m, el = c.active("pressure low")
    v = np.where(m, v * (1 - 0.3 * (1 - np.exp(-el / 300.0))), v)
    return np.round(v, 2)


def _passengers(c: _Ctx) -> np.ndarray:
    """A sawtooth: people accumulate at the hour's arrival rate and a tram takes them every headway."""
    service = (c.h >= 5.0) | (c.h < 0.5)
    peak = ((c.h >= 7) & (c.h < 9.5)) | ((c.h >= 16) & (c.h < 19.5))
    headway = np.where(peak, 360.0, np.where((c.h >= 6) & (c.h < 21), 600.0, 900.0))
    phase = c.const(1) * 900.0
    since = (c.t + phase) % headway
    per_min = (1.0 + 5.0 * c.const(2)) * (0.3 + traffic_profile(c.h, c.dow))
    m, el = c.active("service disrupted")
    since = np.where(m, el + since, since)
    v = per_min * since / 60.0 * (1 + 0.1 * c.white(3))
    v = np.where(service | m, np.minimum(v, 250.0), 0.0)
    return np.round(v)


SPEED_BLOCK_S = 90.0
INTERVENTION_S = 1800.0


def _speed(c: _Ctx) -> np.ndarray:
    """Drive at 20–50 km/h with short stops; technical vehicles also park for interventions."""
    technical = c.technical
    cruise = 35.0 + 15.0 * c.smooth(1, 25.0)
    cruise = cruise * (1 + 0.03 * c.white(2))

    def moving(block: np.ndarray) -> np.ndarray:
        go = _hash01(c.seed, 3, block) >= np.where(technical, 0.2, 0.12)
        parked = _hash01(c.seed, 4, np.floor(block * SPEED_BLOCK_S / INTERVENTION_S).astype(np.int64)) < 0.35
        go &= ~(parked & technical)
        return go.astype(np.float64)

    blk = np.floor(c.t / SPEED_BLOCK_S).astype(np.int64)
    g_now, g_prev = moving(blk), moving(blk - 1)
    ramp = np.clip((c.t - blk * SPEED_BLOCK_S) / 10.0, 0.0, 1.0)
    v = cruise * (g_prev + (g_now - g_prev) * ramp)
    return np.round(np.maximum(v, 0.0), 1)


MODELS: dict[str, Callable[[_Ctx], np.ndarray]] = {
    "bitrate_kbps": _bitrate,
    "vehicles_per_min": _vehicles,
    "power_w": _power,
    "cycles_per_h": _cycles,
    "badge_events_per_h": _badges,
    "occupancy_pct": _occupancy,
    "pressure_bar": _pressure,
    "flow_m3h": _flow,
    "passengers_waiting": _passengers,
    "speed_kmh": _speed,
}
_SALT = {name: i * 1000 for i, name in enumerate(MODELS)}


def evaluate(
    seed: int,
    metric: str,
    t: np.ndarray,
    period_s: float,
    attributes: Mapping[str, str] | None = None,
    anomalies: Iterable[Anomaly] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Values of `metric` at times t (grid points), minus the samples an outage suppressed."""
    t = np.asarray(t, dtype=np.float64)
    k = np.round(t / period_s).astype(np.int64)
    anomalies = list(anomalies)
    ctx = _Ctx(seed ^ _SALT[metric], t, k, attributes or {}, anomalies)
    values = MODELS[metric](ctx).astype(np.float64)
    keep = np.ones(t.shape, dtype=bool)
    for a in anomalies:
        if a.status is Status.OFFLINE:
            keep &= ~a.mask(t)
    if keep.all():
        return t, values
    return t[keep], values[keep]


def series(
    kind: Kind,
    seed: int,
    metric: str,
    start: float,
    end: float,
    max_points: int,
    attributes: Mapping[str, str] | None = None,
    anomalies: Iterable[Anomaly] = (),
) -> list[Series]:
    """Series for one metric of an asset kind, or for all of them when `metric` is ""."""
    out = []
    for info in METRICS.get(kind, ()):
        if metric and info.name != metric:
            continue
        k = grid_indices(info.period_s, start, end, max_points)
        times, values = evaluate(seed, info.name, k * info.period_s, info.period_s, attributes, anomalies)
        out.append(Series(info, times, values))
    return out


def vehicle_speeds(seeds: list[int], fleets: list[str], t: float) -> np.ndarray:
    """Speeds (km/h) the simulator drives its vehicles at time t: the telemetry model, vectorised."""
    n = len(seeds)
    tt = np.full(n, float(t))
    seed_arr = np.array(seeds, dtype=np.uint64) ^ np.uint64(_SALT["speed_kmh"])
    ctx = _Ctx(seed_arr, tt, np.round(tt).astype(np.int64), {}, ())
    ctx.technical = np.array([f == "technical" for f in fleets], dtype=bool)
    return _speed(ctx)
