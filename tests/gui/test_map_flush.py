"""What the map widget sends the page for a batch of changes: the changed rows, exactly as
`json.dumps` would write them, though each asset's unchanging columns are encoded only once; a
fixed asset whose status alone changed as its slot in the page's store under its new status."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import QObject, Signal

from vigie.app.controllers.map_view import MapController
from vigie.app.models.assets import AssetStore
from vigie.app.models.records import AssetRecord
from vigie.widgets.map.map_view import MapView


def test_a_flush_sends_the_changed_rows_as_json(qtbot, map_view):
    rows = [
        ["cam-1", "camera", "Caméra « Darcy » — nord", 47.3221234, 5.0412345, "ok", 45.5, "", 1733440000.25],
        ["light-1", "street_light", 'Light "1"', 47.3, 5.04, "ok", 0.0, "", 0],
        ["veh-1", "vehicle", "Patrol 1", 47.31, 5.03, "ok", 90.0, "POLICE 1", 1733440000.0],
    ]
    map_view.reset_assets([list(r) for r in rows])
    sent: list[str] = []
    map_view.bridge.assetsChanged.connect(sent.append)

    # A turned camera, a vehicle's status, a moved vehicle, then a light renamed and moved.
    batches = [
        [["cam-1", "camera", "Caméra « Darcy » — nord", 47.3221234, 5.0412345, "ok", 135.0, "", 2.0]],
        [["veh-1", "vehicle", "Patrol 1", 47.31, 5.03, "fault", 90.0, "POLICE 1", 1733440001.0]],
        [["veh-1", "vehicle", "Patrol 1", 47.3105, 5.0302, "ok", 92.5, "POLICE 1", 1733440002.0]],
        [["light-1", "street_light", "Light 1 (Rue Monge)", 47.3001, 5.0401, "fault", 0.0, "", 3.0]],
    ]
    for batch in batches:
        map_view.update_assets([list(r) for r in batch])
        count = len(sent)
        qtbot.waitUntil(lambda c=count: len(sent) > c, timeout=5000)
        assert sent[-1] == json.dumps({"rows": batch}, separators=(",", ":"))
        assert json.loads(sent[-1]) == {"rows": batch}


def _flushed(qtbot, view: MapView, sent: list[str]) -> dict:
    count = len(sent)
    qtbot.waitUntil(lambda: len(sent) > count, timeout=5000)
    assert len(sent) == count + 1
    return json.loads(sent[-1])


def _status_of(qtbot, view: MapView, asset_id: str) -> str:
    out: list = []
    view.run_js(f"window.vigieMap.statusOf({json.dumps(asset_id)})", out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=5000)
    return out[0]


def test_a_status_change_alone_goes_as_the_assets_slot(qtbot, map_view):
    rows = [
        ["cam-1", "camera", "Cam 1", 47.32, 5.041, "ok", 45.0, "", 0],
        ["light-1", "street_light", "Light 1", 47.3, 5.04, "ok", 0.0, "", 0],
        ["veh-1", "vehicle", "Patrol 1", 47.31, 5.03, "ok", 90.0, "POLICE 1", 1733440000.0],
        ["light-2", "street_light", "Light 2", 47.301, 5.041, "ok", 0.0, "", 0],
    ]
    # The page numbers assets in the order their rows reach it: the reset's, then new ones'.
    slot = {r[0]: n for n, r in enumerate(rows)}
    map_view.reset_assets([list(r) for r in rows])
    sent: list[str] = []
    map_view.bridge.assetsChanged.connect(sent.append)

    # Through update_assets: a light's status (and report time) alone changed.
    map_view.update_assets([["light-1", "street_light", "Light 1", 47.3, 5.04, "fault", 0.0, "", 5.0]])
    assert _flushed(qtbot, map_view, sent) == {"rows": [], "status": {"fault": [slot["light-1"]]}}

    # A new asset comes as a row and takes the next slot; its status then goes by that slot.
    new_row = ["bollard-9", "bollard", "Bollard 9", 47.302, 5.042, "ok", 0.0, "", 0]
    map_view.update_assets([list(new_row)])
    assert _flushed(qtbot, map_view, sent) == {"rows": [new_row]}
    slot["bollard-9"] = len(rows)

    # Through update_statuses, two statuses in one flush; an unknown id and an unchanged status
    # are not sent.
    map_view.update_statuses(
        [("bollard-9", "warning"), ("cam-1", "warning"), ("nope", "fault"), ("light-2", "ok")]
    )
    got = _flushed(qtbot, map_view, sent)
    assert got["rows"] == []
    assert {s: sorted(v) for s, v in got["status"].items()} == {
        "warning": sorted([slot["bollard-9"], slot["cam-1"]])
    }

    # A status change and a move of the same asset in one flush: its row alone, with both.
    map_view.update_statuses([("light-2", "offline")])
    moved = ["light-2", "street_light", "Light 2", 47.3015, 5.041, "offline", 0.0, "", 9.0]
    map_view.update_assets([list(moved)])
    assert _flushed(qtbot, map_view, sent) == {"rows": [moved]}

    expected = {
        "cam-1": "warning",
        "light-1": "fault",
        "veh-1": "ok",
        "light-2": "offline",
        "bollard-9": "warning",
    }
    for asset_id, status in expected.items():
        assert _status_of(qtbot, map_view, asset_id) == status, asset_id

    # A reloaded page gets every row again, with the statuses sent as slots.
    map_view.reload()
    qtbot.waitUntil(lambda: map_view.ready, timeout=30000)
    for asset_id, status in expected.items():
        assert _status_of(qtbot, map_view, asset_id) == status, asset_id
    map_view.update_statuses([("bollard-9", "ok")])
    assert _flushed(qtbot, map_view, sent) == {"rows": [], "status": {"ok": [slot["bollard-9"]]}}
    assert _status_of(qtbot, map_view, "bollard-9") == "ok"


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


class _MapClientStandIn(QObject):
    """The session's map client as the controller uses it (the basemap is not this test's)."""

    sig_basemap = Signal(object)

    def request_basemap(self) -> None:
        pass


def _record(asset_id: str, kind: str, status: str, lat: float = 47.3, **kw) -> AssetRecord:
    fields = {"name": asset_id, "district": "Centre", "lon": 5.04, "reason": "", "last_seen": 1.0}
    fields |= {"heading": 0.0, "revision": 1} | kw
    return AssetRecord(id=asset_id, kind=kind, status=status, lat=lat, **fields)


def test_the_controller_sends_a_status_change_alone_as_a_status(qtbot, map_view):
    store = AssetStore()
    MapController(SimpleNamespace(map=_MapClientStandIn()), store, map_view, remember_view=False)
    first = [_record("light-1", "street_light", "ok"), _record("cam-1", "camera", "ok", heading=45.0)]
    first.append(_record("veh-1", "vehicle", "ok"))
    store.reset(first, revision=1)
    sent: list[str] = []
    map_view.bridge.assetsChanged.connect(sent.append)

    # The light's status and report time, the camera's report time and reason: the light's status
    # alone (the camera looks the same).
    store.queue_changes(
        [
            _record("light-1", "street_light", "fault", last_seen=2.0),
            _record("cam-1", "camera", "ok", heading=45.0, last_seen=2.0, reason="checked"),
        ],
        revision=2,
        count=2,
    )
    store.flush()
    assert _flushed(qtbot, map_view, sent) == {"rows": [], "status": {"fault": [0]}}

    # A moved light, a turned camera, a vehicle's status: rows.
    store.queue_changes(
        [
            _record("light-1", "street_light", "fault", lat=47.301),
            _record("cam-1", "camera", "ok", heading=90.0),
            _record("veh-1", "vehicle", "warning"),
        ],
        revision=3,
        count=3,
    )
    store.flush()
    got = _flushed(qtbot, map_view, sent)
    assert "status" not in got
    assert sorted((r[0], r[3], r[5], r[6]) for r in got["rows"]) == [
        ("cam-1", 47.3, "ok", 90.0),
        ("light-1", 47.301, "fault", 0.0),
        ("veh-1", 47.3, "warning", 0.0),
    ]
    assert [_status_of(qtbot, map_view, a) for a in ("light-1", "cam-1", "veh-1")] == [
        "fault",
        "ok",
        "warning",
    ]
