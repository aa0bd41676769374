"""The Transport panel against a real backend (transit 10 times faster than real time): the line
diagrams fill with live vehicles, a click on a tram selects it, Hold sends TRAM_HOLD and the panel
shows the command's stages up to confirmed, which the backend's own state agrees with; a junction's
TSP is switched on from the Junctions tab. Screenshots go to /work/shots/transport/ when it exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.conftest import BackendProcess, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import assets_pb2, assets_pb2_grpc, transit_pb2, transit_pb2_grpc

SHOTS = Path(os.environ.get("VIGIE_SHOTS", "/work/shots/transport"))


@pytest.fixture(scope="module")
def city():
    b = BackendProcess(
        "--seed", "7", "--lights", "0", "--transit-speed", "10", "--command-failure-rate", "0"
    ).start()
    yield b
    b.stop()


def shot(widget, name: str) -> None:
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))


def test_diagrams_show_live_vehicles_and_a_click_then_hold_regulates_a_tram(qtbot, city):
    window = ConsoleHarness(city.address, user="supervisor").start()
    try:
        qtbot.waitUntil(lambda: window.session.role != "" and window.assets.total() > 0, timeout=30000)
        window.console.sig_show_panel.emit("transport")  # what Panels ▸ Transport does
        qtbot.waitUntil(lambda: "transport" in window.manager.panels, timeout=5000)
        ctl = window.manager.panels["transport"].ctl
        panel = ctl.panel
        panel.resize(1400, 900)
        qtbot.waitUntil(
            lambda: "T1" in panel.diagrams and len(panel.diagrams["T1"].vehicles) >= 3, timeout=30000
        )
        assert len(panel.diagrams) == 16  # 2 tram, 10 bus and 4 shuttle lines
        assert sum(len(d.vehicles) for d in panel.diagrams.values()) >= 50
        diagram = panel.diagrams["T1"]
        panel.tabs.setCurrentIndex(0)
        diagram.ensurePolished()
        tram = next(v for v in diagram.vehicles if not v.held)
        pos = diagram.vehicle_pos(tram)
        QTest.mouseClick(diagram, Qt.MouseButton.LeftButton, pos=QPoint(round(pos.x()), round(pos.y())))
        assert panel.vehicle and panel.vehicle.startswith("tram-T1-") and panel.hold_btn.isEnabled()
        chosen = panel.vehicle
        panel.hold_s.setValue(120)
        QTest.mouseClick(panel.hold_btn, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "confirmed" in panel.command_state.text(), timeout=30000)
        assert chosen in panel.command_state.text() and "hold of 120 s in force" in panel.command_state.text()
        ch = open_channel(city.address, "viewer")
        a = assets_pb2_grpc.AssetServiceStub(ch).GetAsset(assets_pb2.GetAssetRequest(id=chosen), timeout=10)
        assert a.attributes["hold_s"] in ("120", "0")  # in force, or already served at 10x speed
        # A bus is not regulated: selecting one disables the actions and says why.
        bus_diagram = panel.diagrams["L1"]
        bus = bus_diagram.vehicles[0]
        bpos = bus_diagram.vehicle_pos(bus)
        QTest.mouseClick(bus_diagram, Qt.MouseButton.LeftButton, pos=QPoint(round(bpos.x()), round(bpos.y())))
        assert not panel.hold_btn.isEnabled() and "regulation is for trams" in panel.selected.text()
        # Junctions: TSP switched on at the first one, by a command whose stages show.
        panel.tabs.setCurrentIndex(2)
        qtbot.waitUntil(lambda: panel.junctions.rowCount() > 0, timeout=15000)
        jid = panel.junctions.item(0, 4).text()
        rect = panel.junctions.visualItemRect(panel.junctions.item(0, 0))
        QTest.mouseClick(panel.junctions.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.mouseClick(panel.tsp_btn, Qt.MouseButton.LeftButton)
        transit = transit_pb2_grpc.TransitServiceStub(ch)
        qtbot.waitUntil(
            lambda: (
                transit.GetTspConfig(transit_pb2.GetTspConfigRequest(junction_ids=[jid]), timeout=10)
                .junctions[0]
                .enabled
            ),
            timeout=30000,
        )
        qtbot.waitUntil(lambda: panel.junctions.item(0, 2).text() == "on", timeout=15000)
        shot(panel, "junctions.png")
        panel.tabs.setCurrentIndex(1)
        qtbot.waitUntil(lambda: len(panel.chart.hours) > 0, timeout=15000)
        shot(panel, "corridor_chart.png")
        panel.tabs.setCurrentIndex(0)
        qtbot.waitUntil(
            lambda: any(v.headway_s for d in panel.diagrams.values() for v in d.vehicles), timeout=90000
        )
        shot(panel, "line_diagrams.png")
        ch.close()
    finally:
        window.close()
