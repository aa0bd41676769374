"""The Junctions tab's TSP rules editor against a real backend: an operator picks a junction,
types its lines, classes, lateness threshold, inhibit time and cross-street wait with the
keyboard and mouse, clicks Apply, and the junction's rules reported by TransitService change
(TSP_CONFIGURE, audited by the command service); a viewer sees Apply disabled with the reason.
Screenshots go to /work/shots/transit2/ when it exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import BackendProcess, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import audit_pb2, audit_pb2_grpc, transit_pb2, transit_pb2_grpc

SHOTS = Path(os.environ.get("VIGIE_SHOTS", "/work/shots/transit2"))


@pytest.fixture(scope="module")
def city():
    b = BackendProcess(
        "--seed", "7", "--lights", "0", "--transit-speed", "10", "--command-failure-rate", "0"
    ).start()
    yield b
    b.stop()


def open_junctions(qtbot, window):
    qtbot.waitUntil(lambda: window.session.role != "", timeout=30000)
    window.console.sig_show_panel.emit("transport")  # what Panels ▸ Transport does
    qtbot.waitUntil(lambda: "transport" in window.manager.panels, timeout=5000)
    panel = window.manager.panels["transport"].ctl.panel
    panel.resize(1200, 900)
    panel.tabs.setCurrentIndex(2)
    qtbot.waitUntil(lambda: panel.junctions.rowCount() > 1, timeout=30000)
    return panel


def click_row(panel, row: int) -> str:
    rect = panel.junctions.visualItemRect(panel.junctions.item(row, 0))
    QTest.mouseClick(panel.junctions.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    return panel.junctions.item(row, 4).text()


def type_into(spin, value: int) -> None:
    spin.setFocus()
    QTest.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(spin, str(value))


def test_an_operator_changes_a_junctions_rules_and_the_junction_reports_them(qtbot, city):
    window = ConsoleHarness(city.address, user="operator").start()
    try:
        panel = open_junctions(qtbot, window)
        editor = panel.rules_box
        jid = click_row(panel, 1)
        qtbot.waitUntil(lambda: editor.junction == jid, timeout=10000)
        assert editor.inhibit.value() == 90 and editor.max_wait.value() == 20  # the defaults, shown
        editor.lines.setFocus()
        QTest.keyClick(editor.lines, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(editor.lines, "L1, L3")
        QTest.mouseClick(editor.classes["shuttle"], Qt.MouseButton.LeftButton)  # shuttles off
        type_into(editor.min_lateness, 120)
        type_into(editor.inhibit, 45)
        type_into(editor.max_wait, 33)
        assert editor.apply_btn.isEnabled(), editor.why.text()
        shot(panel, "tsp_rules_editor.png")
        QTest.mouseClick(editor.apply_btn, Qt.MouseButton.LeftButton)

        ch = open_channel(city.address, "viewer")
        transit = transit_pb2_grpc.TransitServiceStub(ch)

        def rules():
            req = transit_pb2.GetTspConfigRequest(junction_ids=[jid])
            return transit.GetTspConfig(req, timeout=10).junctions[0].rules

        qtbot.waitUntil(lambda: rules().inhibit_s == 45, timeout=30000)
        r = rules()
        assert sorted(r.lines) == ["L1", "L3"]
        assert list(r.classes) == [transit_pb2.CLASS_BUS]
        assert (r.min_lateness_s, r.inhibit_s, r.max_cross_wait_s) == (120, 45, 33)
        assert (r.max_extension_s, r.early_green) == (15, True)  # kept from the junction's rules
        qtbot.waitUntil(lambda: "confirmed" in panel.junction_state.text(), timeout=30000)
        assert jid in panel.junction_state.text()
        with open_channel(city.address, "supervisor") as sup:  # the audit is read by supervisors
            trail = audit_pb2_grpc.AuditServiceStub(sup).ListAudit(
                audit_pb2.ListAuditRequest(action="command.execute", page_size=50), timeout=10
            )
        mine = [x for x in trail.records if x.target == jid and x.user == "operator"]
        assert mine and "TSP_CONFIGURE" in mine[0].detail, [(x.target, x.detail) for x in trail.records]
        # The table's words follow the junction's new rules.
        row = next(i for i in range(panel.junctions.rowCount()) if panel.junctions.item(i, 4).text() == jid)
        qtbot.waitUntil(lambda: "inhibit 45 s" in panel.junctions.item(row, 3).text(), timeout=15000)
        shot(panel, "tsp_rules_applied.png")
        ch.close()
    finally:
        window.close()


def test_a_viewer_sees_apply_disabled_with_the_reason(qtbot, city):
    window = ConsoleHarness(city.address, user="viewer").start()
    try:
        panel = open_junctions(qtbot, window)
        click_row(panel, 0)
        qtbot.waitUntil(lambda: panel.rules_box.junction != "", timeout=10000)
        assert not panel.rules_box.apply_btn.isEnabled()
        assert "needs the OPERATOR role" in panel.rules_box.why.text()
    finally:
        window.close()


def shot(widget, name: str) -> None:
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))
