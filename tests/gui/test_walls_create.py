"""The empty "Video walls" panel offers the action: a supervisor creates a wall there (name and the
screens allowed to show it) with clicks and keys; an operator reads what a wall is in words, not a
command line. Whole consoles against a real backend without walls."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import wall_pb2, wall_pb2_grpc


def backend_walls(address: str) -> dict[str, list[str]]:
    channel = open_channel(address, "viewer")
    try:
        stub = wall_pb2_grpc.WallServiceStub(channel)
        return {
            w.name: list(w.allowed_displays)
            for w in stub.ListWalls(wall_pb2.ListWallsRequest(), timeout=10).walls
        }
    finally:
        channel.close()


def open_walls(qtbot, window: ConsoleHarness):
    qtbot.waitUntil(lambda: window.session.role != "", timeout=30000)
    window.console.sig_show_panel.emit("walls")  # what Panels ▸ Video walls does
    panel = window.wall_ctl.panel
    qtbot.waitUntil(panel.isVisible, timeout=10000)
    return panel


def test_a_supervisor_creates_a_wall_from_the_empty_panel(qtbot, make_backend):
    backend = make_backend("--seed", "3").start()
    assert backend_walls(backend.address) == {}
    sup = ConsoleHarness(backend.address, user="supervisor").start()
    op = ConsoleHarness(backend.address, user="operator").start()
    try:
        panel = open_walls(qtbot, sup)
        qtbot.waitUntil(panel.create_box.isVisible, timeout=10000)
        assert panel.empty.isVisible() and "Create one" in panel.empty.text()
        QTest.mouseClick(panel.new_name, Qt.MouseButton.LeftButton)
        QTest.keyClicks(panel.new_name, "wall-room")
        QTest.mouseClick(panel.new_displays, Qt.MouseButton.LeftButton)
        QTest.keyClicks(panel.new_displays, "wall-pc-1, wall-pc-2")
        QTest.mouseClick(panel.create, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "wall-room" in sup.wall_ctl.names(), timeout=15000)
        assert backend_walls(backend.address) == {"wall-room": ["wall-pc-1", "wall-pc-2"]}
        qtbot.waitUntil(lambda: not panel.empty.isVisible(), timeout=5000)

        op_panel = open_walls(qtbot, op)
        assert not op_panel.create_box.isVisible(), "creating a wall is a supervisor's"
        qtbot.waitUntil(lambda: "wall-room" in op.wall_ctl.names(), timeout=15000)
    finally:
        op.close()
        sup.close()


def test_an_operator_reads_what_a_wall_is_in_words(qtbot, make_backend):
    backend = make_backend("--seed", "3").start()
    op = ConsoleHarness(backend.address, user="operator").start()
    try:
        panel = open_walls(qtbot, op)
        text = panel.empty.text()
        assert panel.empty.isVisible() and not panel.create_box.isVisible()
        assert "--" not in text and "vigie wall" not in text, "no command line for a supervisor to run"
        assert "supervisor creates it here" in text
    finally:
        op.close()
