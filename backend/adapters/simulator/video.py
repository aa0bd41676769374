"""A synthetic street camera drawn with OpenCV, so the console has live video without real feeds.

The static scene (sky, façades, road, markings) is rendered once per brightness level and
cached; a frame is a copy of that background plus a dozen vehicles and the OSD text, which
keeps rendering in the low milliseconds. Everything varies deterministically with the camera id
and vehicle positions are a pure function of time, so two viewers of a camera see the same street.
"""

from __future__ import annotations

import random
import time
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from vigie.backend.adapters.base import PtzState, VideoSource
from vigie.backend.adapters.simulator import city_zone
from vigie.backend.adapters.simulator.ptz import PtzHead

DEFAULT_FPS = 15.0
MAX_FPS = 30.0
H_FOV_DEG = 60.0  # horizontal field of view at zoom 1: panning this far scrolls one picture width
PTZ_MARGIN = 1.25  # a PTZ camera's widest view crops the scene by this factor, leaving room to tilt
TILT_SPAN_DEG = 40.0  # tilting this far moves the view by half a picture (clamped to the scene)
Z_NEAR = 7.0  # ground distance (m) seen at the bottom row
Z_FAR = 120.0
LOOP_M = 160.0  # each lane replays its vehicles every LOOP_M metres
VEHICLE_COLOURS = [
    (235, 235, 235),
    (30, 30, 30),
    (160, 160, 165),
    (40, 40, 170),
    (150, 80, 20),
    (40, 110, 40),
    (20, 150, 220),
    (90, 60, 120),
    (200, 200, 205),
    (70, 70, 75),
    (30, 60, 140),
    (180, 180, 60),
]


def ascii_osd(text: str) -> str:
    """Hershey fonts only draw ASCII: strip accents and map typographic dashes."""
    text = text.replace("—", "-").replace("–", "-").replace("’", "'")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True, slots=True)
class _Car:
    lane: int
    offset_m: float
    speed_mps: float
    colour: tuple[int, int, int]
    width_m: float
    height_m: float


class SyntheticCamera(VideoSource):
    """A fake CCTV feed for one camera; `read()` paces itself to `fps` on a monotonic clock."""

    def __init__(
        self,
        camera_id: str,
        name: str,
        width: int = 640,
        height: int = 360,
        max_fps: float = 0,
        ptz: PtzHead | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.tz = tz or city_zone.zone()  # the city's time, burned in and setting day and night
        self.ptz = ptz  # shared with the other viewers of this camera
        self.name = name
        self.width = int(width) if width and width > 0 else 640
        self.height = int(height) if height and height > 0 else 360
        self.fps = float(min(max_fps or DEFAULT_FPS, MAX_FPS)) if max_fps and max_fps > 0 else DEFAULT_FPS
        self._seq = 0
        self._next_due: float | None = None
        rng = random.Random(zlib.crc32(camera_id.encode()))
        w, h = self.width, self.height
        self._horizon = int(h * rng.uniform(0.34, 0.46))
        self._vx = w * rng.uniform(0.38, 0.62)
        self._lanes = rng.choice((2, 2, 3, 4))
        self._lane_w = 3.4
        self._road_half = self._lanes * self._lane_w / 2
        self._focal = w * rng.uniform(0.42, 0.6) * Z_NEAR / self._road_half  # px per metre at z = 1
        self._shift_m = rng.uniform(-1.5, 1.5)  # camera not exactly on the road axis
        self._sky = tuple(
            int(c) for c in (rng.uniform(170, 230), rng.uniform(140, 190), rng.uniform(100, 150))
        )
        self._asphalt = int(rng.uniform(70, 100))
        self._facades = [tuple(int(rng.uniform(90, 210)) for _ in range(3)) for _ in range(12)]
        self._scene_rng_seed = rng.getrandbits(32)
        self._cars = [
            _Car(
                lane=lane,
                offset_m=rng.uniform(0, LOOP_M),
                speed_mps=rng.uniform(7, 14),
                colour=rng.choice(VEHICLE_COLOURS),
                width_m=rng.choice((1.8, 1.8, 1.8, 2.1, 2.5)),
                height_m=rng.uniform(1.4, 1.6),
            )
            for lane in range(self._lanes)
            for _ in range(rng.randint(2, 4))
        ]
        self._cars = [
            _Car(
                c.lane,
                c.offset_m,
                c.speed_mps,
                c.colour,
                c.width_m,
                c.height_m * (2.0 if c.width_m > 2.4 else 1.0),
            )
            for c in self._cars
        ]
        self._font_scale = max(0.35, h / 720 * 0.8)
        self._thick = max(1, round(h / 500))
        self._osd_name = ascii_osd(name)
        self._backgrounds: dict[int, np.ndarray] = {}
        self._background(self._level(time.time(), self.tz))  # pre-render now, not on the first read()
        grain = np.random.default_rng(self._scene_rng_seed)
        self._grain = [grain.integers(0, 7, (h, w, 1), dtype=np.uint8).repeat(3, axis=2) for _ in range(3)]

    # --- geometry -----------------------------------------------------------------------------------

    def _project(self, x_m: float, z: float) -> tuple[float, float]:
        """Screen position of a ground point x metres right of the road axis, z metres ahead."""
        y = self._horizon + (self.height - self._horizon) * Z_NEAR / z
        return self._vx + (x_m - self._shift_m) * self._focal / z, y

    @staticmethod
    def _level(t: float, tz: ZoneInfo) -> int:
        """Brightness level 0 (night) .. 5 (day) from the city's local hour."""
        lt = datetime.fromtimestamp(t, tz)
        hour = lt.hour + lt.minute / 60
        light = min(1.0, max(0.0, (hour - 6.0) / 2.0)) * min(1.0, max(0.0, (21.5 - hour) / 2.0))
        return round(light * 5)

    def _background(self, level: int) -> np.ndarray:
        bg = self._backgrounds.get(level)
        if bg is None:
            bg = self._render_background(level)
            self._backgrounds[level] = bg
        return bg

    def _render_background(self, level: int) -> np.ndarray:
        w, h, hz = self.width, self.height, self._horizon
        light = 0.25 + 0.75 * level / 5
        rng = random.Random(self._scene_rng_seed)
        img = np.empty((h, w, 3), dtype=np.uint8)
        ramp = np.linspace(0.75, 1.1, hz, dtype=np.float32)[:, None]
        sky = np.array(self._sky, dtype=np.float32)[None, :] * ramp * light
        if level == 0:
            sky = sky * 0.35 + np.array([40, 20, 10], dtype=np.float32)
        img[:hz] = np.clip(sky, 0, 255).astype(np.uint8)[:, None, :]
        img[hz:] = np.uint8(self._asphalt * 0.8 * light + 10)

        def shade(c: tuple[int, ...], f: float = 1.0) -> tuple[int, int, int]:
            return tuple(int(min(255, v * light * f)) for v in c)  # type: ignore[return-value]

        # Skyline at the far end of the street.
        x = 0
        while x < w:
            bw = int(rng.uniform(0.05, 0.12) * w)
            top = int(hz - rng.uniform(0.08, 0.3) * h)
            cv2.rectangle(img, (x, top), (x + bw, hz), shade(rng.choice(self._facades), 0.7), -1)
            x += bw
        # Sidewalks and façades on both sides, in perspective towards the vanishing point.
        z_far = Z_FAR
        for side in (-1, 1):
            kerb = side * self._road_half
            walk = side * (self._road_half + 3.0)
            pts = [
                self._project(kerb, Z_NEAR * 0.7),
                self._project(walk, Z_NEAR * 0.7),
                self._project(walk, z_far),
                self._project(kerb, z_far),
            ]
            cv2.fillPoly(img, [np.array(pts, dtype=np.int32)], shade((150, 150, 155)))
            z = Z_NEAR * 0.7
            while z < z_far:
                dz = rng.uniform(6, 14)
                z1 = min(z + dz, z_far)
                height_m = rng.uniform(9, 20)
                colour = shade(rng.choice(self._facades))
                x0, yb0 = self._project(walk, z)
                x1, yb1 = self._project(walk, z1)
                yt0 = yb0 - height_m * self._focal / z
                yt1 = yb1 - height_m * self._focal / z1
                poly = np.array([(x0, yb0), (x1, yb1), (x1, yt1), (x0, yt0)], dtype=np.int32)
                cv2.fillPoly(img, [poly], colour)
                cv2.polylines(img, [poly], True, shade(colour, 0.6), 1)
                for floor in range(1, int(height_m // 3)):  # rows of windows
                    fy0 = yb0 - floor * 3 * self._focal / z
                    fy1 = yb1 - floor * 3 * self._focal / z1
                    for wi in range(1, 4):
                        f = wi / 4
                        wx = x0 + (x1 - x0) * f
                        wy = fy0 + (fy1 - fy0) * f
                        size = max(1, int(0.35 * self._focal / (z + dz * f)))
                        lit = level <= 1 and rng.random() < 0.4
                        wc = (90, 200, 240) if lit else shade((60, 50, 45), 1.0)
                        cv2.rectangle(
                            img,
                            (int(wx - size), int(wy - size)),
                            (int(wx + size), int(wy + size // 2)),
                            wc,
                            -1,
                        )
                z = z1
        # Road edges and dashed lane markings.
        mark = shade((230, 230, 230), 0.9)
        for side in (-1, 1):
            a = self._project(side * self._road_half, Z_NEAR * 0.7)
            b = self._project(side * self._road_half, z_far)
            cv2.line(
                img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), mark, max(1, self._thick), cv2.LINE_AA
            )
        for lane in range(1, self._lanes):
            xm = -self._road_half + lane * self._lane_w
            solid = self._lanes == 4 and lane == 2
            z = Z_NEAR * 0.7
            while z < z_far:
                z1 = z_far if solid else z + 3.0
                p0 = self._project(xm, z)
                p1 = self._project(xm, z1)
                width = max(1, int(0.15 * self._focal / z))
                cv2.line(img, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), mark, width, cv2.LINE_AA)
                z = z1 + 6.0
        if level <= 1:  # street-light pools on the road
            overlay = np.zeros_like(img)
            for z in np.arange(Z_NEAR + 3.0, z_far, 25.0):
                for side in (-1, 1):
                    cx, cy = self._project(side * (self._road_half - 1.0), float(z))
                    r = int(1.4 * self._focal / z)
                    cv2.ellipse(overlay, (int(cx), int(cy)), (r, max(1, r // 3)), 0, 0, 360, (15, 45, 70), -1)
            img = cv2.add(img, cv2.GaussianBlur(overlay, (0, 0), max(1.0, w / 200)))
        return img

    # --- frames -------------------------------------------------------------------------------------

    def render(self, t: float) -> np.ndarray:
        """The picture at unix time t (no pacing): background + vehicles + OSD."""
        level = self._level(t, self.tz)
        frame = self._background(level).copy()
        light = 0.25 + 0.75 * level / 5
        span = Z_FAR - Z_NEAR * 0.6
        placed = []
        for car in self._cars:
            towards = car.lane < self._lanes / 2  # left lanes drive towards the camera
            d = (car.offset_m + car.speed_mps * t) % LOOP_M
            if d > span:
                continue
            z = (Z_FAR - d) if towards else (Z_NEAR * 0.6 + d)
            placed.append((z, car, towards))
        placed.sort(key=lambda p: -p[0])  # paint far to near
        for z, car, towards in placed:
            xm = -self._road_half + (car.lane + 0.5) * self._lane_w
            cx, cy = self._project(xm, z)
            s = self._focal / z
            hw, hh = car.width_m * s / 2, car.height_m * s
            x0, x1, y0, y1 = int(cx - hw), int(cx + hw), int(cy - hh), int(cy)
            colour = tuple(int(c * light) for c in car.colour)
            cv2.rectangle(frame, (x0, y0), (x1, y1), colour, -1)
            glass_y = int(y0 + hh * 0.18)
            cv2.rectangle(
                frame,
                (int(x0 + hw * 0.2), glass_y),
                (int(x1 - hw * 0.2), int(y0 + hh * 0.5)),
                (40, 35, 30),
                -1,
            )
            wheel = max(1, int(0.25 * s))
            cv2.rectangle(frame, (x0, y1 - wheel // 2), (x0 + wheel, y1 + wheel // 2), (15, 15, 15), -1)
            cv2.rectangle(frame, (x1 - wheel, y1 - wheel // 2), (x1, y1 + wheel // 2), (15, 15, 15), -1)
            lamp = max(1, int(0.12 * s))
            ly = int(y0 + hh * 0.72)
            lamp_colour = (200, 240, 255) if towards else (30, 30, 230)
            if level <= 2 or not towards:
                cv2.circle(frame, (int(x0 + hw * 0.3), ly), lamp, lamp_colour, -1)
                cv2.circle(frame, (int(x1 - hw * 0.3), ly), lamp, lamp_colour, -1)
        frame = cv2.add(frame, self._grain[int(t * self.fps) % len(self._grain)])
        state = self.ptz.state() if self.ptz is not None else None
        if state is not None:
            frame = self._view(frame, state)
        self._osd(frame, t, state)
        return frame

    def _view(self, frame: np.ndarray, s: PtzState) -> np.ndarray:
        """Point the camera: pan scrolls the street sideways (wrapping), tilt moves a crop window
        up or down, zoom shrinks it. The window always stays inside the picture (a PTZ camera shows
        at most 1/PTZ_MARGIN of the rendered scene), so there are no empty borders. One roll + one warp."""
        assert self.ptz is not None
        w, h = self.width, self.height
        dpan = (s.pan_deg - self.ptz.home_pan + 180.0) % 360.0 - 180.0
        dx = round(dpan / H_FOV_DEG * w) % w
        if dx:
            frame = np.roll(frame, -dx, axis=1)
        eff = PTZ_MARGIN * s.zoom
        half_h = h / eff / 2
        cy = min(h - half_h, max(half_h, h / 2 - s.tilt_deg / TILT_SPAN_DEG * h / 2))  # up: window rises
        m = np.float32([[eff, 0, w / 2 - eff * w / 2], [0, eff, h / 2 - eff * cy]])
        return cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def osd_time(self, t: float) -> str:
        """The date and time burned into the picture taken at unix time t: the city's time."""
        return datetime.fromtimestamp(t, self.tz).strftime("%d/%m/%Y %H:%M:%S")

    def _osd(self, frame: np.ndarray, t: float, ptz: PtzState | None = None) -> None:
        font, scale, th = cv2.FONT_HERSHEY_SIMPLEX, self._font_scale, self._thick
        margin = int(8 * scale / 0.5)
        stamp = self.osd_time(t)
        (tw, tht), _ = cv2.getTextSize(stamp, font, scale, th)
        lines = [
            (self._osd_name, (margin, margin + tht)),
            (stamp, (self.width - tw - margin, self.height - margin)),
        ]
        if ptz is not None:
            text = f"PTZ P{ptz.pan_deg:03.0f} T{ptz.tilt_deg:.0f} Z{ptz.zoom:.1f}"
            lines.append((text, (margin, 2 * (margin + tht))))
        for text, org in lines:
            shadow = (org[0] + 1 + th // 2, org[1] + 1 + th // 2)
            cv2.putText(frame, text, shadow, font, scale, (0, 0, 0), th, cv2.LINE_AA)
            cv2.putText(frame, text, org, font, scale, (255, 255, 255), th, cv2.LINE_AA)

    def read(self) -> tuple[np.ndarray, float, int]:
        """Block until the next frame is due, then render it; drops frames rather than bursting."""
        period = 1.0 / self.fps
        now = time.monotonic()
        if self._next_due is None:
            self._next_due = now
        delay = self._next_due - now
        if delay > 0:
            time.sleep(delay)
        elif delay < -period:
            self._next_due = now  # we fell behind (slow consumer): resynchronise
        self._next_due += period
        self._seq += 1
        captured = time.time()
        return self.render(captured), captured, self._seq

    def close(self) -> None:
        self._backgrounds.clear()
