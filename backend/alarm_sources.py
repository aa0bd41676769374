"""What raises and clears alarms: device statuses, simulated field events, and benchmark floods.

The engine stays generic (source keys, causes, priorities); this module knows devices:

* `StatusAlarms` follows the asset store (any device network, real cameras included): FAULT ->
  "device_fault" (priority 2), OFFLINE -> "device_offline" (3), a water sensor's "pressure low"
  -> "pressure_low" (2), an access point's "door forced" -> "door_forced" (1). A condition clears
  when the status no longer says it. MAINTENANCE suppresses the asset's alarms (kept, not cleared).
* `SimulatedEvents` (with the simulated city): bollard forced (1), door forced (1), badge denied
  repeatedly (3), camera-detected bus-lane blocked (4) and delivery-bay misuse (3), a few per
  minute city-wide, each clearing after a plausible time.
* `--alarm-rate R`: R synthetic alarms per second on random devices, each clearing after 5-60 s.
* With the simulated city, its field staff acknowledge the city's own returned alarms that nobody
  did: those returned more than RETURNED_KEEP_S ago, and the oldest beyond MAX_RETURNED, at start
  and every TIDY_S. Without this, alarms returned during earlier runs pile up to hundreds; real
  devices' alarms (catalogue cameras) are never touched.

Alarm positions are the asset's; `CameraCoverage` picks up to 3 cameras looking at the spot.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
import time

import numpy as np

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.revlog import AssetStore, HistoryExpired

log = logging.getLogger(__name__)

# The simulated city's own returned, unacknowledged alarms: how long and how many are left to the
# operators before its field staff acknowledge them (keeps the demo at tens of open alarms).
RETURNED_KEEP_S = 15 * 60.0
MAX_RETURNED = 20
TIDY_S = 30.0
FIELD_STAFF = "simulated city (field staff)"

CONE_HALF_DEG = 35.0
CONE_RANGE_M = 250.0
FALLBACK_RANGE_M = 400.0
MAX_CAMERAS = 3
TICK_S = 0.05

# (kind or None for any, status, reason or None for any) -> (cause, priority, message)
STATUS_RULES: list[tuple[Kind | None, Status, str | None, str, int, str]] = [
    (Kind.WATER_SENSOR, Status.WARNING, "pressure low", "pressure_low", 2, "Water pressure low"),
    (Kind.ACCESS_POINT, Status.WARNING, "door forced", "door_forced", 1, "Door forced"),
    # Transit headways past their thresholds (docs/transport.md): the vehicle reports them.
    (Kind.VEHICLE, Status.WARNING, "bunching", "transit_bunching", 3, "Bunching"),
    (Kind.VEHICLE, Status.WARNING, "service gap", "transit_gap", 3, "Service gap"),
    (None, Status.FAULT, None, "device_fault", 2, "Device fault"),
    (None, Status.OFFLINE, None, "device_offline", 3, "Device offline"),
]
STATUS_CAUSES = {r[3] for r in STATUS_RULES}

# cause, kind, priority, events per minute city-wide, mean duration s, message
EVENTS: list[tuple[str, Kind, int, float, float, str]] = [
    ("bollard_forced", Kind.BOLLARD, 1, 0.5, 120.0, "Bollard forced by a vehicle"),
    ("door_forced", Kind.ACCESS_POINT, 1, 0.5, 90.0, "Door forced"),
    ("badge_denied", Kind.ACCESS_POINT, 3, 1.0, 60.0, "Badge denied repeatedly"),
    ("bus_lane_blocked", Kind.CAMERA, 4, 1.5, 180.0, "Bus lane blocked (detected by camera)"),
    ("delivery_misuse", Kind.DELIVERY_BAY, 3, 1.0, 300.0, "Delivery bay used by a non-delivery vehicle"),
]


def _is_event_key(source_key: str) -> bool:
    """Simulated events and synthetic alarms: only this module clears them (on a timer)."""
    return source_key.endswith(":event") or ":synthetic:" in source_key


class CameraCoverage:
    """Cameras whose viewing cone (heading ± 35°, 250 m) covers a spot, nearest first."""

    def __init__(self, cameras: list[Asset]) -> None:
        self.ids = [c.id for c in cameras]
        self.lat = np.array([c.lat for c in cameras], dtype=float)
        self.lon = np.array([c.lon for c in cameras], dtype=float)
        self.heading = np.array([c.heading_deg for c in cameras], dtype=float)

    def cameras_for(self, lat: float, lon: float, exclude: str = "") -> list[str]:
        """Up to 3 covering cameras; without any, the nearest within 400 m."""
        if not self.ids:
            return []
        dx = (lon - self.lon) * 111_320.0 * math.cos(math.radians(lat))  # camera -> spot, metres
        dy = (lat - self.lat) * 111_320.0
        dist = np.hypot(dx, dy)
        bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
        off = np.abs((bearing - self.heading + 180.0) % 360.0 - 180.0)
        mask = (dist <= CONE_RANGE_M) & ((off <= CONE_HALF_DEG) | (dist < 5.0))
        picked = self._nearest(np.flatnonzero(mask), dist, exclude)
        if not picked:
            picked = self._nearest(np.flatnonzero(dist <= FALLBACK_RANGE_M), dist, exclude)
        return picked

    def _nearest(self, idx: np.ndarray, dist: np.ndarray, exclude: str) -> list[str]:
        order = idx[np.argsort(dist[idx], kind="stable")]
        return [self.ids[i] for i in order if self.ids[i] != exclude][:MAX_CAMERAS]


class AlarmSources:
    """Runs the alarm sources on the loop: status follower, simulated events, synthetic flood."""

    def __init__(
        self,
        engine: AlarmEngine,
        store: AssetStore,
        simulated_events: bool = False,
        alarm_rate: float = 0.0,
        seed: int = 1,
    ) -> None:
        self.engine = engine
        self.store = store
        self.simulated_events = simulated_events
        self.alarm_rate = max(0.0, alarm_rate)
        self._rng = random.Random(seed * 31 + 5)
        self._coverage = CameraCoverage([])
        self._status: dict[str, tuple[Status, str]] = {}
        self._clears: list[tuple[float, int, str]] = []  # (due unix time, tiebreak, source key)
        self._n = 0
        self._tasks: list[asyncio.Task] = []
        self.raised = 0  # alarms raised by these sources (benchmarks)

    async def start(self) -> None:
        """Catch up with the current statuses (raising/clearing what changed while we were down)."""
        now = time.time()
        self._coverage = CameraCoverage([a for a in self.store.assets() if a.kind is Kind.CAMERA])
        rev = self.store.revision  # read with the resync: a change published after it is followed
        self._resync_statuses(now)
        self.tidy_returned(now)
        # Event alarms left active by a previous run (or a cluster's previous leader): nobody will
        # clear them otherwise. New synthetic keys are numbered after theirs, never one of them.
        for a in self.engine.open_alarms():
            if ":synthetic:" in a.source_key:
                with contextlib.suppress(ValueError):
                    self._n = max(self._n, int(a.source_key.rsplit(":", 1)[1]))
            if a.active and _is_event_key(a.source_key):
                self._schedule_clear(a.source_key, now + self._rng.uniform(5.0, 60.0))
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._follow_statuses(rev), name="alarms-status"),
            loop.create_task(self._ticker(), name="alarms-ticker"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(*tasks)

    # --- device statuses ------------------------------------------------------------------------------

    def cameras_for(self, asset: Asset) -> list[str]:
        return self._coverage.cameras_for(asset.lat, asset.lon, exclude=asset.id)

    def _resync_statuses(self, now: float) -> None:
        self._status.clear()
        present: set[str] = set()
        for a in self.store.assets():
            self._on_asset(a, now)
            present.add(a.id)
        # Status alarms whose asset is fine now (or gone) clear.
        for al in self.engine.open_alarms():
            if (
                al.active
                and not _is_event_key(al.source_key)
                and al.cause in STATUS_CAUSES
                and not al.suppressed
                and al.cause not in self._conditions_of(al.asset_id)
            ):
                self.engine.clear(al.source_key, now)

    def _conditions_of(self, asset_id: str) -> set[str]:
        a = self.store.get(asset_id)
        if a is None:
            return set()
        return {c for c, _, _ in _status_conditions(a)}

    def _on_asset(self, a: Asset, now: float) -> None:
        key = (a.status, a.status_reason)
        before = self._status.get(a.id)
        if before == key:
            return
        self._status[a.id] = key
        engine = self.engine
        was_maintenance = before is not None and before[0] is Status.MAINTENANCE
        if a.status is Status.MAINTENANCE:
            engine.set_suppressed(a.id, True, now)
            return  # conditions stay as they were, suppressed
        if was_maintenance or before is None:
            engine.set_suppressed(a.id, False, now)
        wanted = _status_conditions(a)
        causes = {c for c, _, _ in wanted}
        if was_maintenance:
            # What held before the maintenance is not known here: clear every status alarm of the
            # asset that its status no longer says (a fault repaired during the maintenance).
            stale = [
                al.source_key
                for al in engine.open_alarms()
                if al.asset_id == a.id
                and al.active
                and al.cause in STATUS_CAUSES
                and al.cause not in causes
                and not _is_event_key(al.source_key)
            ]
            for source_key in stale:
                engine.clear(source_key, now)
        elif before is not None:
            for cause in {c for c, _, _ in _status_conditions_for(a.kind, *before)} - causes:
                engine.clear(f"{a.id}:{cause}", now)
        for cause, priority, message in wanted:  # raising an active condition again changes nothing
            engine.raise_alarm(f"{a.id}:{cause}", a, cause, priority, message, now, self.cameras_for(a))

    async def _follow_statuses(self, rev: int) -> None:
        while True:
            try:
                await self.store.wait_for_change(rev, 1.0)
                try:
                    changes = self.store.changes_after(rev)
                except HistoryExpired:
                    rev = self.store.revision
                    self._resync_statuses(time.time())
                    continue
                if changes:
                    rev = changes[-1].revision
                    now = time.time()
                    for a in changes:
                        self._on_asset(a, now)
            except Exception:  # one bad change must not stop alarms
                log.exception("status alarm source failed")
                await asyncio.sleep(1.0)

    # --- the simulated city's field staff -------------------------------------------------------------

    def _simulated(self, source_key: str, asset_id: str) -> bool:
        """Raised by the simulation: its events, or a status of a simulated device (catalogue
        cameras carry a 'source' attribute: their alarms are real and left to the operators).
        --alarm-rate's synthetic alarms are a benchmark's load, left as they are."""
        if ":synthetic:" in source_key:
            return False
        if source_key.endswith(":event"):
            return True
        a = self.store.get(asset_id)
        return a is not None and "source" not in a.attributes

    def tidy_returned(self, now: float) -> int:
        """Acknowledge the simulated city's stale returned alarms; returns how many."""
        if not self.simulated_events:
            return 0
        returned = sorted(
            (
                a
                for a in self.engine.open_alarms()
                if not a.active and not a.acknowledged and self._simulated(a.source_key, a.asset_id)
            ),
            key=lambda a: a.cleared_at,
        )
        stale = [a.id for i, a in enumerate(returned) if i < len(returned) - MAX_RETURNED]
        stale += [a.id for a in returned[len(stale) :] if a.cleared_at < now - RETURNED_KEEP_S]
        if stale:
            self.engine.acknowledge(stale, FIELD_STAFF, "returned to normal, checked on site", now)
            log.info("the simulated city's field staff acknowledged %d returned alarms", len(stale))
        return len(stale)

    # --- timed events ---------------------------------------------------------------------------------

    def _schedule_clear(self, source_key: str, due: float) -> None:
        self._n += 1
        heapq.heappush(self._clears, (due, self._n, source_key))

    async def _ticker(self) -> None:
        """Every 50 ms: due clears, shelf expiry, simulated events and the synthetic flood."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        owed = 0.0
        pools: dict[Kind, list[str]] = {}
        devices: list[str] = []
        known = -1  # assets in the pools
        rng = self._rng
        next_tidy = loop.time() + TIDY_S
        while True:
            await asyncio.sleep(TICK_S)
            try:
                if len(self.store) != known:  # a cluster's first leader fills the store as it leads
                    known = len(self.store)
                    devices, pools = self._pools()
                now_l = loop.time()
                dt, last = now_l - last, now_l
                now = time.time()
                if now_l >= next_tidy:
                    next_tidy = now_l + TIDY_S
                    self.tidy_returned(now)
                while self._clears and self._clears[0][0] <= now:
                    _, _, key = heapq.heappop(self._clears)
                    self.engine.clear(key, now)
                self.engine.expire_shelves(now)
                if self.simulated_events:
                    for cause, kind, priority, per_min, mean_s, message in EVENTS:
                        pool = pools.get(kind)
                        if pool and rng.random() < per_min / 60.0 * dt:
                            self._raise_event(rng.choice(pool), cause, priority, message, now, mean_s)
                if self.alarm_rate > 0 and devices:
                    owed += self.alarm_rate * dt
                    n = min(int(owed), int(self.alarm_rate) + 1)
                    owed -= n
                    for _ in range(n):
                        self._n += 1
                        a = self.store.get(rng.choice(devices))
                        if a is None:
                            continue
                        key = f"{a.id}:synthetic:{self._n}"
                        self.engine.raise_alarm(
                            key, a, "synthetic", rng.randint(1, 4), "Synthetic alarm (benchmark)", now
                        )
                        self.raised += 1
                        self._schedule_clear(key, now + rng.uniform(5.0, 60.0))
            except Exception:
                log.exception("alarm ticker failed")

    def _pools(self) -> tuple[list[str], dict[Kind, list[str]]]:
        """The devices synthetic alarms pick from, and the assets of each kind (events); the
        cameras covering alarm spots are taken again with them."""
        pools: dict[Kind, list[str]] = {}
        for a in self.store.assets():
            pools.setdefault(a.kind, []).append(a.id)
        self._coverage = CameraCoverage([a for a in self.store.assets() if a.kind is Kind.CAMERA])
        return [a.id for a in self.store.assets() if a.kind is not Kind.VEHICLE], pools

    def _raise_event(
        self, asset_id: str, cause: str, priority: int, message: str, now: float, mean_s: float
    ) -> None:
        a = self.store.get(asset_id)
        if a is None:
            return
        key = f"{a.id}:{cause}:event"
        changed = self.engine.raise_alarm(
            key, a, cause, priority, message, now, camera_ids=self.cameras_for(a)
        )
        if changed is not None:
            self.raised += 1
            duration = min(600.0, max(20.0, self._rng.expovariate(1.0 / mean_s)))
            self._schedule_clear(key, now + duration)


def _status_conditions(a: Asset) -> list[tuple[str, int, str]]:
    return _status_conditions_for(a.kind, a.status, a.status_reason)


def _status_conditions_for(kind: Kind, status: Status, reason: str) -> list[tuple[str, int, str]]:
    """(cause, priority, message) of the first matching rule; none for OK / MAINTENANCE."""
    for r_kind, r_status, r_reason, cause, priority, message in STATUS_RULES:
        if (
            status is r_status
            and (r_kind is None or r_kind is kind)
            and (r_reason is None or r_reason == reason)
        ):
            # "Door forced: door forced" says nothing twice: add the reason only when it adds something.
            detail = reason and reason.lower() != message.lower() and reason.lower() not in message.lower()
            return [(cause, priority, f"{message}: {reason}" if detail else message)]
    return []
