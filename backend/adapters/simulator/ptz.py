"""Pan/tilt/zoom head of a simulated PTZ camera, shared by every viewer of that camera.

The state is a pure function of time (start position + speeds until a deadline), so nothing
has to tick: renderers in worker threads ask `state()` for the current position and the gRPC
handler changes the motion under a lock.
"""

from __future__ import annotations

import threading
import time

from vigie.backend.adapters.base import PtzAction, PtzCommand, PtzError, PtzPreset, PtzState

PAN_DPS = 60.0  # degrees per second at full speed
TILT_DPS = 30.0
ZOOM_PS = 2.0  # zoom factor units per second at full speed
TILT_MIN, TILT_MAX = -90.0, 20.0
ZOOM_MIN, ZOOM_MAX = 1.0, 10.0
PRESET_NAMES = ("Carrefour", "Trottoir nord", "Trottoir sud", "Vue large")


def default_presets(home_pan: float) -> tuple[PtzPreset, ...]:
    """Four presets around the camera's mounting direction (deterministic per camera)."""
    spots = ((0.0, -8.0, 2.5), (35.0, -15.0, 3.0), (-35.0, -15.0, 3.0), (0.0, 0.0, 1.0))
    return tuple(
        PtzPreset(i + 1, name, round((home_pan + dp) % 360.0, 1), dt, z)
        for i, (name, (dp, dt, z)) in enumerate(zip(PRESET_NAMES, spots, strict=True))
    )


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


class PtzHead:
    """Thread-safe PTZ state; starts at the camera's heading, level, widest zoom."""

    def __init__(self, home_pan: float, presets: tuple[PtzPreset, ...] | None = None) -> None:
        self.home_pan = float(home_pan) % 360.0
        self.presets = presets if presets is not None else default_presets(self.home_pan)
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._base = (self.home_pan, 0.0, 1.0)
        self._speed = (0.0, 0.0, 0.0)
        self._until = self._t0

    def _at(self, now: float) -> PtzState:
        dt = max(0.0, min(now, self._until) - self._t0)
        p0, t0, z0 = self._base
        vp, vt, vz = self._speed
        return PtzState(
            (p0 + vp * PAN_DPS * dt) % 360.0,
            _clamp(t0 + vt * TILT_DPS * dt, TILT_MIN, TILT_MAX),
            _clamp(z0 + vz * ZOOM_PS * dt, ZOOM_MIN, ZOOM_MAX),
        )

    def state(self, now: float | None = None) -> PtzState:
        with self._lock:
            return self._at(time.monotonic() if now is None else now)

    def _rebase(self, now: float, speed: tuple[float, float, float], until: float) -> PtzState:
        s = self._at(now)
        self._t0, self._base, self._speed, self._until = now, (s.pan_deg, s.tilt_deg, s.zoom), speed, until
        return s

    def apply(self, cmd: PtzCommand) -> tuple[PtzState, str]:
        """Run a validated command; returns the state right after it and an operator message."""
        now = time.monotonic()
        with self._lock:
            if cmd.action is PtzAction.MOVE:
                self._rebase(now, (cmd.pan, cmd.tilt, cmd.zoom), now + cmd.timeout_s)
                msg = f"moving (pan {cmd.pan:+.2f}, tilt {cmd.tilt:+.2f}, zoom {cmd.zoom:+.2f}) for up to {cmd.timeout_s:g} s"
            elif cmd.action is PtzAction.STOP:
                self._rebase(now, (0.0, 0.0, 0.0), now)
                msg = "stopped"
            else:
                preset = next((p for p in self.presets if p.number == cmd.preset), None)
                if preset is None:
                    numbers = ", ".join(str(p.number) for p in self.presets)
                    raise PtzError(
                        "invalid_argument", f"unknown preset {cmd.preset}; this camera has {numbers}"
                    )
                self._t0, self._until = now, now
                self._base = (preset.pan_deg, preset.tilt_deg, preset.zoom)
                self._speed = (0.0, 0.0, 0.0)
                msg = f"preset {preset.number} \u00ab{preset.name}\u00bb"
            return self._at(now), msg
