"""What the map widget sends the page for a batch of changes: the changed rows, exactly as
`json.dumps` would write them, though each asset's unchanging columns are encoded only once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from vigie.app.theme import RESOURCES, map_style
from vigie.widgets.map.map_view import MapView

PAGE = RESOURCES / "map" / "index.html"


@pytest.fixture
def map_view(qtbot):
    view = MapView(PAGE, map_style())
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitUntil(lambda: view.ready, timeout=30000)
    yield view
    view.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def test_a_flush_sends_the_changed_rows_as_json(qtbot, map_view):
    rows = [
        ["cam-1", "camera", "Caméra « Darcy » — nord", 47.3221234, 5.0412345, "ok", 45.5, "", 1733440000.25],
        ["light-1", "street_light", 'Light "1"', 47.3, 5.04, "ok", 0.0, "", 0],
        ["veh-1", "vehicle", "Patrol 1", 47.31, 5.03, "ok", 90.0, "POLICE 1", 1733440000.0],
    ]
    map_view.reset_assets([list(r) for r in rows])
    sent: list[str] = []
    map_view.bridge.assetsChanged.connect(sent.append)

    # A status change, a turned camera, a moved vehicle, then the same asset renamed and moved.
    batches = [
        [["light-1", "street_light", 'Light "1"', 47.3, 5.04, "fault", 0.0, "", 1733440001.5]],
        [["cam-1", "camera", "Caméra « Darcy » — nord", 47.3221234, 5.0412345, "ok", 135.0, "", 2.0]],
        [["veh-1", "vehicle", "Patrol 1", 47.3105, 5.0302, "ok", 92.5, "POLICE 1", 1733440002.0]],
        [["light-1", "street_light", "Light 1 (Rue Monge)", 47.3001, 5.0401, "fault", 0.0, "", 3.0]],
    ]
    for batch in batches:
        map_view.update_assets([list(r) for r in batch])
        count = len(sent)
        qtbot.waitUntil(lambda c=count: len(sent) > c, timeout=5000)
        assert sent[-1] == json.dumps({"rows": batch}, separators=(",", ":"))
        assert json.loads(sent[-1]) == {"rows": batch}


def _renderers() -> list[int]:
    from bench.soak_tools import argv_of, children_map, label

    kids, out, todo = children_map(), [], [(os.getpid(), None)]
    while todo:
        pid, parent = todo.pop()
        if parent is not None and label(argv_of(pid), argv_of(parent)).endswith(":renderer"):
            out.append(pid)
        todo.extend((c, pid) for c in kids.get(pid, []))
    return out


def test_the_map_renderer_gets_the_fixed_mmap_threshold(map_view):
    # docs/soak.md, "The map renderer": without it the renderer's main heap grew ~10 MB an hour.
    renderers = _renderers()
    assert renderers, "no QtWebEngine renderer under this process"
    for pid in renderers:
        env = dict(e.split("=", 1) for e in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in e)
        assert env.get("MALLOC_MMAP_THRESHOLD_") == "131072"
