"""The map's renderer dies: the page comes back by itself with every asset, and a renderer that
keeps dying before the page is ready is started again less and less often (a renderer that could
not start was relaunched thousands of times a minute; widgets/map/map_view.py)."""

from __future__ import annotations

import json
import os
import signal

from PySide6.QtWebEngineCore import QWebEnginePage

from vigie.widgets.map.map_view import MapView

ROWS = [
    ["cam-1", "camera", "Caméra Darcy", 47.3221, 5.0412, "ok", 45.0, "", 0],
    ["light-1", "street_light", "Light 1", 47.30, 5.04, "fault", 0.0, "", 0],
    ["veh-1", "vehicle", "Patrol 1", 47.31, 5.03, "ok", 90.0, "POLICE 1", 1733440000.0],
]


def _asset_count(qtbot, view: MapView) -> int:
    got: list = []
    view.run_js("JSON.stringify(window.vigieMap.stats())", got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=10000)
    return sum(json.loads(got[0])["counts"].values())


def test_a_killed_renderer_comes_back_with_every_asset(qtbot, map_view):
    map_view.reset_assets([list(r) for r in ROWS])
    qtbot.waitUntil(lambda: _asset_count(qtbot, map_view) == len(ROWS), timeout=10000)
    readies: list[int] = []
    map_view.sig_ready.connect(lambda: readies.append(1))
    pid = map_view.page.renderProcessPid()
    assert pid > 0
    os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: bool(readies), timeout=30000)
    assert map_view.page.renderProcessPid() not in (0, pid)
    assert map_view.renderer_deaths == 0  # ready again: the next death reloads at once
    assert _asset_count(qtbot, map_view) == len(ROWS)


def test_a_renderer_that_keeps_dying_is_started_again_less_and_less_often(qtbot, map_view):
    """Deaths before the page is ready: the renderer's end is signalled as Qt would (a real one
    that dies this often cannot be made to order), and each reload waits longer, up to 30 s."""
    crashed = QWebEnginePage.RenderProcessTerminationStatus.CrashedTerminationStatus
    waits = []
    for _ in range(9):
        map_view.page.renderProcessTerminated.emit(crashed, 139)
        assert not map_view.ready
        waits.append(map_view._reload_timer.interval())
    assert waits == [0, 500, 1000, 2000, 5000, 10000, 30000, 30000, 30000]
    assert map_view._reload_timer.isActive()
    # Ready once more: the count starts again.
    map_view.reload()
    qtbot.waitUntil(lambda: map_view.ready, timeout=30000)
    assert not map_view._reload_timer.isActive() and map_view.renderer_deaths == 0
