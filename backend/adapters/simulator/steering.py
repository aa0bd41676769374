"""A vehicle driven along a given route (a dispatched crew) instead of its random patrol.

The simulator asks `advance(dt)` on each tick for the vehicle's new place: the route's polyline in
local metres, each leg at its road speed (times `speedup`, for tests and demos in a hurry). At the
end the vehicle stays parked there until the dispatch releases it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from vigie.backend.adapters.simulator.city import bearing_deg


class Steering:
    def __init__(
        self, points: Sequence[tuple[float, float]], speeds_mps: Sequence[float], speedup: float = 1.0
    ) -> None:
        """`points` in local metres (x east, y north), `speeds_mps` one per leg."""
        if len(points) < 2 or len(speeds_mps) != len(points) - 1:
            raise ValueError("a route needs two points or more and one speed per leg")
        self.points = list(points)
        self.speeds = [max(0.5, s) * speedup for s in speeds_mps]
        self.leg = 0
        self.along = 0.0  # metres into the current leg
        self.heading = bearing_deg(*self.points[0], *self.points[1])

    @property
    def arrived(self) -> bool:
        return self.leg >= len(self.speeds)

    def position(self) -> tuple[float, float]:
        if self.arrived:
            return self.points[-1]
        (x0, y0), (x1, y1) = self.points[self.leg], self.points[self.leg + 1]
        length = math.hypot(x1 - x0, y1 - y0)
        f = self.along / length if length > 0 else 1.0
        return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f

    def advance(self, dt: float) -> tuple[float, float, float, float]:
        """Drive for `dt` seconds: (x, y, heading in degrees, speed in km/h)."""
        left = dt
        speed = 0.0
        while left > 0 and not self.arrived:
            (x0, y0), (x1, y1) = self.points[self.leg], self.points[self.leg + 1]
            length = math.hypot(x1 - x0, y1 - y0)
            speed = self.speeds[self.leg]
            if length > 0:
                self.heading = bearing_deg(x0, y0, x1, y1)
            need = (length - self.along) / speed
            if need > left:
                self.along += speed * left
                left = 0.0
            else:
                left -= need
                self.leg += 1
                self.along = 0.0
        x, y = self.position()
        return x, y, self.heading, 0.0 if self.arrived else speed * 3.6
