"""Who may attach, take over, create and delete video walls, on real backend processes.

Issue 11 found that any viewer could attach any name: that created walls without limit, and
attaching "wall-1" took the real display's stream over. Walls now come from the configuration
(--wall) or from a supervisor (CreateWall); only their allowed displays attach them; taking a wall
held by another display needs SUPERVISOR; their number is capped; display names are cleaned.
"""

from __future__ import annotations

import grpc
import pytest

from tests.api.test_wall_service import Reader, camera_push, cameras, wall_in, watch
from tests.conftest import open_channel
from vigie.v1 import wall_pb2, wall_pb2_grpc


def walls(address: str, user: str) -> wall_pb2_grpc.WallServiceStub:
    return wall_pb2_grpc.WallServiceStub(open_channel(address, user=user))


def attach(s: wall_pb2_grpc.WallServiceStub, name: str, display: str) -> Reader:
    return Reader(s.AttachWall(wall_pb2.AttachWallRequest(name=name, display=display), timeout=120))


def refusal(reader: Reader) -> grpc.RpcError:
    assert reader.done.wait(10), "the stream was refused"
    assert reader.error is not None, "the stream ended without an error"
    return reader.error


def listed(s: wall_pb2_grpc.WallServiceStub) -> dict[str, wall_pb2.Wall]:
    return {w.name: w for w in s.ListWalls(wall_pb2.ListWallsRequest(), timeout=5).walls}


@pytest.fixture(scope="module")
def wall_backend():
    from tests.conftest import BackendProcess

    b = BackendProcess(
        "--lights", "0", "--vehicles", "0", "--heartbeat", "0.5", "--max-walls", "3",
        "--wall", "wall-1=wall-pc,salle A gauche",
    ).start()  # fmt: skip
    yield b
    b.stop()


def test_a_viewer_cannot_take_the_wall_from_its_display(wall_backend):
    sup, viewer, operator = (walls(wall_backend.address, u) for u in ("supervisor", "viewer", "operator"))
    real = attach(viewer, "wall-1", "wall-pc")
    real.next()
    # Not an allowed display: refused, whoever asks.
    err = refusal(attach(viewer, "wall-1", "attacker-laptop"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "not allowed" in err.details()
    # An allowed display name, claimed by another account while the wall is held: a take-over,
    # which needs SUPERVISOR.
    err = refusal(attach(operator, "wall-1", "salle A gauche"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "SUPERVISOR" in err.details()
    # The real display still holds the wall and still gets the pushes.
    cam = cameras(wall_backend.address, 1)[0]
    version = sup.Push(camera_push("wall-1", cam), timeout=5).wall.content.version
    assert real.until(lambda m: m.version == version).camera.camera_id == cam
    assert not real.done.is_set()
    w = listed(sup)["wall-1"]
    assert w.online and w.display == "wall-pc"
    # A supervisor may take it over (from an allowed display): the old stream ends ABORTED.
    new = attach(sup, "wall-1", "salle A gauche")
    assert new.next().version == version
    err = refusal(real)
    assert err.code() == grpc.StatusCode.ABORTED and "salle A gauche" in err.details()
    new.cancel()


def test_attaching_never_creates_a_wall(wall_backend):
    viewer = walls(wall_backend.address, "viewer")
    err = refusal(attach(viewer, "wall-made-up", "wall-pc"))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "wall-made-up" not in listed(viewer)
    with pytest.raises(grpc.RpcError) as refused:
        viewer.CreateWall(wall_pb2.CreateWallRequest(name="wall-2", allowed_displays=["wall-pc"]), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_supervisors_create_walls_up_to_the_cap_and_delete_them(wall_backend):
    sup, viewer = walls(wall_backend.address, "supervisor"), walls(wall_backend.address, "viewer")
    for bad in ([], [""], ["x" * 65], ["tab\tin"], [f"d{i}" for i in range(33)]):
        with pytest.raises(grpc.RpcError) as err:
            sup.CreateWall(wall_pb2.CreateWallRequest(name="wall-bad", allowed_displays=bad), timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
    # --max-walls 3, wall-1 from the configuration.
    for name in ("wall-a", "wall-b"):
        made = sup.CreateWall(
            wall_pb2.CreateWallRequest(name=name, allowed_displays=["user:viewer"]), timeout=5
        )
        assert list(made.wall.allowed_displays) == ["user:viewer"]
    with pytest.raises(grpc.RpcError) as err:
        sup.CreateWall(wall_pb2.CreateWallRequest(name="wall-c", allowed_displays=["pc"]), timeout=5)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "3 walls" in err.value.details()
    # An account named in allowed_displays attaches from any display name.
    watcher = watch(viewer)
    watcher.next()
    display = attach(viewer, "wall-b", "any-pc")
    display.next()
    sup.DeleteWall(wall_pb2.DeleteWallRequest(name="wall-b"), timeout=5)
    err = refusal(display)
    assert err.code() == grpc.StatusCode.NOT_FOUND and "deleted" in err.details()
    watcher.until(lambda m: "wall-b" in m.deleted)
    watcher.cancel()
    assert "wall-b" not in listed(sup)
    with pytest.raises(grpc.RpcError) as err:
        sup.Push(camera_push("wall-b", cameras(wall_backend.address, 1)[0]), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        sup.DeleteWall(wall_pb2.DeleteWallRequest(name="wall-b"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Below the cap again.
    sup.CreateWall(wall_pb2.CreateWallRequest(name="wall-c", allowed_displays=["pc"]), timeout=5)
    sup.DeleteWall(wall_pb2.DeleteWallRequest(name="wall-c"), timeout=5)
    sup.DeleteWall(wall_pb2.DeleteWallRequest(name="wall-a"), timeout=5)


def test_display_names_are_cleaned_and_bounded(make_backend, tmp_path):
    log = tmp_path / "backend.log"
    b = make_backend(
        "--lights", "0", "--vehicles", "0", "--log-level", "INFO", "--wall", "wall-1=user:viewer",
        stderr=log,
    ).start()  # fmt: skip
    viewer = walls(b.address, "viewer")
    err = refusal(attach(viewer, "wall-1", "x" * 65))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "64" in err.details()
    injected = "pc\n2026-01-01 00:00:00,000 CRITICAL backend: FORGED\x1b[2J\r"
    display = attach(viewer, "wall-1", injected)
    display.next()
    shown = listed(viewer)["wall-1"].display
    assert shown == "pc2026-01-01 00:00:00,000 CRITICAL backend: FORGED[2J"
    display.cancel()
    watcher = watch(viewer)
    watcher.until(lambda m: (w := wall_in(m, "wall-1")) is not None and not w.online)
    watcher.cancel()
    b.stop()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert not any(line.startswith("2026-01-01") or "\x1b" in line for line in lines), "no forged line"
    assert any("FORGED" in line and "wall-1" in line for line in lines), "the attach was logged"
