"""The mosaic against a real backend: layouts, drops, maximise, signal lost, tours, views, snapshots."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.gui.console_harness import ConsoleHarness
from vigie.widgets.mosaic.layouts import LAYOUTS


@pytest.fixture
def console(qtbot):
    made: list[ConsoleHarness] = []

    def open_console(address: str) -> ConsoleHarness:
        window = ConsoleHarness(address).start()
        made.append(window)
        qtbot.waitUntil(
            lambda: window.assets.total() > 5900 and bool(window.mosaic_ctl.cameras), timeout=30000
        )
        return window

    yield open_console
    for window in made:
        window.close()


def link_of(window: ConsoleHarness, tile: object) -> object:
    """The video link (app/client/video_link.py) streaming into `tile`."""
    return next(link for key, link in window.session.video.links.items() if key.endswith(f":{id(tile)}"))


def live_cameras(window: ConsoleHarness, n: int) -> list[str]:
    return sorted(r.id for r in window.assets.records() if r.kind == "camera" and r.status == "ok")[:n]


def test_layouts_keep_cameras_in_place_and_hidden_tiles_stop(console, qtbot, backend):
    window = console(backend.address)
    ctl, mosaic = window.mosaic_ctl, window.cameras.mosaic
    cams = live_cameras(window, 4)
    for slot, cam in enumerate(cams):
        ctl.place(slot, cam)
    mosaic.set_layout("3x3")
    assert mosaic.cameras[:4] == cams and mosaic.visible_slots() == list(range(9))
    mosaic.set_layout("1+12")
    assert mosaic.cameras[:4] == cams
    mosaic.set_layout("1x1")
    assert set(ctl.streams) == {0}, "only the visible tile streams"
    mosaic.set_layout("2x2")
    assert set(ctl.streams) == {0, 1, 2, 3}
    qtbot.waitUntil(lambda: all(mosaic.tiles[s].frames >= 2 for s in range(4)), timeout=20000)
    assert [mosaic.tiles[s].camera_id for s in range(4)] == cams
    assert all(len(layout.cells) == layout.size for layout in LAYOUTS.values())


def test_drag_cameras_from_the_asset_table(console, qtbot, backend):
    window = console(backend.address)
    model, mosaic = window.assets, window.cameras.mosaic
    model.set_filter(kind="camera", district=None)
    rows = [model.index(r, 1) for r in (3, 4)]
    mime = model.mimeData(rows)
    dragged = [model.id_at(3), model.id_at(4)]
    tile = mosaic.tiles[1]
    qtbot.waitUntil(lambda: tile.frames >= 1 and mosaic.tiles[2].frames >= 1, timeout=20000)
    links = [link_of(window, tile), link_of(window, mosaic.tiles[2])]
    pos = QPointF(tile.width() / 2, tile.height() / 2)
    enter = QDragEnterEvent(
        pos.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(tile, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(tile, drop)
    assert mosaic.cameras[1:3] == dragged, "dropped cameras fill the tile and the next one"
    qtbot.waitUntil(lambda: mosaic.tiles[1].frames >= 2 and mosaic.tiles[2].frames >= 2, timeout=20000)
    # The tiles switched camera inside their video calls: the same links, no call opened.
    assert [link_of(window, mosaic.tiles[s]) for s in (1, 2)] == links
    assert [link.calls for link in links] == [1, 1]
    # A street light is not a camera: nothing changes.
    light = next(r.id for r in model.records() if r.kind == "street_light")
    window.mosaic_ctl.drop(0, [light])
    assert mosaic.cameras[0] != light


def test_maximise_switches_to_main_and_back(console, qtbot, backend):
    window = console(backend.address)
    ctl, mosaic = window.mosaic_ctl, window.cameras.mosaic
    qtbot.waitUntil(lambda: mosaic.tiles[0].frames >= 2, timeout=20000)
    link = link_of(window, mosaic.tiles[0])
    mosaic.toggle_maximise(0)
    assert ctl.streams == {0: (mosaic.cameras[0], "MAIN")}
    qtbot.waitUntil(lambda: ctl.decoders[0]._last_size == (1280, 720), timeout=20000)
    mosaic.toggle_maximise(0)
    qtbot.waitUntil(lambda: ctl.decoders[0]._last_size == (640, 360), timeout=20000)
    assert ctl.streams[0][1] == "SUB" and len(ctl.streams) == 4
    assert link_of(window, mosaic.tiles[0]) is link and link.calls == 1, "the profile changed in the call"


def test_dead_stream_shows_signal_lost_and_recovers(console, qtbot, make_backend):
    first = make_backend().start()
    window = console(first.address)
    tile = window.cameras.mosaic.tiles[0]
    qtbot.waitUntil(lambda: tile.frames >= 3 and tile.is_live(), timeout=20000)
    first.kill()
    # No frame any more: the tile says so (after its 2 s; how soon exactly is not a test matter).
    qtbot.waitUntil(lambda: not tile.is_live(), timeout=30000)
    tile.repaint()
    assert tile.image is not None, "the last picture stays, dimmed"
    frames = tile.frames
    make_backend(port=first.port).start()
    qtbot.waitUntil(lambda: tile.frames > frames + 2 and tile.is_live(), timeout=30000)


def test_tour_named_view_and_snapshot(console, qtbot, backend, tmp_path):
    window = console(backend.address)
    ctl, mosaic = window.mosaic_ctl, window.cameras.mosaic
    cams = live_cameras(window, 6)
    ctl.start_tour(cams, [0, 1], dwell_s=0.3)
    qtbot.waitUntil(lambda: ctl.tour.position >= 6, timeout=30000)
    assert set(mosaic.cameras[:2]) <= set(cams)
    ctl.stop_tour()
    mosaic.set_layout("3x3")
    for slot, cam in enumerate(cams[:3]):
        ctl.place(slot, cam)
    ctl.save_view("Centre")  # kept by the backend (tests/gui/test_saved_views.py)
    views = window.cameras.views
    qtbot.waitUntil(lambda: "Centre" in [views.itemText(i) for i in range(views.count())], timeout=15000)
    mosaic.set_layout("1x1")
    ctl.load_view("Centre")
    assert mosaic.layout_name == "3x3" and mosaic.cameras[:3] == cams[:3]
    assert "Centre" in [window.cameras.views.itemText(i) for i in range(window.cameras.views.count())]
    qtbot.waitUntil(lambda: mosaic.tiles[0].frames >= 2, timeout=20000)
    messages: list[str] = []
    ctl.sig_message.connect(messages.append)
    ctl.snapshot(0, directory=tmp_path)
    qtbot.waitUntil(lambda: bool(messages), timeout=30000)
    saved = list(Path(tmp_path).glob("*.png"))
    assert saved and "Snapshot saved" in messages[0]
    img = cv2.imread(str(saved[0]))
    assert img.shape[:2] == (360, 640) and img.std() > 10


def test_ptz_from_the_tile(console, qtbot, backend):
    window = console(backend.address)
    ctl, mosaic = window.mosaic_ctl, window.cameras.mosaic
    ptz = sorted(c for c, info in ctl.cameras.items() if info.ptz and window.assets.record(c).status == "ok")[
        0
    ]
    ctl.place(0, ptz)
    tile = mosaic.tiles[0]
    assert tile.ptz and tile.presets
    with qtbot.waitSignal(window.session.sig_ptz_result, timeout=30000) as result:
        tile.sig_ptz.emit("preset", 0.0, 0.0, 0.0, tile.presets[1][0])
    assert result.args[0] == ptz and result.args[1] is True
    qtbot.waitUntil(lambda: bool(tile.message), timeout=30000)


def test_screenshot_of_a_3x3_mosaic_is_not_blank(console, qtbot, backend):
    window = console(backend.address)
    mosaic = window.cameras.mosaic
    mosaic.set_layout("3x3")
    for slot, cam in enumerate(live_cameras(window, 9)):
        window.mosaic_ctl.place(slot, cam)
    qtbot.waitUntil(lambda: all(mosaic.tiles[s].frames >= 2 for s in range(9)), timeout=30000)
    img = mosaic.grab().toImage()
    colours = {
        img.pixelColor(x, y).name() for x in range(0, img.width(), 17) for y in range(0, img.height(), 17)
    }
    assert len(colours) > 50
