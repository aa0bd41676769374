"""The video wall end to end: a real `vigie wall` process, consoles pushing to it, the wall display
rendering every kind of content, and "Send to wall" from the console's views. Offscreen; grabs of
the display are written as PNGs (look at them: tmp dir, or VIGIE_WALL_SHOTS=DIR)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QMenu, QWidget

from tests.conftest import ROOT, console_session
from vigie.app.controllers.wall import WallController
from vigie.app.models.asset_table import AssetTableModel
from vigie.app.models.walls import NAME_ROLE
from vigie.app.wall.content import WallContent
from vigie.app.wall.display import WallDisplay
from vigie.widgets.mosaic.panel import MosaicPanel


def save_png(display: QWidget, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"wall-{name}.png"
    assert display.grab().save(str(path))
    shots = os.environ.get("VIGIE_WALL_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(shots) / path.name)
    return path


class Console:
    """What a console needs to drive walls: a session and a WallController (no main window)."""

    def __init__(self, qtbot, address: str) -> None:
        self.session = console_session(address, "supervisor")
        self.assets = AssetTableModel()
        self.session.sig_snapshot.connect(self.assets.reset)
        self.walls = WallController(self.session, assets=self.assets)
        qtbot.addWidget(self.walls.panel)
        self.session.start()

    def online(self, name: str) -> bool:
        w = self.walls.wall(name)
        return w is not None and w.online

    def stop(self) -> None:
        self.session.stop()


@pytest.fixture
def consoles(qtbot):
    made: list[Console] = []

    def make(address: str) -> Console:
        c = Console(qtbot, address)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


def cameras(console: Console, qtbot, n: int) -> list[str]:
    qtbot.waitUntil(lambda: console.assets.total() > 0, timeout=30000)
    return sorted(r.id for r in console.assets.records() if r.kind == "camera" and r.status == "ok")[:n]


def test_a_push_to_a_wall_process_is_seen_by_a_second_console(qtbot, make_backend, consoles, tmp_path):
    backend = make_backend("--lights", "300", "--heartbeat", "1", "--wall", "wall-1=user:viewer").start()
    wall = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigie.app",
            "wall",
            "--name",
            "wall-1",
            "--backend",
            backend.address,
            "--user",
            "viewer",
        ],
        cwd=ROOT,
        env={**os.environ, "VIGIE_PASSWORD": "viewer"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pusher, watcher = consoles(backend.address), consoles(backend.address)
        qtbot.waitUntil(lambda: watcher.online("wall-1"), timeout=60000)
        assert watcher.walls.wall("wall-1").display, "the wall process names its display"
        cam = cameras(pusher, qtbot, 1)[0]
        qtbot.waitUntil(lambda: "wall-1" in pusher.walls.names(), timeout=30000)
        pusher.walls.push_camera("wall-1", cam)
        qtbot.waitUntil(lambda: pusher.walls.last_result is not None, timeout=30000)
        assert pusher.walls.last_result[0], pusher.walls.last_result
        qtbot.waitUntil(lambda: watcher.walls.wall("wall-1").content.camera_id == cam, timeout=30000)
        seen = watcher.walls.wall("wall-1").content
        assert seen.kind == "camera" and seen.version >= 1 and seen.pushed_by
        panel = watcher.walls.panel
        panel.resize(900, 220)
        panel.show()
        qtbot.waitUntil(lambda: not panel.empty.isVisible(), timeout=30000)
        save_png(panel, tmp_path, "panel")
        row = watcher.walls.model.row_of("wall-1")
        index = watcher.walls.model.index(row, 2)
        assert "Camera" in index.data() and watcher.walls.model.index(row, 0).data(NAME_ROLE) == "wall-1"
        # The wall process ends cleanly on SIGTERM, and every console sees the wall go offline.
        wall.terminate()
        assert wall.wait(30) == 0, wall.stderr.read() if wall.stderr else ""
        qtbot.waitUntil(lambda: not watcher.online("wall-1"), timeout=20000)
        assert watcher.walls.wall("wall-1").content.camera_id == cam, "offline walls keep their content"
    finally:
        if wall.poll() is None:
            wall.kill()
            wall.wait(10)


@pytest.fixture
def wall_display(qtbot, make_backend, consoles, tmp_path):
    """An in-process WallDisplay attached as wall-x, and a console to push to it."""
    data = str(tmp_path / "data")
    backend = make_backend(
        "--lights",
        "300",
        "--heartbeat",
        "1",
        "--alarm-rate",
        "1",
        "--data-dir",
        data,
        "--wall",
        "wall-x=test-display",
    ).start()
    session = console_session(backend.address, "viewer", stale_after=4.0)
    assets = AssetTableModel()
    session.sig_snapshot.connect(assets.reset)
    session.sig_changes.connect(assets.queue_changes)
    display = WallDisplay(session, assets, name="wall-x")
    display.follow(session)
    display.resize(1920, 1080)
    display.show()
    session.start()
    session.attach_wall("wall-x", "test-display")
    console = consoles(backend.address)
    qtbot.waitUntil(
        lambda: console.online("wall-x") and assets.total() > 0 and console.assets.total() > 0, timeout=30000
    )
    yield display, console, backend
    display.stop()
    session.stop()
    # The map's web page must go while Qt is up (else QtWebEngine warns at exit).
    display.close()
    display.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def central(console: Console, kind: str) -> str:
    """An asset of `kind` near the city centre (the map around it is full)."""
    recs = [r for r in console.assets.records() if r.kind == kind]
    return min(recs, key=lambda r: (r.lat - 47.322) ** 2 + (r.lon - 5.041) ** 2).id


def test_camera_and_mosaic_content_show_live_tiles(qtbot, wall_display, tmp_path):
    display, console, _backend = wall_display
    assert display.page == "idle" and "waiting for content" in display.idle_wait.text()
    cams = cameras(console, qtbot, 6)
    console.walls.push_camera("wall-x", cams[0])
    qtbot.waitUntil(lambda: display.content.kind == "camera", timeout=30000)
    tile = display.grid_tiles[0]
    assert display.page == "video" and tile.camera_id == cams[0] and tile.isVisible()
    assert display.feeds.streams[id(tile)] == (cams[0], "MAIN")
    qtbot.waitUntil(lambda: tile.frames >= 3 and tile.is_live(), timeout=20000)
    what, who = display.caption_text()
    assert (
        what.startswith("CAMERA · ")
        and console.walls.name_of(cams[0]) in what
        and who.startswith("pushed by")
    )
    save_png(display, tmp_path, "camera")

    console.walls.push_layout("wall-x", "Centre", "1+5", cams)
    qtbot.waitUntil(lambda: display.content.kind == "mosaic", timeout=30000)
    shown = [t for t in display.grid_tiles if t.isVisible()]
    assert [t.camera_id for t in shown] == cams, "six tiles, in the layout's slot order"
    big, small = shown[0], shown[1]
    assert big.width() > 1.8 * small.width() and big.height() > 1.8 * small.height(), "1+5: tile 0 spans 2x2"
    qtbot.waitUntil(lambda: all(t.frames >= 2 for t in shown), timeout=30000)
    save_png(display, tmp_path, "mosaic")

    console.walls.clear("wall-x")
    qtbot.waitUntil(lambda: display.page == "idle", timeout=30000)
    assert not display.feeds.streams, "nothing shown, nothing streamed"


def js(qtbot, display: WallDisplay, script: str):
    out: list = []
    display.map_view.run_js(script, out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=30000)
    return out[0]


def centred(qtbot, display: WallDisplay, asset_id: str) -> bool:
    """The asset's marker is in the middle of the map, and the page has drawn its cameras."""
    stats = json.loads(js(qtbot, display, "JSON.stringify(window.vigieMap.stats())"))
    xy = json.loads(js(qtbot, display, f"JSON.stringify(window.vigieMap.pixelOf('{asset_id}'))") or "null")
    zoom = display.map_view.web.zoomFactor()
    w, h = display.map_view.web.width() / zoom, display.map_view.web.height() / zoom
    return (
        xy is not None
        and abs(xy["x"] - w / 2) < 30
        and abs(xy["y"] - h / 2) < 30
        and stats["drawn"].get("camera", 0) > 0
    )


def test_map_content_and_a_refused_push(qtbot, wall_display, tmp_path):
    display, console, _backend = wall_display
    signal = central(console, "traffic_signal")
    rec = console.assets.record(signal)
    console.walls.push_map("wall-x", rec.lat, rec.lon, 16, focus=signal)
    qtbot.waitUntil(lambda: display.page == "map", timeout=30000)
    qtbot.waitUntil(lambda: display.map_view.ready, timeout=30000)
    qtbot.waitUntil(
        lambda: (
            json.loads(js(qtbot, display, "JSON.stringify(window.vigieMap.stats())"))["selected"] == signal
        ),
        timeout=10000,
    )
    assert not display.side.isVisible(), "a map alone fills the wall"
    assert not display.map_view.search.isVisible(), "no controls on a wall"
    qtbot.waitUntil(
        lambda: (
            json.loads(js(qtbot, display, "JSON.stringify(window.vigieMap.stats())"))["counts"].get(
                "camera", 0
            )
            > 0
        ),
        timeout=20000,
    )
    qtbot.waitUntil(lambda: centred(qtbot, display, signal), timeout=20000)
    save_png(display, tmp_path, "map")

    cams = cameras(console, qtbot, 2)
    console.walls.push(
        "wall-x", WallContent.alarm("", rec.id, rec.lat, rec.lon, cams, "P1 · Door forced — test")
    )  # no alarm id: refused, the wall keeps the map
    qtbot.waitUntil(
        lambda: console.walls.last_result is not None and not console.walls.last_result[0], timeout=10000
    )
    assert "alarm_id" in console.walls.last_result[1] and display.content.kind == "map"


def test_alarm_content_puts_the_map_beside_its_cameras(qtbot, wall_display, tmp_path):
    display, console, backend = wall_display
    from tests.conftest import open_channel
    from vigie.v1 import alarms_pb2, alarms_pb2_grpc

    stub = alarms_pb2_grpc.AlarmServiceStub(open_channel(backend.address))
    alarm = None

    def found() -> bool:
        nonlocal alarm
        listed = stub.ListAlarms(alarms_pb2.ListAlarmsRequest(page_size=100), timeout=5).alarms
        alarm = next((a for a in listed if len(a.camera_ids) >= 2), None)
        return alarm is not None

    qtbot.waitUntil(found, timeout=30000)
    console.walls.push_alarm("wall-x", alarm.id)  # an id alone: the backend completes it
    qtbot.waitUntil(lambda: display.content.kind == "alarm" and display.map_view is not None, timeout=30000)
    assert display.side.isVisible()
    shown = [t.camera_id for t in display.side_tiles if t.isVisible() and t.camera_id]
    assert shown == list(alarm.camera_ids)[: len(shown)] and len(shown) >= 2
    qtbot.waitUntil(lambda: all(t.frames >= 2 for t in display.side_tiles if t.camera_id), timeout=30000)
    qtbot.waitUntil(
        lambda: (
            display.map_view.ready
            and json.loads(js(qtbot, display, "JSON.stringify(window.vigieMap.stats())"))["selected"]
            == alarm.asset_id
        ),
        timeout=30000,
    )
    qtbot.waitUntil(lambda: centred(qtbot, display, alarm.asset_id), timeout=20000)
    assert display.caption_text()[0].startswith("⚠ ALARM")
    save_png(display, tmp_path, "alarm")


def test_lost_backend_shows_disconnected_and_keeps_the_picture(qtbot, wall_display, tmp_path, make_backend):
    display, console, backend = wall_display
    cam = cameras(console, qtbot, 1)[0]
    console.walls.push_camera("wall-x", cam)
    qtbot.waitUntil(lambda: display.content.camera_id == cam, timeout=30000)
    tile = display.grid_tiles[0]
    qtbot.waitUntil(lambda: tile.frames >= 3, timeout=20000)
    assert not display.banner.isVisible()
    content = display.content
    backend.kill()
    qtbot.waitUntil(lambda: display.banner.isVisible(), timeout=30000)
    assert "Server connection lost since" in display.banner.text()
    assert "reconnecting" in display.banner.text()
    assert display.content == content and display.page == "video" and tile.image is not None
    save_png(display, tmp_path, "disconnected")
    # The backend comes back (same port and data): the wall attaches again by itself.
    data = backend.args[backend.args.index("--data-dir") + 1]
    make_backend("--lights", "300", "--heartbeat", "1", "--data-dir", data, port=backend.port).start()
    qtbot.waitUntil(lambda: not display.banner.isVisible(), timeout=30000)
    assert display.content.camera_id == cam, "the wall's content survived the restart"


def test_send_to_wall_from_a_mosaic_tile_menu(qtbot, wall_display):
    display, console, _backend = wall_display
    panel = MosaicPanel()
    qtbot.addWidget(panel)
    console.walls.attach_to(mosaic_panel=panel)
    qtbot.waitUntil(
        lambda: panel.walls.names == ["wall-x"] and panel.to_wall.isVisibleTo(panel), timeout=10000
    )
    cams = cameras(console, qtbot, 4)
    for slot, cam in enumerate(cams):
        panel.mosaic.set_camera(slot, cam)
    menu = QMenu()
    panel.add_send_menus(menu, 1)
    subs = {a.text(): a.menu() for a in menu.actions() if a.menu() is not None}
    assert set(subs) == {"Send camera to wall", "Send this view to wall"}
    next(a for a in subs["Send camera to wall"].actions() if a.text() == "wall-x").trigger()
    qtbot.waitUntil(lambda: display.content.camera_id == cams[1], timeout=30000)
    next(a for a in subs["Send this view to wall"].actions() if a.text() == "wall-x").trigger()
    qtbot.waitUntil(lambda: display.content.kind == "mosaic", timeout=30000)
    assert (display.content.rows, display.content.columns, list(display.content.camera_ids)) == (2, 2, cams)


def test_map_menu_offers_the_view_an_asset_and_a_camera(qtbot):
    from vigie.app.theme import RESOURCES, map_style
    from vigie.widgets.map.map_view import MapView

    view = MapView(RESOURCES / "map" / "index.html", map_style())
    qtbot.addWidget(view)
    view.reset_assets([["cam-1", "camera", "Gare", 47.32, 5.03, "ok", 90.0, "", 0.0]])
    view.current_view = {"lat": 47.33, "lon": 5.04, "zoom": 14, "layers": {"camera": True, "vehicle": False}}
    sent: list = []
    view.sig_send_to_wall.connect(lambda wall, payload: sent.append((wall, payload)))
    assert view.walls.add_menu(QMenu(), {}, lambda *_: None) is None, "no wall: no entry"
    view.set_walls(["wall-1", "wall-2"], offline={"wall-2"})
    here = dict(view.wall_payloads("", ""))["Send this view to wall"]
    assert here == {"kind": "map", "lat": 47.33, "lon": 5.04, "zoom": 14, "focus": "", "layers": ["camera"]}
    cam = dict(view.wall_payloads("cam-1", "camera"))
    assert cam["Send camera to wall"] == {"kind": "camera", "camera_id": "cam-1"}
    focus = cam["Send map of this asset to wall"]
    assert (focus["lat"], focus["lon"], focus["focus"], focus["zoom"]) == (47.32, 5.03, "cam-1", 17.0)
    menu = QMenu()
    sub = view.walls.add_menu(menu, focus, view.sig_send_to_wall.emit)
    labels = [a.text() for a in sub.actions()]
    assert labels == ["wall-1", "wall-2  (no display now)"]
    sub.actions()[1].trigger()
    assert sent == [("wall-2", focus)]
