"""City modes in the console, against a real backend with demo users: a supervisor activates a
mode through the City modes panel (real clicks, a typed reason) and the banner appears on another
console and on a wall display; returning to normal takes it away; an operator sees Activate
disabled and why."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import BackendProcess, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.app.models.asset_table import AssetTableModel
from vigie.app.wall.display import WallDisplay
from vigie.v1 import assets_pb2, assets_pb2_grpc, commands_pb2, commands_pb2_grpc, modes_pb2, modes_pb2_grpc

MODE = """
[mode]
id = "test_drill"
name = "Test drill"
color = "#1f6feb"
description = "Dims every street light to 30 %."

[[step]]
name = "dim"
label = "Dim the lights"
action = "LIGHT_DIM"
params = { level_percent = 30 }
select = { kinds = ["street_light"] }
"""
LIGHTS = 120


@pytest.fixture(scope="module")
def modes_backend(tmp_path_factory):
    modes = tmp_path_factory.mktemp("modes")
    Path(modes, "drill.toml").write_text(MODE, encoding="utf-8")
    b = BackendProcess(
        "--seed", "3", "--quiet-city", "--lights", str(LIGHTS), "--vehicles", "0", "--badge-rate", "0",
        "--command-failure-rate", "0", "--modes", str(modes),
    ).start()  # fmt: skip
    yield b
    b.stop()


@pytest.fixture
def consoles(qtbot):
    made: list[ConsoleHarness] = []

    def open_console(address: str, user: str) -> ConsoleHarness:
        window = ConsoleHarness(address, user=user).start()
        made.append(window)
        qtbot.waitUntil(lambda: window.session.role != "" and window.assets.total() > 0, timeout=30000)
        return window

    yield open_console
    for window in made:
        window.close()


def open_modes_panel(qtbot, window: ConsoleHarness):
    """The header's City modes button, clicked; the panel once the modes arrived."""
    QTest.mouseClick(window.window.modes_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "modes" in window.manager.panels, timeout=5000)
    panel = window.manager.panels["modes"].ctl.panel
    qtbot.waitUntil(lambda: panel.mode_box.count() > 0 and panel.districts.count() > 0, timeout=15000)
    return panel


def choose_mode(panel, name: str) -> None:
    """By keyboard, as an operator would: the combo box focused, Home, then Down to the mode."""
    names = [panel.mode_box.itemText(i) for i in range(panel.mode_box.count())]
    panel.mode_box.setFocus()
    QTest.keyClick(panel.mode_box, Qt.Key.Key_Home)
    for _ in range(names.index(name)):
        QTest.keyClick(panel.mode_box, Qt.Key.Key_Down)
    assert panel.mode_box.currentText() == name


def street_lights(address: str) -> int:
    stub = assets_pb2_grpc.AssetServiceStub(open_channel(address, "viewer"))
    resp = stub.ListAssets(
        assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.STREET_LIGHT], page_size=10_000), timeout=10
    )
    return len(resp.assets)


def page_js(qtbot, view, script: str):
    out: list = []
    view.run_js(script, out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=30000)
    return out[0]


def highlight_stats(qtbot, view) -> dict:
    return json.loads(page_js(qtbot, view, "JSON.stringify(window.vigieMap.highlight.stats())"))


def test_the_preview_rings_its_devices_on_the_map_and_show_on_map_frames_them(qtbot, consoles, modes_backend):
    supervisor = consoles(modes_backend.address, "supervisor")
    view = supervisor.map_ctl.view
    qtbot.waitUntil(lambda: page_js(qtbot, view, "window.vigieMap.isReady()") is True, timeout=30000)
    panel = open_modes_panel(qtbot, supervisor)
    choose_mode(panel, "Test drill")
    QTest.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.preview_value is not None, timeout=20000)
    # The devices the backend says will change, asked here on a channel of the test's own.
    stub = modes_pb2_grpc.ModeServiceStub(open_channel(modes_backend.address, "supervisor"))
    preview = stub.Preview(
        modes_pb2.PreviewRequest(mode_id="test_drill", scope=modes_pb2.ModeScope(whole_city=True)), timeout=30
    )
    expected = sorted(c.asset_id for c in preview.changes)
    assert len(expected) == preview.total_changes > 0
    qtbot.waitUntil(lambda: sorted(highlight_stats(qtbot, view)["ids"]) == expected, timeout=10000)
    stats = highlight_stats(qtbot, view)
    assert stats["drawn"] == len(expected)  # every one has a ring (the page knows them all)
    assert stats["color"] == "#1f6feb"  # the mode's colour, from the test's mode file

    # "Show on map" frames them: the map's centre moves to their middle.
    page_js(qtbot, view, "window.vigieMap._map.setView([47.2, 4.9], 16, {animate: false}) && true")
    QTest.mouseClick(panel.map_button, Qt.MouseButton.LeftButton)
    listed = assets_pb2_grpc.AssetServiceStub(open_channel(modes_backend.address, "viewer")).ListAssets(
        assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.STREET_LIGHT], page_size=10_000), timeout=10
    )
    chosen = [a for a in listed.assets if a.id in set(expected)]
    assert len(chosen) == len(expected)
    lats = [a.position.lat for a in chosen]
    lons = [a.position.lon for a in chosen]
    mid = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)

    def centre() -> tuple[float, float]:
        c = json.loads(page_js(qtbot, view, "JSON.stringify(window.vigieMap._map.getCenter())"))
        return c["lat"], c["lng"]

    qtbot.waitUntil(
        lambda: abs(centre()[0] - mid[0]) < 0.005 and abs(centre()[1] - mid[1]) < 0.005, timeout=10000
    )
    if os.environ.get("VIGIE_SHOTS"):  # for the report: not part of the check
        supervisor.window.grab().save(os.path.join(os.environ["VIGIE_SHOTS"], "modes-preview-map.png"))
        panel.window().grab().save(os.path.join(os.environ["VIGIE_SHOTS"], "modes-preview-panel.png"))

    # Closing the panel takes the rings away.
    supervisor.manager.docks["modes"].requestCloseDockWidget()
    qtbot.waitUntil(lambda: highlight_stats(qtbot, view)["ids"] == [], timeout=10000)


def test_supervisor_activates_a_mode_and_the_banner_reaches_another_console_and_a_wall(
    qtbot, consoles, modes_backend
):
    supervisor = consoles(modes_backend.address, "supervisor")
    other = consoles(modes_backend.address, "operator")
    wall_assets = AssetTableModel()
    wall = WallDisplay(other.session, wall_assets, name="wall-test")
    wall.resize(1280, 720)
    wall.show()
    try:
        assert not other.window.mode_banner.isVisible()
        panel = open_modes_panel(qtbot, supervisor)
        assert panel.activate_button.isEnabled() is False  # nothing previewed yet
        choose_mode(panel, "Test drill")
        assert panel.whole_city.isChecked()
        QTest.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.preview_value is not None, timeout=20000)
        p = panel.preview_value
        lights = next(c for c in p.counts if c.kind == "street_light")
        assert (
            lights.changes + lights.unchanged + lights.refusals
            == street_lights(modes_backend.address)
            == LIGHTS
        )
        assert panel.changes.rowCount() == len(p.changes) == p.total_changes
        assert "Give a reason" in panel.problem.text() and not panel.activate_button.isEnabled()

        QTest.keyClicks(panel.reason, "Evacuation drill")
        assert panel.activate_button.isEnabled()
        QTest.mouseClick(panel.activate_button, Qt.MouseButton.LeftButton)
        clicked = time.monotonic()
        # Another console and a wall display show the banner within 2 s of the click.
        qtbot.waitUntil(
            lambda: other.window.mode_banner.isVisible() and wall.mode_banner.isVisible(), timeout=2000
        )
        reached = time.monotonic() - clicked
        text = other.window.mode_banner.texts()[0]
        assert text.startswith("TEST DRILL — whole city — since ") and text.split(" by ")[1].startswith(
            "supervisor"
        )
        assert "Test drill (whole city)" in other.window.mode_status.text()
        assert wall.mode_banner.texts()[0].startswith("TEST DRILL — whole city")
        print(f"banner on the other console {reached * 1000:.0f} ms after the click")

        # The supervisor follows the run to the end, device by device.
        qtbot.waitUntil(
            lambda: panel.current_run() is not None and panel.current_run().state == "ACTIVE", timeout=60000
        )
        run = panel.current_run()
        assert run.confirmed == run.total == lights.changes

        def outcomes() -> list[str]:
            return [panel.results.item(r, 3).text() for r in range(panel.results.rowCount())]

        # Every light listed, the refused ones too, each with its result (fetched as the run moves).
        qtbot.waitUntil(lambda: outcomes().count("confirmed") == lights.changes, timeout=10000)
        assert len(outcomes()) == LIGHTS and outcomes().count("refused") == lights.refusals

        # Return to normal: the dry run first (the hand-changed devices), then confirmed.
        QTest.keyClicks(panel.run_reason, "Drill over")
        QTest.mouseClick(panel.return_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.pending_return == run.run_id, timeout=15000)
        assert "No device was changed by hand" in panel.hand_label.text()
        assert panel.return_button.text() == "Confirm return to normal"
        QTest.mouseClick(panel.return_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: (
                not any(
                    b.isVisible()
                    for b in (other.window.mode_banner, wall.mode_banner, supervisor.window.mode_banner)
                )
            ),
            timeout=60000,
        )
        assert other.window.mode_status.text() == ""

        # The journal lists the run, returned, with its devices.
        panel.tabs.setCurrentIndex(2)
        qtbot.waitUntil(lambda: panel.journal.rowCount() >= 1, timeout=10000)
        assert panel.journal.item(0, 0).text() == "Test drill"
        assert panel.journal.item(0, 2).text() == "returned to normal"
        assert panel.journal.item(0, 5).text() == "Evacuation drill"
    finally:
        wall.stop()
        wall.close()


def test_operator_sees_activate_disabled_and_why(qtbot, consoles, modes_backend):
    operator = consoles(modes_backend.address, "operator")
    panel = open_modes_panel(qtbot, operator)
    choose_mode(panel, "Test drill")
    QTest.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)  # viewing is allowed
    qtbot.waitUntil(lambda: panel.preview_value is not None, timeout=20000)
    QTest.keyClicks(panel.reason, "I would like to")
    assert not panel.activate_button.isEnabled()
    assert "Only a SUPERVISOR" in panel.problem.text() and "operator (OPERATOR)" in panel.problem.text()
    assert panel.activate_button.toolTip() == panel.problem.text()
    QTest.mouseClick(panel.activate_button, Qt.MouseButton.LeftButton)  # a click on it does nothing
    assert not operator.window.mode_banner.isVisible()


def test_return_to_normal_restores_a_hand_changed_light_only_when_ticked(qtbot, consoles, modes_backend):
    supervisor = consoles(modes_backend.address, "supervisor")
    ch = open_channel(modes_backend.address, "operator")
    assets = assets_pb2_grpc.AssetServiceStub(ch)

    def light_states() -> dict[str, tuple[str, str]]:
        resp = assets.ListAssets(
            assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.STREET_LIGHT], page_size=10_000), timeout=10
        )
        return {a.id: (a.attributes["mode"], a.attributes["level_pct"]) for a in resp.assets if a.status == 1}

    before = light_states()
    panel = open_modes_panel(qtbot, supervisor)
    choose_mode(panel, "Test drill")
    QTest.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.preview_value is not None, timeout=20000)
    QTest.keyClicks(panel.reason, "Second drill")
    QTest.mouseClick(panel.activate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: panel.current_run() is not None and panel.current_run().state == "ACTIVE", timeout=60000
    )
    run = panel.current_run()
    # An operator changes one light by hand during the mode (through the command path).
    light = sorted(before)[0]
    commands = commands_pb2_grpc.CommandServiceStub(ch)
    commands.Execute(
        commands_pb2.ExecuteRequest(
            idempotency_key=uuid.uuid4().hex,
            asset_ids=[light],
            action=commands_pb2.LIGHT_DIM,
            params=commands_pb2.CommandParams(level_percent=80),
            reason="by hand",
            confirmed=True,
        ),
        timeout=10,
    )
    qtbot.waitUntil(lambda: light_states()[light][1] == "80", timeout=30000)

    QTest.keyClicks(panel.run_reason, "Drill over")
    QTest.mouseClick(panel.return_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.pending_return == run.run_id, timeout=15000)
    assert panel.hand_changed.count() == 1
    item = panel.hand_changed.item(0)
    assert item.data(Qt.ItemDataRole.UserRole) == light
    # Ticked by keyboard: the list focused on the item, Space.
    panel.hand_changed.setFocus()
    panel.hand_changed.setCurrentRow(0)
    QTest.keyClick(panel.hand_changed, Qt.Key.Key_Space)
    assert item.checkState() == Qt.CheckState.Checked
    QTest.mouseClick(panel.return_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not supervisor.window.mode_banner.isVisible(), timeout=60000)
    qtbot.waitUntil(lambda: light_states()[light] == before[light], timeout=30000)
    after = light_states()
    assert {a: after[a] for a in before} == before  # every light as it was before the mode
