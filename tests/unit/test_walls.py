"""The wall registry and its file, without gRPC: validation, versions, displays, persistence."""

from __future__ import annotations

import asyncio

import pytest

from vigie.backend.domain.walls import (
    AlarmShot,
    CameraShot,
    ClearShot,
    InvalidContent,
    MapShot,
    MosaicShot,
    UnknownWall,
    WallRegistry,
    validate,
)
from vigie.backend.store.walls_json import WallFile, walls_from_json, walls_to_json


def test_push_needs_a_created_wall_and_counts_versions():
    saved: list = []
    reg = WallRegistry(listener=saved.append)
    with pytest.raises(UnknownWall):
        reg.push("wall-1", CameraShot("cam-1"), "sup", "c1", 1.0)
    with pytest.raises(UnknownWall):
        reg.attach("wall-1", "pc-1", 1.0)
    reg.create("wall-1", ["pc-1"])
    assert [
        reg.push("wall-1", CameraShot(f"cam-{i}"), "sup", "c1", 2.0).content.version for i in range(3)
    ] == [
        1,
        2,
        3,
    ]
    assert reg.get("wall-1").content.pushed_by == "sup" and len(saved) == 4


def test_a_stale_display_leaving_does_not_take_the_wall_offline():
    reg = WallRegistry(configured={"w": ("a", "b")})
    old = reg.attach("w", "a", 1.0).attachment
    new = reg.attach("w", "b", 2.0).attachment
    assert not reg.detach("w", old, 3.0) and reg.get("w").online
    assert reg.detach("w", new, 4.0)
    w = reg.get("w")
    assert not w.online and w.last_seen == 4.0 and w.display == "b"


@pytest.mark.parametrize(
    "shot",
    [
        None,
        CameraShot(""),
        MosaicShot("x", 0, 2, ("a",)),
        MosaicShot("x", 2, 9, ("a",)),
        MosaicShot("x", 1, 1, ("a", "b")),
        MosaicShot("x", 2, 2, ("", "")),
        MapShot(47.3, 5.0, 0.5),
        MapShot(47.3, 5.0, float("nan")),
        MapShot(0.0, 0.0, 15),
        MapShot(47.3, 200.0, 15),
        AlarmShot("", "a", 47.3, 5.0, (), "t"),
        AlarmShot("alm-1", "a", 47.3, 5.0, ("",), "t"),
    ],
)
def test_invalid_content_is_refused(shot):
    with pytest.raises(InvalidContent):
        validate(shot)


def test_watchers_wake_on_change_and_time_out_when_quiet():
    async def scenario() -> tuple[bool, bool]:
        reg = WallRegistry(configured={"w": ("pc",)})
        quiet = await reg.wait_for_change(reg.revision, 0.05)
        waiter = asyncio.create_task(reg.wait_for_change(reg.revision, 5))
        await asyncio.sleep(0)
        reg.attach("w", "pc", 1.0)
        return quiet, await waiter

    assert asyncio.run(scenario()) == (False, True)


def test_file_round_trip_keeps_every_kind_of_content(tmp_path):
    reg = WallRegistry()
    shots = [
        CameraShot("cam-1"),
        MosaicShot("T1", 3, 3, ("a", "", "b"), "1+5"),
        MapShot(47.3, 5.04, 16.5, "sig-1", ("camera",)),
        AlarmShot("alm-1", "bol-1", 47.3, 5.04, ("cam-1",), "P1 forced"),
        ClearShot(),
    ]
    for i, shot in enumerate(shots):
        reg.create(f"w{i}", ["pc", "user:wall-a"])
        reg.attach(f"w{i}", "pc", 1.0)
        reg.push(f"w{i}", shot, "sup", "c", 2.0)
    back = walls_from_json(walls_to_json(reg.walls()))
    assert [w.content for w in back] == [w.content for w in reg.walls()]

    async def save_and_load() -> list:
        f = WallFile(str(tmp_path))
        f.save_soon(reg.walls())
        await f.close()
        return WallFile(str(tmp_path)).load()

    loaded = asyncio.run(save_and_load())
    assert [(w.name, w.content.shot, w.online, w.allowed) for w in loaded] == [
        (w.name, w.content.shot, False, ("pc", "user:wall-a")) for w in reg.walls()
    ]
    (tmp_path / "walls.json").write_text("{not json")
    assert WallFile(str(tmp_path)).load() == [], "a damaged file without a previous copy is not fatal"


def test_pushing_needs_the_supervisor_role():
    """What the auth interceptor will enforce too; checked in the service whatever the caller."""
    import grpc

    from vigie.backend.security.principal import Role
    from vigie.backend.services.wall import PushRefused, WallService

    service = WallService(WallRegistry(), None, None, None, audit=lambda: None)  # type: ignore[arg-type]
    with pytest.raises(PushRefused) as refused:
        asyncio.run(service._checked("wall-1", CameraShot("cam-1"), Role.OPERATOR))
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED and "SUPERVISOR" in refused.value.reason
