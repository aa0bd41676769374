"""Dispatch in the console, against a real backend process, driven by real input (QTest clicks and
keys): operator speed (alarm → incident → recommended unit assigned in at most 3 actions), the unit
board's keyboard status change, the incident list's timers, and what viewers and operators may do."""

from __future__ import annotations

import json
import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTableView

from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.app.models.incidents import LEVEL_ROLE
from vigie.v1 import (
    assets_pb2,
    assets_pb2_grpc,
    common_pb2,
    incidents_pb2,
    incidents_pb2_grpc,
    wall_pb2,
    wall_pb2_grpc,
)

RED, AMBER = QColor("#f85149"), QColor("#d29922")  # docs/ux.md: late timers amber, then red


@pytest.fixture
def dispatch_backend(make_backend, tmp_path):
    """A still city (no simulated incidents, alarms from device statuses only) with its units."""
    return make_backend(
        "--quiet-city", "--alarm-rate", "0", "--incident-rate", "0", "--data-dir", str(tmp_path / "data")
    ).start()


@pytest.fixture
def harnesses(qtbot):
    made: list[ConsoleHarness] = []

    def make(address: str, user: str, workspace: str = "Supervisor 3 screens") -> ConsoleHarness:
        h = ConsoleHarness(address, workspace=workspace, user=user).start()
        made.append(h)
        qtbot.waitUntil(lambda: h.session.role != "", timeout=30000)
        return h

    yield make
    for h in made:
        h.close()


class Actions:
    """Counts the operator's actions: each is one real input event (a click or a key)."""

    def __init__(self) -> None:
        self.count = 0

    def click(self, widget, pos=None) -> None:
        self.count += 1
        if pos is None:
            QTest.mouseClick(widget, Qt.MouseButton.LeftButton)
        else:
            QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)

    def key(self, widget, key: Qt.Key) -> None:
        self.count += 1
        QTest.keyClick(widget, key)


def row_rect(view: QTableView, key: str, id_role: int):
    model = view.model()
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(id_role) == key)
    index = model.index(row, 1)
    view.scrollTo(index)
    return view.visualRect(index).center()


_VIEWERS: dict[str, object] = {}  # one logged-in channel per backend: polling never logs in again


@pytest.fixture(autouse=True)
def _close_viewer_channels():
    yield
    for ch in _VIEWERS.values():
        ch.close()  # type: ignore[attr-defined]
    _VIEWERS.clear()


def _viewer(address: str):
    if address not in _VIEWERS:
        _VIEWERS[address] = open_channel(address, "viewer")
    return _VIEWERS[address]


def backend_incidents(address: str) -> list[incidents_pb2.Incident]:
    stub = incidents_pb2_grpc.IncidentServiceStub(_viewer(address))
    return list(stub.ListIncidents(incidents_pb2.ListIncidentsRequest(), timeout=10).incidents)


def backend_unit(address: str, unit_id: str) -> incidents_pb2.Unit:
    units = incidents_pb2_grpc.UnitServiceStub(_viewer(address)).ListUnits(
        incidents_pb2.ListUnitsRequest(), timeout=10
    )
    return next(u for u in units.units if u.id == unit_id)


def test_alarm_to_incident_to_assigned_unit_in_three_actions(qtbot, harnesses, dispatch_backend):
    sup = harnesses(dispatch_backend.address, "supervisor")
    alarms = sup.alarm_ctl
    # A device alarm whose place the backend can route to, and the catalogue.
    qtbot.waitUntil(
        lambda: any(a.state == "unack_active" for a in alarms.store.alarms.values()), timeout=30000
    )
    qtbot.waitUntil(lambda: bool(sup.dispatch_ctl.incidents.catalogue.types), timeout=30000)
    qtbot.waitUntil(lambda: len(sup.dispatch_ctl.units.book.units) >= 60, timeout=30000)
    target = next(a for a in alarms.store.alarms.values() if a.state == "unack_active")
    assert backend_incidents(dispatch_backend.address) == []
    panel = alarms.panel
    rec = sup.dispatch_ctl.recommendation
    acts = Actions()
    panel.activateWindow()  # keys reach shortcuts in the active window only
    qtbot.waitUntil(panel.isActiveWindow, timeout=10000)

    # 1. Select the alarm.
    acts.click(panel.active.viewport(), row_rect(panel.active, target.id, Qt.ItemDataRole.UserRole + 1))
    # 2. Create the incident from it (the key; the button does the same).
    acts.key(panel.active, Qt.Key.Key_I)
    qtbot.waitUntil(lambda: rec.assign_first.isEnabled(), timeout=30000)
    created = backend_incidents(dispatch_backend.address)
    assert len(created) == 1 and list(created[0].alarm_ids) == [target.id]
    assert rec.incident_id == created[0].id
    # 3. Assign the recommended (first) unit.
    first_unit = rec.candidates[0]["unit_id"]
    acts.click(rec.assign_first)

    def assigned() -> bool:
        (inc,) = backend_incidents(dispatch_backend.address)
        return list(inc.unit_ids) == [first_unit] and inc.status == incidents_pb2.Incident.DISPATCHED

    qtbot.waitUntil(assigned, timeout=30000)
    assert acts.count <= 3, acts.count
    assert backend_unit(dispatch_backend.address, first_unit).incident_id == created[0].id
    # The console follows: the unit's route with an ETA, on the map page.
    qtbot.waitUntil(lambda: (created[0].id, first_unit) in sup.dispatch_ctl.routes, timeout=30000)
    page: dict = {}

    def drawn() -> bool:
        sup.map.run_js("JSON.stringify(window.vigieMap.dispatch.stats())", lambda r: page.update(stats=r))
        stats = json.loads(page["stats"]) if page.get("stats") else {}
        return stats.get("routes", 0) >= 1 and any("ETA" in e for e in stats.get("eta", []))

    qtbot.waitUntil(drawn, timeout=30000)
    stats = json.loads(page["stats"])
    assert stats["selected"] == created[0].id and stats["incidents"] == 1


def test_cameras_near_the_incident_go_to_the_mosaic_in_one_click(qtbot, harnesses, dispatch_backend):
    lat, lon = 47.3215, 5.0415
    with open_channel(dispatch_backend.address, "operator") as ch:
        inc = incidents_pb2_grpc.IncidentServiceStub(ch).CreateIncident(
            incidents_pb2.CreateIncidentRequest(
                idempotency_key="cameras-test",
                type="public_order",
                position=common_pb2.GeoPoint(lat=lat, lon=lon),
            ),
            timeout=10,
        )
        cams = (
            assets_pb2_grpc.AssetServiceStub(ch)
            .ListAssets(
                assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.CAMERA], page_size=1000), timeout=10
            )
            .assets
        )

    # The nearest camera within 250 m, by haversine (not the console's own arithmetic).
    def metres(c) -> float:
        p1, p2 = math.radians(lat), math.radians(c.position.lat)
        dp, dl = p2 - p1, math.radians(c.position.lon - lon)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371000 * math.asin(math.sqrt(h))

    near = sorted((metres(c), c.id) for c in cams if metres(c) <= 250)
    assert near, "the test's place has cameras around it"
    sup = harnesses(dispatch_backend.address, "supervisor")
    ctl = sup.dispatch_ctl
    qtbot.waitUntil(lambda: ctl.list_model.row_of(inc.id) >= 0 and sup.store.total() > 1000, timeout=30000)
    ctl.select(inc.id)
    QTest.mouseClick(ctl.detail.cameras, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: near[0][1] in sup.mosaic_ctl.mosaic.cameras, timeout=10000)
    shown = [c for c in sup.mosaic_ctl.mosaic.cameras if c]
    assert all(metres(next(c for c in cams if c.id == cid)) <= 500 for cid in shown), shown


def test_unit_board_key_sets_the_status_on_the_backend(qtbot, harnesses, dispatch_backend):
    op = harnesses(dispatch_backend.address, "operator")
    ctl = op.dispatch_ctl
    qtbot.waitUntil(lambda: len(ctl.units.book.units) >= 60, timeout=30000)
    board = ctl.board
    unit = next(u for u in ctl.board_model.store.book.board() if u.status == "available")
    QTest.mouseClick(
        board.table.viewport(),
        Qt.MouseButton.LeftButton,
        pos=row_rect(board.table, unit.id, Qt.ItemDataRole.UserRole + 1),
    )
    assert board.current_id() == unit.id
    QTest.keyClick(board.table, Qt.Key.Key_5)  # 5: OFF DUTY (listed on the board)
    qtbot.waitUntil(
        lambda: backend_unit(dispatch_backend.address, unit.id).status == incidents_pb2.Unit.OFF_DUTY,
        timeout=30000,
    )
    qtbot.waitUntil(lambda: ctl.units.get(unit.id).status == "off_duty", timeout=30000)


def test_incident_list_timers_turn_amber_then_red_at_the_priority_thresholds(
    qtbot, harnesses, dispatch_backend
):
    op = harnesses(dispatch_backend.address, "operator")
    ctl = op.dispatch_ctl
    with open_channel(dispatch_backend.address, "operator") as ch:
        stub = incidents_pb2_grpc.IncidentServiceStub(ch)
        cat = stub.ListIncidentTypes(incidents_pb2.ListIncidentTypesRequest(), timeout=10)
        p1 = next(t for t in cat.thresholds if t.priority == 1)
        inc = stub.CreateIncident(
            incidents_pb2.CreateIncidentRequest(
                idempotency_key="timer-test",
                type="road_accident",
                priority=1,
                position=common_pb2.GeoPoint(lat=47.322, lon=5.041),
            ),
            timeout=10,
        )
    amber_s, red_s = p1.not_dispatched_amber.seconds, p1.not_dispatched_red.seconds
    created = inc.created_at.seconds + inc.created_at.nanos * 1e-9
    model = ctl.list_model
    qtbot.waitUntil(lambda: model.row_of(inc.id) >= 0, timeout=30000)
    qtbot.waitUntil(lambda: bool(ctl.incidents.catalogue.thresholds), timeout=30000)

    def timer(role):
        return model.index(model.row_of(inc.id), 1).data(role)

    ctl.clock = lambda: created + amber_s - 5
    assert timer(LEVEL_ROLE) == ""
    ctl.clock = lambda: created + amber_s + 1
    assert timer(LEVEL_ROLE) == "amber" and timer(Qt.ItemDataRole.ForegroundRole) == AMBER
    ctl.clock = lambda: created + red_s + 1
    assert timer(LEVEL_ROLE) == "red" and timer(Qt.ItemDataRole.ForegroundRole) == RED
    # The panel says so too, on its next tick.
    qtbot.waitUntil(lambda: "late" in ctl.list_panel.summary.text(), timeout=5000)


def test_viewers_see_the_actions_disabled_with_the_reason(qtbot, harnesses, dispatch_backend):
    with open_channel(dispatch_backend.address, "operator") as ch:
        inc = incidents_pb2_grpc.IncidentServiceStub(ch).CreateIncident(
            incidents_pb2.CreateIncidentRequest(
                idempotency_key="viewer-test",
                type="road_accident",
                position=common_pb2.GeoPoint(lat=47.322, lon=5.041),
            ),
            timeout=10,
        )
    viewer = harnesses(dispatch_backend.address, "viewer")
    op = harnesses(dispatch_backend.address, "operator")
    for h in (viewer, op):
        ctl = h.dispatch_ctl
        qtbot.waitUntil(lambda c=ctl: c.list_model.row_of(inc.id) >= 0, timeout=30000)
        QTest.mouseClick(
            ctl.list_panel.table.viewport(),
            Qt.MouseButton.LeftButton,
            pos=row_rect(ctl.list_panel.table, inc.id, Qt.ItemDataRole.UserRole + 1),
        )
        assert ctl.selected_id == inc.id
        qtbot.waitUntil(lambda c=ctl: bool(c.recommendation.candidates), timeout=30000)
    v, o = viewer.dispatch_ctl, op.dispatch_ctl
    # Viewers: nothing to do, and each control says why.
    for w in (
        v.detail.note,
        v.detail.resolve,
        v.detail.hold,
        v.list_panel.create,
        viewer.alarm_ctl.panel.incident,
    ):
        assert not w.isEnabled(), w
        assert "OPERATOR role — you are VIEWER" in w.toolTip(), w.toolTip()
    assert not v.recommendation.assign_first.isEnabled()
    assert "SUPERVISOR role — you are VIEWER" in v.recommendation.assign_first.toolTip()
    sent: list = []
    v.board.sig_status.connect(lambda *a: sent.append(a))
    v.board.table.setFocus()
    v.board.table.selectRow(0)
    QTest.keyClick(v.board.table, Qt.Key.Key_5)
    assert sent == []
    # Operators note and tick, but assigning is a supervisor's.
    assert o.detail.note.isEnabled() and o.detail.steps.isEnabled()
    assert not o.recommendation.assign_first.isEnabled()
    assert "SUPERVISOR role — you are OPERATOR" in o.recommendation.assign_first.toolTip()
    QTest.keyClicks(o.detail.note, "caller on the line")
    QTest.keyClick(o.detail.note, Qt.Key.Key_Return)

    def noted() -> bool:
        (got,) = [i for i in backend_incidents(dispatch_backend.address) if i.id == inc.id]
        return any(e.text == "caller on the line" and e.user == "operator" for e in got.timeline)

    qtbot.waitUntil(noted, timeout=30000)


def test_resolving_with_required_steps_open_needs_a_supervisor_override(qtbot, harnesses, dispatch_backend):
    with open_channel(dispatch_backend.address, "operator") as ch:
        inc = incidents_pb2_grpc.IncidentServiceStub(ch).CreateIncident(
            incidents_pb2.CreateIncidentRequest(
                idempotency_key="override-test",
                type="road_accident",
                position=common_pb2.GeoPoint(lat=47.322, lon=5.041),
            ),
            timeout=10,
        )
    op = harnesses(dispatch_backend.address, "operator")
    sup = harnesses(dispatch_backend.address, "supervisor")
    for h in (op, sup):
        qtbot.waitUntil(lambda c=h.dispatch_ctl: c.list_model.row_of(inc.id) >= 0, timeout=30000)
        h.dispatch_ctl.select(inc.id)
    # The operator cannot resolve with required steps open: the panel says a supervisor must.
    d = op.dispatch_ctl.detail
    QTest.keyClicks(d.text, "handled")
    QTest.mouseClick(d.resolve, Qt.MouseButton.LeftButton)
    assert "supervisor" in d.hint.text()
    # The supervisor's text is the override's reason.
    s = sup.dispatch_ctl.detail
    QTest.keyClicks(s.text, "crew confirmed by radio")
    QTest.mouseClick(s.resolve, Qt.MouseButton.LeftButton)

    def resolved() -> bool:
        (got,) = [i for i in backend_incidents(dispatch_backend.address) if i.id == inc.id]
        return got.status == incidents_pb2.Incident.RESOLVED and any(
            e.kind == incidents_pb2.TimelineEntry.OVERRIDE and "crew confirmed by radio" in e.text
            for e in got.timeline
        )

    qtbot.waitUntil(resolved, timeout=30000)


def test_send_an_incident_to_a_wall_puts_its_place_and_scene_cameras_there(
    qtbot, harnesses, make_backend, tmp_path
):
    backend = make_backend(
        "--quiet-city", "--alarm-rate", "0", "--incident-rate", "0", "--wall", "wall-1=user:viewer",
        "--data-dir", str(tmp_path / "data"),
    ).start()  # fmt: skip
    sup = harnesses(backend.address, "supervisor")
    ctl = sup.dispatch_ctl
    qtbot.waitUntil(
        lambda: any(a.state == "unack_active" for a in sup.alarm_ctl.store.alarms.values()), timeout=30000
    )
    qtbot.waitUntil(lambda: bool(ctl.incidents.catalogue.types) and sup.store.total() > 1000, timeout=30000)
    alarm = next(a for a in sup.alarm_ctl.store.alarms.values() if a.state == "unack_active")
    ctl.create_from_alarm(alarm)
    qtbot.waitUntil(lambda: ctl.selected_id != "", timeout=30000)
    inc = ctl.selected()
    qtbot.waitUntil(lambda: ctl.detail.wall.isEnabled(), timeout=30000)
    QTest.mouseClick(ctl.detail.wall, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None, timeout=5000)
    popup = QApplication.activePopupWidget()
    sub = next(a.menu() for a in popup.actions() if a.menu() is not None)
    next(a for a in sub.actions() if a.text().startswith("wall-1")).trigger()  # "(no display now)"
    popup.close()

    def shown() -> wall_pb2.WallContent | None:
        stub = wall_pb2_grpc.WallServiceStub(_viewer(backend.address))
        walls = stub.ListWalls(wall_pb2.ListWallsRequest(), timeout=10).walls
        c = next(w.content for w in walls if w.name == "wall-1")
        return c if c.WhichOneof("content") == "incident" else None

    qtbot.waitUntil(lambda: shown() is not None, timeout=30000)
    got = shown().incident  # the incident itself (linked alarm or not: tests/gui/test_incident_wall.py)
    assert got.incident_id == inc.id and got.title.startswith(f"P{inc.priority} · ")
    assert (round(got.position.lat, 5), round(got.position.lon, 5)) == (round(inc.lat, 5), round(inc.lon, 5))
    # The scene cameras: the incident's own (the alarm's) first, at most four.
    linked = list(alarm.camera_ids)[:4]
    assert linked and list(got.camera_ids)[: len(linked)] == linked and len(got.camera_ids) <= 4


def test_another_unit_needs_a_reason_then_a_reassignment_replaces_the_first(
    qtbot, harnesses, dispatch_backend
):
    with open_channel(dispatch_backend.address, "operator") as ch:
        inc = incidents_pb2_grpc.IncidentServiceStub(ch).CreateIncident(
            incidents_pb2.CreateIncidentRequest(
                idempotency_key="override-assign",
                type="road_accident",
                position=common_pb2.GeoPoint(lat=47.322, lon=5.041),
            ),
            timeout=10,
        )
    sup = harnesses(dispatch_backend.address, "supervisor")
    ctl, rec = sup.dispatch_ctl, sup.dispatch_ctl.recommendation
    qtbot.waitUntil(lambda: ctl.list_model.row_of(inc.id) >= 0, timeout=30000)
    QTest.mouseClick(
        ctl.list_panel.table.viewport(),
        Qt.MouseButton.LeftButton,
        pos=row_rect(ctl.list_panel.table, inc.id, Qt.ItemDataRole.UserRole + 1),
    )
    qtbot.waitUntil(lambda: len(rec.candidates) >= 3, timeout=30000)
    second = rec.candidates[1]["unit_id"]

    def click_candidate(row: int) -> None:
        QTest.mouseClick(
            rec.table.viewport(),
            Qt.MouseButton.LeftButton,
            pos=rec.table.visualItemRect(rec.table.item(row, 0)).center(),
        )

    def units_on_incident() -> list[str]:
        (got,) = [i for i in backend_incidents(dispatch_backend.address) if i.id == inc.id]
        return list(got.unit_ids)

    # The second-best unit without a reason: refused here, nothing sent.
    click_candidate(1)
    QTest.mouseClick(rec.assign_picked, Qt.MouseButton.LeftButton)
    assert "reason" in rec.hint.text()
    assert units_on_incident() == []
    # With a reason: sent, and the override is on the timeline with it.
    QTest.keyClicks(rec.reason, "closest one is needed elsewhere")
    QTest.keyClick(rec.reason, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: units_on_incident() == [second], timeout=30000)
    # Reassign: once the new recommendation is in, replace that unit by the best one, with a reason.
    qtbot.waitUntil(
        lambda: rec.replace.findData(second) >= 0 and second not in [c["unit_id"] for c in rec.candidates],
        timeout=30000,
    )
    best = rec.candidates[0]["unit_id"]
    click_candidate(0)
    rec.replace.setCurrentIndex(rec.replace.findData(second))
    QTest.keyClicks(rec.reason, "crew two has a flat tyre")
    QTest.mouseClick(rec.assign_picked, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: units_on_incident() == [best], timeout=30000)
    (got,) = [i for i in backend_incidents(dispatch_backend.address) if i.id == inc.id]
    texts = [e.text for e in got.timeline if e.kind == incidents_pb2.TimelineEntry.ASSIGNED]
    assert any("closest one is needed elsewhere" in t for t in texts), texts
    assert any("crew two has a flat tyre" in t for t in texts), texts


def test_right_click_on_the_map_creates_an_incident_of_the_picked_type_there(
    qtbot, harnesses, dispatch_backend
):
    op = harnesses(dispatch_backend.address, "operator")
    ctl, view = op.dispatch_ctl, op.map
    qtbot.waitUntil(lambda: bool(ctl.incidents.catalogue.types) and bool(view.incident_types), timeout=30000)
    page: dict = {}

    def ready() -> bool:
        view.run_js("window.vigieMap.isReady()", lambda r: page.update(ready=r))
        return bool(page.get("ready"))

    qtbot.waitUntil(ready, timeout=60000)
    # The basemap frames the city once it arrives: only then move the map where the test wants it.
    qtbot.waitUntil(lambda: view.districts.count() > 1, timeout=30000)
    # An empty spot: every asset layer hidden, so the click lands on the map itself.
    kinds = ["camera", "traffic_signal", "street_light", "bollard", "access_point", "delivery_bay"]
    view.set_view(
        {
            "lat": 47.3225,
            "lon": 5.0405,
            "zoom": 17,
            "layers": {k: False for k in kinds + ["water_sensor", "tram_station", "vehicle"]},
        }
    )
    proxy = view.web.focusProxy()
    centre = proxy.rect().center()

    def centred() -> bool:
        js = "var m = window.vigieMap._map; JSON.stringify([m.getCenter().lat, m.getCenter().lng, m.getZoom()])"
        view.run_js(js, lambda r: page.update(view=r))
        v = json.loads(page["view"]) if page.get("view") else None
        return bool(v) and abs(v[0] - 47.3225) < 1e-5 and abs(v[1] - 5.0405) < 1e-5 and v[2] == 17

    qtbot.waitUntil(centred, timeout=30000)
    QTest.mouseClick(proxy, Qt.MouseButton.RightButton, pos=centre)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None, timeout=30000)
    popup = QApplication.activePopupWidget()
    sub = next(a.menu() for a in popup.actions() if a.text() == "Create incident here")
    next(a for a in sub.actions() if a.text() == "Water leak").trigger()
    popup.close()
    qtbot.waitUntil(lambda: len(backend_incidents(dispatch_backend.address)) == 1, timeout=30000)
    (got,) = backend_incidents(dispatch_backend.address)
    assert got.type == "water_leak" and got.created_by == "operator"
    # Where the operator clicked: the map's centre, to a few metres.
    assert abs(got.position.lat - 47.3225) < 1e-4 and abs(got.position.lon - 5.0405) < 1.5e-4
    qtbot.waitUntil(lambda: ctl.selected_id == got.id, timeout=10000)
