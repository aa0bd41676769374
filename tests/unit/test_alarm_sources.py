"""The alarm sources that follow device statuses, and the camera cone that picks cameras for an alarm.

Driven through `AlarmSources.start()` and the asset store it follows (a real AssetStore and
AlarmEngine, no mocks). Expected priorities, causes and camera lists are written out here by hand;
camera positions are laid out in metres with margins wide enough that any reasonable
metres-per-degree figure gives the same answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math

from vigie.backend.alarm_sources import AlarmSources, CameraCoverage
from vigie.backend.domain.alarms import AlarmEngine, AlarmState
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.revlog import AssetStore

LAT0, LON0 = 47.32, 5.04  # the spot every camera test looks at
M_PER_DEG_LAT = 111_000.0  # rough on purpose: every distance below is far from a limit


def at(north_m: float, east_m: float) -> tuple[float, float]:
    """The point `north_m` north and `east_m` east of the spot."""
    return (
        LAT0 + north_m / M_PER_DEG_LAT,
        LON0 + east_m / (M_PER_DEG_LAT * math.cos(math.radians(LAT0))),
    )


def camera(cid: str, north_m: float, east_m: float, heading: float) -> Asset:
    lat, lon = at(north_m, east_m)
    return Asset(cid, Kind.CAMERA, cid.upper(), "Centre-Ville", lat, lon, heading_deg=heading)


def polar(cid: str, dist_m: float, bearing_from_spot: float, heading: float) -> Asset:
    """A camera `dist_m` from the spot in direction `bearing_from_spot` (0 = north), facing `heading`."""
    b = math.radians(bearing_from_spot)
    return camera(cid, dist_m * math.cos(b), dist_m * math.sin(b), heading)


# --- the camera cone (heading ± 35°, 250 m; else the nearest within 400 m; at most 3) ----------------


def test_cone_picks_cameras_looking_at_the_spot_nearest_first():
    cams = [
        polar("cam-south-100-north", 100, 180, 0),  # 100 m south, looking north: covers
        polar("cam-south-100-east", 100, 180, 90),  # same place, looking east (90° off): no
        polar("cam-north-200-south", 200, 0, 180),  # 200 m north, looking south: covers
        polar("cam-south-300-north", 300, 180, 0),  # looking at it but 300 m away (> 250): no
        polar("cam-west-150-30off", 150, 270, 60),  # sees the spot 30° off its axis: covers
        polar("cam-west-150-40off", 150, 270, 130),  # 40° off its axis: no
    ]
    assert CameraCoverage(cams).cameras_for(LAT0, LON0) == [
        "cam-south-100-north",
        "cam-west-150-30off",
        "cam-north-200-south",
    ]


def test_cone_keeps_the_three_nearest_and_skips_the_asset_itself():
    cams = [polar(f"cam-{d}", d, 180, 0) for d in (220, 60, 180, 120, 20)]
    cover = CameraCoverage(cams)
    assert cover.cameras_for(LAT0, LON0) == ["cam-20", "cam-60", "cam-120"]
    assert cover.cameras_for(LAT0, LON0, exclude="cam-60") == ["cam-20", "cam-120", "cam-180"]


def test_a_camera_at_the_spot_covers_it_whatever_its_heading():
    cams = [camera("cam-here", 2, 0, 0), polar("cam-away", 100, 180, 180)]  # 2 m north, facing away
    assert CameraCoverage(cams).cameras_for(LAT0, LON0) == ["cam-here"]


def test_without_a_covering_camera_the_nearest_within_400_m():
    cams = [
        polar("cam-350-away", 350, 0, 0),  # 350 m north, facing north (away): fallback candidate
        polar("cam-380-away", 380, 90, 90),  # 380 m east, facing east: fallback candidate
        polar("cam-450-away", 450, 180, 180),  # beyond 400 m: never
    ]
    assert CameraCoverage(cams).cameras_for(LAT0, LON0) == ["cam-350-away", "cam-380-away"]
    assert CameraCoverage(cams[2:]).cameras_for(LAT0, LON0) == []
    assert CameraCoverage([]).cameras_for(LAT0, LON0) == []


# --- device statuses -> alarms ----------------------------------------------------------------------

LIGHT = Asset("lgt-1", Kind.STREET_LIGHT, "Light 1", "Centre-Ville", LAT0, LON0)
LOOKING = polar("cam-1", 100, 180, 0)  # covers the light
ELSEWHERE = polar("cam-2", 100, 180, 180)  # 100 m south, facing away: not in its cone


def with_status(a: Asset, status: Status, reason: str = "") -> Asset:
    return dataclasses.replace(a, status=status, status_reason=reason, revision=0)


MARKER = Asset("mrk-1", Kind.STREET_LIGHT, "Marker", "Nord", LAT0 + 0.1, LON0)  # 11 km away


def scenario(steps: list[list[Asset]]) -> list[list[tuple[str, int, str, bool, AlarmState, tuple]]]:
    """Publish LIGHT and the cameras, start the sources, then publish each step of new states.
    Returns, after the start and after each step, the engine's alarms of lgt-1 as
    (cause, priority, message, active, state, camera ids).

    Each step ends with a marker device going to FAULT or back to OK: the sources take a batch in
    order, so once the marker's alarm changed, the step before it was taken too (a step that
    changes nothing for lgt-1 needs no guessing)."""

    async def run() -> list[list[tuple[str, int, str, bool, AlarmState, tuple]]]:
        store = AssetStore()
        engine = AlarmEngine(history=1000)
        store.publish([LIGHT, LOOKING, ELSEWHERE, MARKER])
        sources = AlarmSources(engine, store)
        await sources.start()
        try:
            seen = [alarms_of(engine)]
            for i, step in enumerate(steps):
                before = engine.sequence
                marker = with_status(MARKER, Status.FAULT if i % 2 == 0 else Status.OK)
                store.publish([*step, marker])
                await asyncio.wait_for(_marker_changed(engine, before), 30)  # generous: a loaded CI
                seen.append(alarms_of(engine))
            return seen
        finally:
            await sources.stop()

    return asyncio.run(run())


async def _marker_changed(engine: AlarmEngine, before: int) -> None:
    while not any(a.asset_id == "mrk-1" for a in engine.changes_after(before)):
        await engine.wait_for_change(engine.sequence, 1.0)


def alarms_of(engine: AlarmEngine) -> list[tuple[str, int, str, bool, AlarmState, tuple]]:
    return sorted(
        (a.cause, a.priority, a.message, a.active, a.state, a.camera_ids)
        for a in engine.open_alarms()
        if a.asset_id == "lgt-1"
    )


U, RTN, SUP = AlarmState.UNACK_ACTIVE, AlarmState.RTN_UNACK, AlarmState.SUPPRESSED


def test_fault_raises_priority_2_with_the_cameras_looking_at_it():
    (start, fault) = scenario([[with_status(LIGHT, Status.FAULT, "lamp failure")]])
    assert start == []
    assert fault == [("device_fault", 2, "Device fault: lamp failure", True, U, ("cam-1",))]


def test_offline_raises_priority_3_and_clears_when_the_device_is_back():
    (_, offline, back) = scenario([[with_status(LIGHT, Status.OFFLINE)], [with_status(LIGHT, Status.OK)]])
    assert offline == [("device_offline", 3, "Device offline", True, U, ("cam-1",))]
    # Cleared, not forgotten: it waits for an acknowledgement (returned to normal, unacknowledged).
    assert back == [("device_offline", 3, "Device offline", False, RTN, ("cam-1",))]


def test_fault_to_offline_clears_the_fault_and_raises_offline():
    (_, _, offline) = scenario(
        [[with_status(LIGHT, Status.FAULT, "lamp failure")], [with_status(LIGHT, Status.OFFLINE)]]
    )
    assert offline == [
        ("device_fault", 2, "Device fault: lamp failure", False, RTN, ("cam-1",)),
        ("device_offline", 3, "Device offline", True, U, ("cam-1",)),
    ]


def test_maintenance_suppresses_and_keeps_the_alarm_then_lifts_the_suppression():
    (_, fault, maintenance, back) = scenario(
        [
            [with_status(LIGHT, Status.FAULT, "lamp failure")],
            [with_status(LIGHT, Status.MAINTENANCE, "crew on site")],
            [with_status(LIGHT, Status.FAULT, "lamp failure")],
        ]
    )
    assert fault == [("device_fault", 2, "Device fault: lamp failure", True, U, ("cam-1",))]
    # Kept and still active (the fault was never seen to go), but suppressed.
    assert maintenance == [("device_fault", 2, "Device fault: lamp failure", True, SUP, ("cam-1",))]
    # Out of maintenance, still faulty: the same alarm, shown again.
    assert back == [("device_fault", 2, "Device fault: lamp failure", True, U, ("cam-1",))]


def test_a_fault_repaired_during_maintenance_clears_when_the_device_is_back_ok():
    (*_, ok) = scenario(
        [
            [with_status(LIGHT, Status.FAULT, "lamp failure")],
            [with_status(LIGHT, Status.MAINTENANCE, "crew on site")],
            [with_status(LIGHT, Status.OK)],
        ]
    )
    assert ok == [("device_fault", 2, "Device fault: lamp failure", False, RTN, ("cam-1",))]


def test_maintenance_raises_nothing_and_leaving_it_for_offline_raises_unsuppressed():
    (_, maintenance, offline) = scenario(
        [
            [with_status(LIGHT, Status.MAINTENANCE, "crew on site")],
            [with_status(LIGHT, Status.OFFLINE)],
        ]
    )
    assert maintenance == []
    assert offline == [("device_offline", 3, "Device offline", True, U, ("cam-1",))]


def test_ok_and_warning_without_a_rule_raise_nothing():
    (_, ok, warning) = scenario(
        [[with_status(LIGHT, Status.OK, "all good")], [with_status(LIGHT, Status.WARNING, "dim lamp")]]
    )
    assert ok == warning == []


def test_a_fault_published_right_after_start_is_not_missed():
    async def run() -> list[tuple[str, int, str, bool, AlarmState, tuple]]:
        store = AssetStore()
        engine = AlarmEngine(history=100)
        store.publish([LIGHT, LOOKING])
        sources = AlarmSources(engine, store)
        await sources.start()
        store.publish([with_status(LIGHT, Status.FAULT, "lamp failure")])  # the simulator's next tick
        try:
            await asyncio.wait_for(engine.wait_for_change(0, 10), 10)
            return alarms_of(engine)
        finally:
            await sources.stop()

    assert asyncio.run(run()) == [("device_fault", 2, "Device fault: lamp failure", True, U, ("cam-1",))]
