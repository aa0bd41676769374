"""An incident without any linked alarm, sent to a wall from the incident detail: the wall display
shows the map centred on it with the route of the unit driving there, beside its scene cameras,
and a red "INCIDENT" caption. The console draws that unit's route from the incident itself (the
backend keeps it there), not from a Route call of its own."""

from __future__ import annotations

import json
import math
import os
import uuid

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from tests.conftest import console_session, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.app.models.asset_table import AssetTableModel
from vigie.app.wall.display import WallDisplay
from vigie.v1 import assets_pb2, assets_pb2_grpc, common_pb2, incidents_pb2, incidents_pb2_grpc

PLACE = (47.3215, 5.0415)  # the city centre: streets, cameras and units around


def js(qtbot, view, script: str):
    out: list = []
    view.run_js(script, out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=30000)
    return out[0]


def metres(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    dx = (lon1 - lon0) * 111_320.0 * math.cos(math.radians(lat0))
    return math.hypot(dx, (lat1 - lat0) * 111_320.0)


@pytest.fixture
def wall(qtbot, make_backend):
    backend = make_backend(
        "--seed", "9", "--quiet-city", "--incident-rate", "0", "--heartbeat", "1", "--lights", "300",
        "--wall", "wall-x=test-display",
    ).start()  # fmt: skip
    session = console_session(backend.address, "viewer", stale_after=4.0)
    assets = AssetTableModel()
    session.sig_snapshot.connect(assets.reset)
    session.sig_changes.connect(assets.queue_changes)
    display = WallDisplay(session, assets, name="wall-x")
    display.follow(session)
    display.resize(1600, 900)
    display.show()
    session.start()
    session.attach_wall("wall-x", "test-display")
    yield display, backend
    display.stop()
    session.stop()
    display.close()
    display.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def test_an_incident_without_alarm_goes_to_a_wall_with_its_route_and_scene_cameras(qtbot, wall):
    display, backend = wall
    with open_channel(backend.address, "supervisor") as ch:
        incidents = incidents_pb2_grpc.IncidentServiceStub(ch)
        inc = incidents.CreateIncident(
            incidents_pb2.CreateIncidentRequest(
                idempotency_key=uuid.uuid4().hex,
                type="public_order",
                position=common_pb2.GeoPoint(lat=PLACE[0], lon=PLACE[1]),
            ),
            timeout=10,
        )
        assert not inc.alarm_ids
        best = incidents.Recommend(
            incidents_pb2.RecommendRequest(incident_id=inc.id, k=1), timeout=10
        ).candidates[0]
        sent = incidents.Assign(
            incidents_pb2.AssignRequest(
                idempotency_key=uuid.uuid4().hex, incident_id=inc.id, unit_id=best.unit.id
            ),
            timeout=10,
        ).incident
        route = [(p.lat, p.lon) for p in sent.routes[0].polyline]
        cams = assets_pb2_grpc.AssetServiceStub(ch).ListAssets(
            assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.CAMERA], page_size=1000), timeout=10
        )
        camera_at = {c.id: (c.position.lat, c.position.lon) for c in cams.assets}
    assert len(route) >= 2

    console = ConsoleHarness(backend.address, user="supervisor").start()
    try:
        ctl = console.dispatch_ctl
        # The console's cameras (it picks the scene cameras from them) and the incident.
        qtbot.waitUntil(lambda: console.assets.total() > 0, timeout=30000)
        qtbot.waitUntil(lambda: ctl.incidents.get(inc.id) is not None, timeout=30000)
        # The unit another client sent: its route comes with the incident.
        qtbot.waitUntil(lambda: (inc.id, best.unit.id) in ctl.routes, timeout=30000)
        assert [tuple(p) for p in ctl.routes[(inc.id, best.unit.id)]["points"]] == route

        ctl.select(inc.id)
        detail = ctl.detail
        qtbot.waitUntil(lambda: detail.wall.isEnabled(), timeout=30000)  # the walls are known
        QTest.mouseClick(detail.wall, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=5000)
        menu = QApplication.activePopupWidget()
        sub = next(a.menu() for a in menu.actions() if a.menu() is not None)
        next(a for a in sub.actions() if a.text().startswith("wall-x")).trigger()
        menu.close()

        qtbot.waitUntil(
            lambda: display.content.kind == "incident" and display.map_view is not None, timeout=30000
        )
        c = display.content
        assert c.incident_id == inc.id and (c.lat, c.lon) == PLACE
        assert [r.unit_id for r in c.routes] == [best.unit.id] and list(c.routes[0].points) == route
        assert display.page == "map" and display.side.isVisible()
        assert c.camera_ids, "the console pushed the scene cameras"
        shown = [t.camera_id for t in display.side_tiles if t.isVisible() and t.camera_id]
        assert shown and shown == list(c.camera_ids)[: len(shown)]
        assert all(metres(*PLACE, *camera_at[cam]) <= 400 for cam in shown), "scene cameras are near it"
        assert display.caption_text()[0].startswith("⚠ INCIDENT · P")

        # On the wall's map page: the incident, selected, and the unit's route with its ETA.
        def page() -> dict:
            return json.loads(js(qtbot, display.map_view, "JSON.stringify(window.vigieMap.dispatch.stats())"))

        qtbot.waitUntil(lambda: display.map_view.ready and page()["routes"] == 1, timeout=30000)
        stats = page()
        assert stats["incidents"] == 1 and stats["selected"] == inc.id
        assert stats["eta"] and stats["eta"][0].startswith(f"{best.unit.callsign} · ETA ")
        qtbot.waitUntil(lambda: all(t.frames >= 1 for t in display.side_tiles if t.camera_id), timeout=30000)
        if os.environ.get("VIGIE_SHOTS"):  # for the report: not part of the check
            seen: list = []

            def settled() -> bool:  # the page's fly to the incident and its route has ended
                seen.append(js(qtbot, display.map_view, "JSON.stringify(window.vigieMap._map.getCenter())"))
                return len(seen) >= 2 and seen[-1] == seen[-2]

            qtbot.waitUntil(settled, timeout=10000)
            display.grab().save(os.path.join(os.environ["VIGIE_SHOTS"], "incident-wall.png"))
    finally:
        console.close()
