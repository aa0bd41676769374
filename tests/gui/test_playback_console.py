"""The console's playback on a real backend recording four real file cameras (loopback): a tile
goes to playback from its right-click menu and back to live with the bar's button (real clicks);
four tiles on one shared clock stay within one recorded frame of it."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from tests.api.recording_helpers import start_recording_backend
from tests.gui.console_harness import ConsoleHarness

CAMS = ["file-1", "file-2", "file-3", "file-4"]


@pytest.fixture
def recording_backend(tmp_path, make_backend):
    return start_recording_backend(tmp_path, make_backend)


@pytest.fixture
def console(qtbot):
    made: list[ConsoleHarness] = []

    def open_console(address: str) -> ConsoleHarness:
        window = ConsoleHarness(address).start()
        made.append(window)
        qtbot.waitUntil(lambda: set(CAMS) <= set(window.mosaic_ctl.cameras), timeout=30000)
        return window

    yield open_console
    for window in made:
        window.close()


def click_menu_item(qtbot, text: str) -> None:
    """Click the open context menu's item `text` (a real mouse click on its geometry)."""
    qtbot.waitUntil(
        lambda: any(isinstance(w, QMenu) and w.isVisible() for w in QApplication.topLevelWidgets())
    )
    menu = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu) and w.isVisible())
    action = next(a for a in menu.actions() if a.text().startswith(text))
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())


def right_click(widget) -> None:
    """A right click's context-menu event (QTest's mouse press does not make one offscreen)."""
    pos = QPoint(widget.width() // 2, widget.height() // 2)
    QApplication.sendEvent(
        widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    )


def test_a_tile_goes_to_playback_and_back_to_live(console, qtbot, recording_backend):
    b, _t0 = recording_backend
    window = console(b.address)
    ctl, mosaic = window.mosaic_ctl, window.cameras.mosaic
    mosaic.set_layout("2x2")
    ctl.place(0, "file-1")
    tile = mosaic.tiles[0]
    qtbot.waitUntil(lambda: tile.frames >= 2 and time.time() - tile.captured < 3, timeout=20000)
    assert tile.playback_text == ""

    right_click(tile)
    click_menu_item(qtbot, "Play back")
    qtbot.waitUntil(lambda: 0 in ctl.players and tile.bar is not None, timeout=5000)
    player = ctl.players[0]
    # Recorded pictures, not live ones: the tile shows PLAYBACK and the state's position.
    qtbot.waitUntil(lambda: player.state.server_time > 0, timeout=15000)
    assert tile.playback_text.startswith("PLAYBACK ")
    assert 0 not in ctl.streams, "the live stream stopped while the tile plays back"
    # Seek by a click on the timeline, to the second recorded second.
    timeline = tile.bar.timeline
    qtbot.waitUntil(lambda: bool(timeline.spans), timeout=10000)
    first = timeline.spans[0][0]
    target = first + 2.0
    QTest.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(timeline.x_of(target)), 10))
    px_s = (timeline.end - timeline.start) / timeline.width()  # one pixel of the timeline in seconds
    qtbot.waitUntil(lambda: abs(player.state.position - target) <= px_s + 1.0, timeout=10000)
    qtbot.waitUntil(lambda: abs(player.last_frame - target) <= px_s + 1.0, timeout=10000)
    assert time.time() - player.last_frame > 5, "a recorded picture, not a live one"

    QTest.mouseClick(tile.bar.live, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: 0 not in ctl.players and tile.playback_text == "", timeout=5000)
    assert tile.bar is None
    frames = tile.frames
    qtbot.waitUntil(lambda: 0 in ctl.streams and tile.frames > frames + 2, timeout=20000)
    qtbot.waitUntil(lambda: time.time() - tile.captured < 3, timeout=20000)  # live again
