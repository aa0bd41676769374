"""ViewService against a real backend process: a user's views are theirs alone and follow them
(another console, a restart), shared views are the room's and a supervisor's to change, bad input
gets INVALID_ARGUMENT with a reason and changes nothing, and views.json is 0600 in a 0700
directory, written before the answer."""

from __future__ import annotations

import stat

import grpc
import pytest

from tests.conftest import open_channel
from vigie.v1 import views_pb2, views_pb2_grpc


def stub(address: str, user: str) -> tuple[grpc.Channel, views_pb2_grpc.ViewServiceStub]:
    channel = open_channel(address, user)
    return channel, views_pb2_grpc.ViewServiceStub(channel)


def names(s: views_pb2_grpc.ViewServiceStub) -> list[tuple[str, bool, str]]:
    return [(v.name, v.shared, v.owner) for v in s.ListViews(views_pb2.ListViewsRequest(), timeout=10).views]


def save(s, name: str, cams: list[str], shared: bool = False, layout: str = "2x2"):
    req = views_pb2.SaveViewRequest(name=name, layout=layout, camera_ids=cams, shared=shared)
    return s.SaveView(req, timeout=10)


def test_views_are_per_user_shared_ones_are_the_rooms_and_survive_a_restart(make_backend, tmp_path):
    data = tmp_path / "data"
    backend = make_backend("--seed", "3", "--data-dir", str(data)).start()
    ch_op, op = stub(backend.address, "operator")
    ch_sup, sup = stub(backend.address, "supervisor")
    try:
        saved = save(op, "Gare", ["cam-0001", "", "cam-0003"]).view
        assert (saved.name, saved.owner, list(saved.camera_ids)) == (
            "Gare",
            "operator",
            ["cam-0001", "", "cam-0003"],
        )
        save(sup, "Centre", ["cam-0002"], shared=True, layout="1+5")
        save(sup, "Mine", ["cam-0004"])
        assert names(op) == [("Gare", False, "operator"), ("Centre", True, "supervisor")]
        assert names(sup) == [("Mine", False, "supervisor"), ("Centre", True, "supervisor")]

        with pytest.raises(grpc.RpcError) as err:
            save(op, "Room", ["cam-0001"], shared=True)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "SUPERVISOR" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            op.DeleteView(views_pb2.DeleteViewRequest(name="Centre", shared=True), timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as err:
            op.DeleteView(views_pb2.DeleteViewRequest(name="Mine"), timeout=10)  # the supervisor's own
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        ch_op.close()
        ch_sup.close()

    path = data / "views.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(data.stat().st_mode) == 0o700
    backend.stop()
    again = make_backend("--seed", "3", "--data-dir", str(data), port=backend.port).start()
    ch, op2 = stub(again.address, "operator")  # another console, after a restart
    try:
        assert names(op2) == [("Gare", False, "operator"), ("Centre", True, "supervisor")]
        views = op2.ListViews(views_pb2.ListViewsRequest(), timeout=10).views
        assert list(views[1].camera_ids) == ["cam-0002"] and views[1].layout == "1+5"
    finally:
        ch.close()


@pytest.mark.parametrize(
    ("name", "layout", "cams", "reason"),
    [
        ("", "2x2", [], "name"),
        ("x" * 65, "2x2", [], "name"),
        ("bell\x07", "2x2", [], "control"),
        ("ok", "", [], "layout"),
        ("ok", "2x2<script>", [], "layout"),
        ("ok", "5x5", ["cam-1"] * 26, "camera_ids"),
    ],
)
def test_bad_views_are_refused_with_a_reason_and_change_nothing(backend, name, layout, cams, reason):
    ch, op = stub(backend.address, "operator")
    try:
        before = names(op)
        with pytest.raises(grpc.RpcError) as err:
            save(op, name, cams, layout=layout)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and reason in err.value.details()
        assert names(op) == before
    finally:
        ch.close()


def test_a_user_holds_at_most_100_views(backend):
    channel = open_channel(backend.address, "viewer")  # VIEWER may list but not save
    try:
        with pytest.raises(grpc.RpcError) as err:
            save(views_pb2_grpc.ViewServiceStub(channel), "v", [])
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channel.close()
    ch, admin = stub(backend.address, "admin")
    try:
        for i in range(100):
            save(admin, f"v{i:03d}", [])
        with pytest.raises(grpc.RpcError) as err:
            save(admin, "one too many", [])
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "delete one" in err.value.details()
        save(admin, "v000", ["cam-0001"])  # replacing one is fine
    finally:
        ch.close()
