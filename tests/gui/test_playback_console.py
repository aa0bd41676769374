"""The console's playback on a real backend recording four real file cameras (loopback): a tile
goes to playback from its right-click menu and back to live with the bar's button (real clicks);
four tiles on one shared clock stay within one recorded frame of it."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from tests.api.recording_helpers import secs, start_recording_backend, ts
from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.app.workspace.panels import PlaybackLivePanel
from vigie.v1 import playback_pb2, playback_pb2_grpc

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


FRAME_S = 1 / 5.0  # --record-fps default: one recorded picture of a file camera


def first_recorded(address: str, cams: list[str], since: float) -> float:
    """When every camera was recording (the test's own ListSpans on a raw channel)."""
    with open_channel(address, user="viewer") as ch:
        stub = playback_pb2_grpc.PlaybackServiceStub(ch)
        starts = [
            secs(
                stub.ListSpans(
                    playback_pb2.ListSpansRequest(camera_id=c, range=playback_pb2.TimeRange(start=ts(since))),
                    timeout=10,
                )
                .spans[0]
                .start
            )
            for c in cams
        ]
    return max(starts)


def test_four_tiles_on_one_clock_and_the_map_at_that_moment(console, qtbot, recording_backend):
    b, t0 = recording_backend
    window = console(b.address)
    for slot, cam in enumerate(CAMS):
        window.mosaic_ctl.place(slot, cam)
    live = PlaybackLivePanel(window.console)  # the registered "playback" panel
    panel, ctl = live.panel, live.ctl
    panel.resize(1400, 800)
    panel.show()
    assert [p.camera_id for p in ctl.players] == CAMS
    timeline = panel.bar.timeline
    qtbot.waitUntil(lambda: timeline.width() > 200)
    target = first_recorded(b.address, CAMS, t0) + 1.0
    x = round(timeline.x_of(target))
    picked = timeline.start + x / timeline.width() * (timeline.end - timeline.start)  # the click's time
    QTest.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, 10))
    t_seek, origin = ctl.clock.anchor
    assert abs(t_seek - picked) < 1e-6 and origin > time.time()
    deadline = origin + 4.0
    qtbot.waitUntil(lambda: time.time() > deadline, timeout=30000)
    got = [[(a, c) for a, c in p.arrivals if a > origin + 0.05] for p in ctl.players]
    assert all(len(g) >= 10 for g in got), [len(g) for g in got]
    # Each picture arrives when the shared clock (computed here) reaches it: within one frame.
    lateness = np.array([t_seek + (a - origin) - c for g in got for a, c in g])
    print(
        f"\nlateness vs the shared clock: median {np.median(lateness) * 1000:.0f} ms, p95 {np.percentile(lateness, 95) * 1000:.0f} ms"
    )
    assert np.percentile(lateness, 95) < FRAME_S and lateness.min() > -0.05, lateness
    # Tile against tile: at every instant the four latest pictures are within one frame.
    t_end = min(g[-1][0] for g in got)
    for k in np.arange(origin + 0.5, t_end, 0.05):
        latest = [max(c for a, c in g if a <= k) for g in got]
        assert max(latest) - min(latest) <= FRAME_S + 0.01, (k - origin, [[(round(a - origin, 2), round(c - t_seek, 2)) for a, c in g if abs(a - k) < 0.7] for g in got])

    # The map follows the clock: "PLAYBACK hh:mm:ss" of a moment the clock was at, and the
    # cameras as they were then.
    banner = live.map_view.time_banner
    qtbot.waitUntil(lambda: ctl.city is not None and ctl.city.time >= t_seek, timeout=10000)
    expected = "PLAYBACK " + dt.datetime.fromtimestamp(ctl.city.time).strftime("%H:%M:%S")
    assert banner.isVisible() and banner.text() == expected
    assert t_seek <= ctl.city.time <= t_seek + (time.time() - origin) + 1.0
    assert set(CAMS) <= {a.id for a in ctl.city.assets}
    assert panel.alarms.count() >= 1
    live.close()
    assert not banner.isVisible()
