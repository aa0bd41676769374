"""An alarm's video goes to the alarm preview and never rearranges the operator's own mosaic; the
orange "alarm camera" border goes with the camera. A whole console against a real backend raising
alarms, driven by clicks on the alarm list and drops on the tiles."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.gui.console_harness import ConsoleHarness
from tests.gui.test_alarms import click_row


@pytest.fixture
def alarm_backend(make_backend, tmp_path):
    return make_backend("--alarm-rate", "5", "--data-dir", str(tmp_path / "data")).start()


def test_an_alarm_fills_the_alarm_video_and_leaves_the_operator_mosaic_alone(qtbot, alarm_backend):
    window = ConsoleHarness(alarm_backend.address, size=(1800, 1000)).start()
    try:
        ctl = window.alarm_ctl
        qtbot.waitUntil(
            lambda: window.assets.total() > 5900 and any(a.camera_ids for a in ctl.store.alarms.values()),
            timeout=30000,
        )
        qtbot.waitUntil(lambda: bool(window.mosaic_ctl.cameras), timeout=20000)
        operator_mosaic = window.cameras.mosaic
        alarm = next(a for a in ctl.store.alarms.values() if len(a.camera_ids) >= 1)
        # The operator keeps one of the alarm's cameras in their own tile 2 (a saved view, say).
        window.mosaic_ctl.place(2, alarm.camera_ids[0])
        before = list(operator_mosaic.cameras)

        click_row(qtbot, ctl.panel.active, ctl.active, alarm.id)

        preview = window.alarm_video_ctl
        assert preview is not None, "the workspace's alarm video panel"
        shown = [c for c in preview.mosaic.cameras if c]
        assert shown == list(alarm.camera_ids)[:9]
        assert all(preview.mosaic.tiles[s].linked for s in range(len(shown)))
        assert operator_mosaic.cameras == before, "the operator's mosaic is left as it was"
        assert operator_mosaic.tiles[2].linked, "the tile already showing the alarm's camera is marked"
        assert alarm.priority and f"P{alarm.priority}" in preview.panel.caption.text()
        qtbot.waitUntil(lambda: preview.mosaic.tiles[0].frames >= 1, timeout=20000)

        # The operator puts another camera in tile 2: the orange border does not stay on it.
        other = next(
            c
            for c in window.mosaic_ctl.cameras
            if c not in alarm.camera_ids and c not in operator_mosaic.cameras
        )
        tile = operator_mosaic.tiles[2]
        QTest.mouseClick(tile, Qt.MouseButton.LeftButton, pos=QPoint(tile.width() // 2, tile.height() // 2))
        window.console.show_camera(other)  # what a double-click on the camera in the table does
        assert tile.camera_id == other and not tile.linked
    finally:
        window.close()


def test_a_camera_found_by_name_comes_into_view_over_the_alarm_video(qtbot, alarm_backend):
    window = ConsoleHarness(alarm_backend.address, size=(1800, 1000)).start()
    try:
        ctl = window.alarm_ctl
        qtbot.waitUntil(
            lambda: window.assets.total() > 5900 and any(a.camera_ids for a in ctl.store.alarms.values()),
            timeout=30000,
        )
        alarm = next(a for a in ctl.store.alarms.values() if a.camera_ids)
        click_row(qtbot, ctl.panel.active, ctl.active, alarm.id)
        docks = window.manager.docks
        assert docks["alarm-video"].isCurrentTab(), "the alarm's video in front of the operator's mosaic"
        assert not docks["mosaic-1"].isCurrentTab()

        # The operator looks for one camera by name (its street and number: typed keys are
        # ASCII), then Enter on its row.
        wanted = next(
            r for r in window.assets.records() if r.kind == "camera" and r.id not in alarm.camera_ids
        )
        panel, table = window.asset_panel, window.asset_panel.table
        QTest.mouseClick(panel.search, Qt.MouseButton.LeftButton)
        QTest.keyClicks(panel.search, wanted.name.split(" ", 1)[1])

        def row_of_wanted() -> int:
            names = [table.model().index(r, 1).data() for r in range(table.model().rowCount())]
            return names.index(wanted.name) if wanted.name in names else -1

        qtbot.waitUntil(lambda: row_of_wanted() >= 0 and table.model().rowCount() < 20, timeout=10000)
        rect = table.visualRect(table.model().index(row_of_wanted(), 1))
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.keyClick(table, Qt.Key.Key_Return)
        assert docks["mosaic-1"].isCurrentTab(), "the mosaic the camera went to is in view"
        assert wanted.id in window.cameras.mosaic.cameras
    finally:
        window.close()
