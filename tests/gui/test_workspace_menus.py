"""The workspace menus and panel operations in the test process's console (one screen): show/hide and
add panels, a new panel kind in one registry entry, moving a panel to another window, Save as… and
the autosave, presentation mode on the screen and leaving it with Escape."""

from __future__ import annotations

import json

import PySide6QtAds as ads
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMenu, QWidgetAction

from tests.gui.console_harness import ConsoleHarness
from vigie.app.workspace.files import WorkspaceStore
from vigie.app.workspace.layouts import LAPTOP, OPERATOR_2, PROVIDED, SUPERVISOR_3
from vigie.app.workspace.model import Panel, Placement, Screen, Tabs, Window, Workspace, panel_ids
from vigie.app.workspace.panels import REGISTRY, LivePanel, PanelKind, register


@pytest.fixture
def console(qtbot, backend, tmp_path):
    c = ConsoleHarness(backend.address)
    c.manager.store = WorkspaceStore(tmp_path / "config")
    c.start()
    qtbot.waitUntil(lambda: c.assets.total() > 5900 and bool(c.mosaic_ctl.cameras), timeout=30000)
    yield c
    c.close()


def menu(c: ConsoleHarness, title: str) -> QMenu:
    m = next(a.menu() for a in c.window.menus.actions() if a.text().replace("&", "") == title)
    m.aboutToShow.emit()  # the menus fill themselves when they open
    return m


def action(m: QMenu, text: str):  # QAction
    return next(a for a in m.actions() if a.text().startswith(text))


def test_panels_menu_hides_shows_and_adds_mosaics(console, qtbot):
    m = menu(console, "Panels")
    titles = [a.text() for a in m.actions() if a.isCheckable()]
    assert titles == [
        "Alarm video",
        "Alarms",
        "Asset detail",
        "Assets",
        "Cameras",
        "City map",
        "Incident detail",
        "Incidents",
    ]
    detail = console.manager.docks["detail"]
    action(m, "Asset detail").trigger()
    assert detail.isClosed()
    m = menu(console, "Panels")
    assert not action(m, "Asset detail").isChecked()
    action(m, "Asset detail").trigger()
    assert not detail.isClosed()

    action(menu(console, "Panels"), "Add a mosaic").trigger()
    assert "mosaic-2" in console.manager.panels and len(console.mosaic_ctls) == 2
    new = console.manager.panels["mosaic-2"].ctl
    first = console.mosaic_ctls[0]
    qtbot.waitUntil(lambda: new.mosaic.tiles[0].frames >= 1, timeout=20000)
    shown_twice = {c for c in new.mosaic.cameras if c} & {c for c in first.mosaic.cameras if c}
    assert not shown_twice, "a new mosaic fills with cameras no other mosaic shows"
    # Closing one of several mosaics removes it and stops its streams.
    console.manager.docks["mosaic-2"].requestCloseDockWidget()  # its tab's close button
    assert "mosaic-2" not in console.manager.panels and console.mosaic_ctls == [first]
    assert not new.streams


def test_a_new_panel_kind_is_one_registry_entry(console):
    register(PanelKind("notes", "Notes", lambda _c, _pid, state: LivePanel(QLabel(state.get("text", "")))))
    try:
        ws = Workspace(
            "With notes",
            [Screen("console-left")],
            [Window(Placement("console-left"), Tabs(["map", "notes"], "notes"))],
            {"map": Panel("map"), "notes": Panel("notes", {"text": "shift handover at 19:00"})},
        )
        console.manager.apply(ws)
        dock = console.manager.docks["notes"]
        assert dock.windowTitle() == "Notes" and dock.widget().text() == "shift handover at 19:00"
        assert console.manager.capture().panels["notes"].kind == "notes"
        assert "mosaic-1" not in console.manager.panels and console.mosaic_ctls == []
        console.show_camera("cam-0001")  # no mosaic: says so instead of failing
    finally:
        del REGISTRY["notes"]
    # The console's own views outlive the panels that showed them.
    console.manager.apply(PROVIDED[LAPTOP]())
    assert console.manager.docks["assets"].widget() is console.asset_panel
    assert console.manager.docks["alarms"].widget() is console.alarm_ctl.panel
    console.alarm_ctl._update_flood()  # its timer and labels are alive
    assert "notes" not in console.manager.panels and len(console.mosaic_ctls) == 1


def test_a_panel_moves_to_another_window_and_keeps_working(console, qtbot):
    manager = console.manager
    manager.show_window("console-right")  # an empty window (folded onto this one screen)
    assert (
        manager.windows["console-right"].isVisible()
        and manager.homes[manager.windows["console-right"]].displaced
    )
    view = console.map
    qtbot.waitUntil(lambda: view.ready, timeout=20000)
    manager.move_panel("map", "console-right")
    assert manager.window_of("map").role == "console-right"
    assert "City map  (console-right)" in [a.text() for a in menu(console, "Panels").actions()]
    cam = next(r for r in console.assets.records() if r.kind == "camera")
    view.sig_asset_clicked.emit(cam.id)  # still selects everywhere
    assert console.detail_ctl.asset_id == cam.id
    ws = manager.capture()
    assert [w.place.role for w in ws.windows] == ["console-left", "console-right"]
    assert ws.windows[1].docks == Tabs(["map"], "map")

    # A panel dragged out, then docked back: its floating window goes, and nothing trips on it.
    detail = manager.docks["detail"]
    detail.setFloating()
    fc = detail.floatingDockContainer()
    qtbot.waitUntil(lambda: fc in manager.homes and fc.isVisible(), timeout=5000)
    assert [f.docks for f in manager.capture().windows[0].floating] == [Tabs(["detail"], "detail")]
    console.window.docks.addDockWidget(ads.RightDockWidgetArea, detail)
    qtbot.waitUntil(lambda: not manager.capture().windows[0].floating, timeout=5000)
    manager.handle_screens_changed()
    assert "detail" in panel_ids(manager.capture().windows[0].docks)


def test_workspace_menu_saves_opens_and_resets(console, qtbot, tmp_path):
    m = menu(console, "Workspace")
    names = [a.text() for a in m.actions() if a.isCheckable()]
    assert names == [LAPTOP, OPERATOR_2, SUPERVISOR_3]
    assert action(m, LAPTOP).isChecked()
    edit = next(a for a in m.actions() if isinstance(a, QWidgetAction)).defaultWidget()
    assert isinstance(edit, QLineEdit)
    console.manager.docks["detail"].toggleView(False)
    qtbot.keyClicks(edit, "Day shift")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    path = tmp_path / "config" / "workspaces" / "day-shift.json"
    saved = json.loads(path.read_text())
    assert saved["name"] == "Day shift" and saved["windows"][0]["closed"] == ["detail"]
    m = menu(console, "Workspace")
    assert "Day shift" in [a.text() for a in m.actions()] and action(m, "Day shift").isChecked()

    action(m, "Reset to proposed").trigger()
    assert not console.manager.docks["detail"].isClosed()
    assert console.manager.name.startswith("Proposed")
    action(menu(console, "Workspace"), "Day shift").trigger()
    assert console.manager.docks["detail"].isClosed() and console.manager.name == "Day shift"

    # The autosave keeps the last arrangement (written on a worker thread).
    last = tmp_path / "config" / "last-workspace.json"
    console.manager._autosave_now()
    qtbot.waitUntil(last.exists, timeout=5000)
    assert json.loads(last.read_text())["name"] == "Day shift"


def test_presentation_mode_from_the_screens_menu_and_escape(console, qtbot):
    m = menu(console, "Screens")
    (screen_menu,) = [a.menu() for a in m.actions() if a.menu()]
    assert screen_menu.title().startswith("console-left")
    action(screen_menu, "Presentation: mosaic").trigger()
    # The only screen: it asks first (tests/gui/test_presentation_one_screen.py); Enter presents.
    qtbot.keyClick(console.manager.presentation_question, Qt.Key.Key_Return)
    shown = console.manager.presentation_windows["console-left"]
    assert shown.isVisible() and shown.isFullScreen() and not console.window.isVisible()
    assert shown.geometry() == shown.screen().geometry()
    assert not shown.panel.panel.toolbar.isVisible(), "no controls in presentation mode"
    qtbot.waitUntil(lambda: shown.panel.ctl.mosaic.tiles[0].frames >= 1, timeout=20000)
    qtbot.keyClick(shown, Qt.Key.Key_Escape)
    assert "console-left" not in console.manager.presentation_windows and console.window.isVisible()
    assert not shown.panel.ctl.streams, "its streams stop with it"


def test_a_shared_wall_screen_shows_what_a_supervisor_pushes(console, qtbot):
    """Presentation "shared": the screen attaches to the WallService under its role and follows the
    pushes of any supervisor (here through the API, as another console would)."""
    from tests.conftest import open_channel
    from vigie.v1 import wall_pb2, wall_pb2_grpc

    walls = wall_pb2_grpc.WallServiceStub(open_channel(console.session.address, "supervisor"))
    # The wall a supervisor created for this console's user (walls are never made by attaching).
    user = f"user:{console.session.credentials.user}"
    walls.CreateWall(wall_pb2.CreateWallRequest(name="console-left", allowed_displays=[user]), timeout=5)
    m = menu(console, "Screens")
    (screen_menu,) = [a.menu() for a in m.actions() if a.menu()]
    action(screen_menu, "Presentation: shared wall").trigger()
    qtbot.keyClick(console.manager.presentation_question, Qt.Key.Key_Return)  # the only screen: confirm
    shown = console.manager.presentation_windows["console-left"]
    display = shown.panel.display
    qtbot.waitUntil(shown.isFullScreen, timeout=5000)
    assert display.page == "idle"

    def online() -> bool:
        listed = walls.ListWalls(wall_pb2.ListWallsRequest(), timeout=5).walls
        return any(w.name == "console-left" and w.online for w in listed)

    qtbot.waitUntil(online, timeout=15000)
    cam = next(iter(console.camera_info))
    content = wall_pb2.WallContent(camera=wall_pb2.CameraContent(camera_id=cam))
    walls.Push(wall_pb2.PushRequest(wall="console-left", content=content), timeout=5)
    qtbot.waitUntil(lambda: display.page == "video" and display.content.camera_id == cam, timeout=15000)
    qtbot.keyClick(shown, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not online(), timeout=15000)  # leaving presentation mode detaches the screen


def test_opening_the_screens_menu_again_and_again_leaves_no_submenus_behind(console, qtbot):
    """Each opening refills the menu; the submenus of the last opening go with it (a console
    open for a shift would otherwise keep one set per opening)."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtTest import QTest

    bar = console.window.menus
    screens = next(a for a in bar.actions() if a.text().replace("&", "") == "Screens")
    m = screens.menu()
    counts = []
    for _ in range(5):
        QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(screens).center())
        qtbot.waitUntil(m.isVisible, timeout=5000)
        QTest.keyClick(m, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: not m.isVisible(), timeout=5000)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        counts.append(len(m.findChildren(QMenu, options=Qt.FindChildOption.FindDirectChildrenOnly)))
    assert counts[0] >= 1, "one submenu per screen"
    assert counts == [counts[0]] * 5, counts
