"""Saved mosaic views follow their user to another console, and a supervisor's room views reach
everyone: typed and picked with real keys and clicks, kept by a real backend (not a local file)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import console_session, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import views_pb2, views_pb2_grpc


def backend_views(address: str, user: str) -> list[tuple[str, bool, str, list[str]]]:
    channel = open_channel(address, user)
    try:
        stub = views_pb2_grpc.ViewServiceStub(channel)
        views = stub.ListViews(views_pb2.ListViewsRequest(), timeout=10).views
        return [(v.name, v.shared, v.layout, list(v.camera_ids)) for v in views]
    finally:
        channel.close()


def ready(qtbot, window: ConsoleHarness) -> None:
    qtbot.waitUntil(lambda: window.assets.total() > 5900 and bool(window.mosaic_ctl.cameras), timeout=30000)


def entries(window: ConsoleHarness) -> list[str]:
    box = window.cameras.views
    return [box.itemText(i) for i in range(1, box.count())]


def save_by_keys(window: ConsoleHarness, name: str) -> None:
    field = window.cameras.view_name
    QTest.mouseClick(field, Qt.MouseButton.LeftButton)
    QTest.keyClicks(field, name)
    QTest.keyClick(field, Qt.Key.Key_Return)


def test_a_users_views_follow_them_to_another_console_and_room_views_reach_everyone(
    qtbot, make_backend, tmp_path
):
    backend = make_backend("--seed", "7", "--data-dir", str(tmp_path / "data")).start()
    first = ConsoleHarness(backend.address, user="operator").start()
    sup = ConsoleHarness(backend.address, user="supervisor").start()
    try:
        ready(qtbot, first)
        mosaic = first.cameras.mosaic
        QTest.mouseClick(mosaic.tiles[0], Qt.MouseButton.LeftButton)
        # "3" on the focused mosaic (Ctrl+3 is application-wide, and two consoles in one test
        # process would both claim it).
        QTest.keyClick(mosaic.tiles[0], Qt.Key.Key_3)
        assert mosaic.layout_name == "3x3"
        wanted = list(mosaic.cameras[:9])
        save_by_keys(first, "Night shift")
        qtbot.waitUntil(lambda: "Night shift" in entries(first), timeout=15000)
        assert backend_views(backend.address, "operator") == [("Night shift", False, "3x3", wanted)]
        assert not first.cameras.share.isVisible(), "room views are a supervisor's"

        ready(qtbot, sup)
        assert "Night shift" not in entries(sup), "an operator's views are their own"
        QTest.mouseClick(sup.cameras.share, Qt.MouseButton.LeftButton)
        assert sup.cameras.share.isChecked()
        save_by_keys(sup, "Room")
        qtbot.waitUntil(lambda: "Room  (room)" in entries(sup), timeout=15000)
    finally:
        first.close()
        sup.close()

    # The same operator at another console: their view and the room's are there.
    other = ConsoleHarness(backend.address, session=console_session(backend.address, "operator")).start()
    try:
        ready(qtbot, other)
        qtbot.waitUntil(lambda: entries(other) == ["Night shift", "Room  (room)"], timeout=15000)
        box = other.cameras.views
        QTest.mouseClick(box, Qt.MouseButton.LeftButton)
        QTest.keyClick(box.view(), Qt.Key.Key_Down)
        QTest.keyClick(box.view(), Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: other.cameras.mosaic.layout_name == "3x3", timeout=5000)
        assert other.cameras.mosaic.cameras[:9] == wanted
    finally:
        other.close()
