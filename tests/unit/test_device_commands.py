"""How device networks answer commands: the simulated devices (acknowledge, then really change,
or refuse, or stay silent), the catalogue cameras, and the composite's routing."""

from __future__ import annotations

import asyncio
import time

from vigie.backend.adapters.base import DeviceAnswer, DeviceCommand, DeviceNetwork
from vigie.backend.adapters.cameras import CameraNetwork
from vigie.backend.adapters.cameras.catalogue import CameraSpec
from vigie.backend.adapters.cameras.network import NO_ONVIF
from vigie.backend.adapters.composite import CompositeNetwork
from vigie.backend.adapters.simulator import CitySimulator
from vigie.backend.domain.actions import Action, Params, parse_badges
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.revlog import AssetStore


def city(failure_rate: float = 0.0) -> tuple[AssetStore, CitySimulator]:
    store = AssetStore()
    sim = CitySimulator(seed=7, lights=1000, vehicles=0, events=False, command_failure_rate=failure_rate)
    sim.begin(store, time.time())
    return store, sim


def first(store: AssetStore, kind: Kind, status: Status = Status.OK, **attrs: str) -> Asset:
    return next(
        a
        for a in store.assets()
        if a.kind is kind and a.status is status and all(a.attributes.get(k) == v for k, v in attrs.items())
    )


def cmd(asset: Asset, action: Action, **params) -> DeviceCommand:
    return DeviceCommand("cmd-test", asset.id, action, Params(**params))


async def settle(store: AssetStore, asset_id: str, done, timeout: float = 10.0) -> Asset:
    """Wait until the asset's published state satisfies `done`."""
    deadline = time.monotonic() + timeout
    while not done(store.get(asset_id)):
        left = deadline - time.monotonic()
        assert left > 0, f"{asset_id} never reached the state: {store.get(asset_id)}"
        await store.wait_for_change(store.revision, left)
    a = store.get(asset_id)
    assert a is not None
    return a


def test_bollard_acknowledges_travels_then_reports_its_position():
    async def scenario():
        store, sim = city()
        b = first(store, Kind.BOLLARD, position="lowered")
        rev0 = store.revision
        answer = await sim.command(cmd(b, Action.BOLLARD_RAISE))
        assert answer.ok and answer.detail.startswith("acknowledged: raising")
        assert store.get(b.id).attributes["position"] == "raising"
        await settle(store, b.id, lambda a: a.attributes["position"] == "raised")
        await sim.stop()
        return [a.attributes["position"] for a in store.changes_after(rev0) if a.id == b.id]

    assert asyncio.run(scenario()) == ["raising", "raised"]


def test_a_jammed_bollard_acknowledges_then_reports_a_fault():
    async def scenario():
        store, sim = city(failure_rate=1.0)
        bollards = [a for a in store.assets() if a.kind is Kind.BOLLARD and a.status is Status.OK]
        answers = await asyncio.gather(*(sim.command(cmd(b, Action.BOLLARD_LOWER)) for b in bollards[:12]))
        jammed = [b for b, ans in zip(bollards, answers, strict=False) if ans.ok]
        refused = {ans.detail for ans in answers if not ans.ok}
        assert jammed and refused == {"hydraulic pressure too low"}  # seeded: both happen in 12
        a = await settle(store, jammed[0].id, lambda a: a.status is Status.FAULT)
        await sim.stop()
        return jammed[0].attributes["position"], a

    before, a = asyncio.run(scenario())
    assert a.status_reason == f"bollard stuck in {before} position" and a.attributes["position"] == before


def test_badge_lists_and_their_limits():
    async def scenario():
        store, sim = city()
        door = first(store, Kind.ACCESS_POINT)
        until = time.time() + 3600
        assert (await sim.command(cmd(door, Action.BADGE_GRANT_TEMPORARY, badge_id="B-1", until=until))).ok
        await settle(store, door.id, lambda a: "B-1 until" in a.attributes.get("temporary_access", ""))
        assert (await sim.command(cmd(door, Action.BADGE_DEACTIVATE, badge_id="B-1"))).ok
        a = await settle(store, door.id, lambda a: "B-1" in a.attributes.get("badges_deactivated", ""))
        assert a.attributes["temporary_access"] == ""  # a deactivated badge loses its grant
        again = await sim.command(cmd(door, Action.BADGE_GRANT_TEMPORARY, badge_id="B-1", until=until))
        full = dict(a.attributes, badges_deactivated=", ".join(f"X-{i}" for i in range(200)))
        sim.update_device(door.id, attributes=full)
        over = await sim.command(cmd(door, Action.BADGE_DEACTIVATE, badge_id="B-2"))
        await sim.stop()
        return again, over, parse_badges(a.attributes["badges_deactivated"])

    again, over, badges = asyncio.run(scenario())
    assert again == DeviceAnswer(False, "badge B-1 is deactivated on this access point")
    assert over == DeviceAnswer(False, "badge list full (200 deactivated badges)")
    assert badges == ["B-1"]


def test_camera_presets_move_the_ptz_head():
    async def scenario():
        store, sim = city()
        cam = first(store, Kind.CAMERA, ptz="true")
        fixed = first(store, Kind.CAMERA, ptz="false")
        assert (await sim.command(cmd(cam, Action.CAMERA_GOTO_PRESET, preset=3))).ok
        a = await settle(store, cam.id, lambda a: a.attributes.get("preset") == "3")
        head = sim.ptz_head(cam.id)
        assert head is not None and (head.state().tilt_deg, head.state().zoom) == (-15.0, 3.0)
        unknown = await sim.command(cmd(cam, Action.CAMERA_GOTO_PRESET, preset=9))
        no_ptz = await sim.command(cmd(fixed, Action.CAMERA_GOTO_PRESET, preset=1))
        await sim.stop()
        return a, unknown, no_ptz

    a, unknown, no_ptz = asyncio.run(scenario())
    assert unknown == DeviceAnswer(False, "unknown preset 9; this camera has 1, 2, 3, 4")
    assert no_ptz == DeviceAnswer(False, "fixed camera: no PTZ")


def test_unhealthy_devices():
    async def scenario():
        store, sim = city()
        offline = first(store, Kind.STREET_LIGHT, Status.OFFLINE)
        maint = first(store, Kind.STREET_LIGHT, Status.MAINTENANCE)
        silent = asyncio.create_task(sim.command(cmd(offline, Action.LIGHT_ON)))
        busy = await sim.command(cmd(maint, Action.LIGHT_ON))
        done, _ = await asyncio.wait([silent], timeout=1.0)  # twice the slowest acknowledgement
        silent.cancel()
        await sim.stop()
        return done, busy, maint

    done, busy, maint = asyncio.run(scenario())
    assert not done  # an offline device never answers
    assert busy == DeviceAnswer(False, f"device in maintenance ({maint.status_reason}): under local control")


def test_commanded_devices_leave_their_automatic_cycle():
    async def scenario():
        store = AssetStore()
        # Ten-minute ticks: about ten spontaneous lock changes per tick otherwise.
        sim = CitySimulator(seed=7, lights=0, vehicles=0, tick_s=600, command_failure_rate=0.0)
        sim.begin(store, time.time())
        doors = [a for a in store.assets() if a.kind is Kind.ACCESS_POINT and a.status is Status.OK]
        answers = await asyncio.gather(*(sim.command(cmd(d, Action.ACCESS_LOCK)) for d in doors))
        assert all(a.ok for a in answers)
        for d in doors:
            await settle(store, d.id, lambda a: a.attributes["lock"] == "locked")
        rev = store.revision
        for _ in range(30):
            sim.tick(time.time())
        await sim.stop()
        ids = {d.id for d in doors}
        return [a.attributes["lock"] for a in store.changes_after(rev) if a.id in ids]

    assert set(asyncio.run(scenario())) <= {"locked"}


class _Plain(DeviceNetwork):
    """A network with no command support (the base class's answer)."""

    async def start(self, store):
        pass

    async def stop(self):
        pass

    def metrics(self, asset_id):
        return []

    def telemetry(self, asset_id, metric, start, end, max_points):
        return []

    def open_video(self, camera_id, width, height, max_fps):
        return None

    def knows(self, asset_id):
        return asset_id == "plain-1"


def test_composite_routes_by_asset_and_catalogue_cameras_refuse():
    async def scenario():
        store, sim = city()
        spec = CameraSpec(
            "gare", "Gare", "http://10.0.0.1/v.mjpg", "mjpeg", 47.32, 5.03, ptz=True, direct=True
        )
        net = CompositeNetwork([sim, CameraNetwork([spec]), _Plain()])
        await net.networks[1].start(store)
        light = first(store, Kind.STREET_LIGHT)
        gare = store.get("gare")
        answers = [
            await net.command(cmd(light, Action.LIGHT_OFF)),
            await net.command(cmd(gare, Action.CAMERA_GOTO_PRESET, preset=1)),
            await net.command(cmd(gare, Action.LIGHT_OFF)),
            await net.command(DeviceCommand("c", "plain-1", Action.LIGHT_ON, Params())),
            await net.command(DeviceCommand("c", "nowhere", Action.LIGHT_ON, Params())),
        ]
        await net.stop()
        return answers

    answers = asyncio.run(scenario())
    assert answers[0].ok
    assert answers[1:] == [
        DeviceAnswer(False, NO_ONVIF),
        DeviceAnswer(False, "catalogue cameras do not support LIGHT_OFF"),
        DeviceAnswer(False, "not supported by this device network"),
        DeviceAnswer(False, "no device network knows 'nowhere'"),
    ]
