"""The alarm list and the map (issue 19, item 5), against a real backend raising alarms: columns fit a
laptop's panel and the header's menu hides one; an Age column; the alarm detail pane with its
acknowledgement comment; the alarm drawn as an alarm marker with its cameras highlighted; the map
legend folded on a small panel; a bollard's "Position" no longer collides with its coordinates."""

from __future__ import annotations

import json
import re
import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFormLayout, QLabel, QMenu

from tests.gui.console_harness import ConsoleHarness
from tests.gui.test_map import js
from tests.gui.test_selection_rights import click_asset, click_row


@pytest.fixture
def laptop(qtbot, make_backend, tmp_path):
    backend = make_backend("--alarm-rate", "3", "--data-dir", str(tmp_path / "data")).start()
    h = ConsoleHarness(backend.address, size=(1366, 740)).start()
    yield h
    h.close()


def _menu_action(qtbot, title: str):
    qtbot.waitUntil(
        lambda: any(isinstance(w, QMenu) and w.isVisible() for w in QApplication.topLevelWidgets())
    )
    menu = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu) and w.isVisible())
    action = next(a for a in menu.actions() if a.text() == title)
    return menu, action


def test_alarm_list_columns_age_detail_pane_and_map_marker(qtbot, laptop):
    h = laptop
    panel = h.alarm_ctl.panel
    view, model = panel.active, h.alarm_ctl.active
    qtbot.waitUntil(
        lambda: any(
            model.alarm(model.id_at(r)).camera_ids and model.alarm(model.id_at(r)).state == "unack_active"
            for r in range(model.rowCount())
        ),
        timeout=60000,
    )
    hh = view.horizontalHeader()
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert titles[:2] == ["Priority", "Age"]

    def every_column_in_view() -> None:
        shown = [c for c in range(model.columnCount()) if not hh.isSectionHidden(c)]
        for c in shown:  # each column starts inside the list and is wide enough to read
            assert hh.sectionViewportPosition(c) + 40 <= view.viewport().width(), (
                titles[c],
                view.viewport().width(),
            )
        assert {"District", "Count", "Handled"} <= {titles[c] for c in shown}

    # On a 1366 px screen every column is in view (Raised starts hidden: Age says it).
    raised = titles.index("Raised")
    assert hh.isSectionHidden(raised)
    every_column_in_view()

    # The header's menu (right-click) shows Raised; the columns still fit.
    # A right-click's context-menu event (QTest's mouse clicks do not make one).
    QApplication.sendEvent(
        hh.viewport(),
        QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, QPoint(20, 5), hh.viewport().mapToGlobal(QPoint(20, 5))
        ),
    )
    menu, action = _menu_action(qtbot, "Raised")
    QTest.mouseClick(
        menu, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, menu.actionGeometry(action).center()
    )
    assert not hh.isSectionHidden(raised)
    every_column_in_view()

    # Age reads like "12 s" / "3 min" and agrees with the alarm's raise time, as the test counts.
    row = next(
        r
        for r in range(model.rowCount())
        if model.alarm(model.id_at(r)).camera_ids and model.alarm(model.id_at(r)).state == "unack_active"
    )
    alarm = model.alarm(model.id_at(row))
    age = model.index(row, 1).data()
    m = re.fullmatch(r"(\d+) (s|min)", age)
    assert m, age
    seconds = int(m[1]) * (60 if m[2] == "min" else 1)
    assert abs((time.time() - alarm.raised_at) - seconds) < (61 if m[2] == "min" else 10)

    # A click shows the alarm's detail; a comment and Enter acknowledge; the pane shows who and why.
    click_row(qtbot, view, row)
    qtbot.waitUntil(lambda: alarm.message in panel.detail.text(), timeout=5000)
    assert alarm.asset_name in panel.detail.text() and "raised" in panel.detail.text()
    panel.comment.setFocus()
    QTest.keyClicks(panel.comment, "crew on the way")
    QTest.keyClick(panel.comment, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "crew on the way" in panel.detail.text(), timeout=30000)
    assert re.search(r"acknowledged by <b>operator</b>: “crew on the way”", panel.detail.text())

    # The map draws the alarm as an alarm marker, with the alarm's cameras.
    mv = h.map
    qtbot.waitUntil(lambda: js(qtbot, mv, "window.vigieMap.isReady()") is True, timeout=60000)

    def marker() -> dict | None:
        return json.loads(js(qtbot, mv, "JSON.stringify(window.vigieMap.alarm())"))

    qtbot.waitUntil(lambda: (marker() or {}).get("id") == alarm.id, timeout=10000)
    drawn = marker()
    assert drawn["asset_id"] == alarm.asset_id and drawn["label"] == f"P{alarm.priority}"
    assert set(drawn["cameras"]) == set(alarm.camera_ids)
    # The legend is folded on this panel (the map is narrower than 1100 px).
    assert js(qtbot, mv, "document.querySelector('.vg-legend').classList.contains('vg-collapsed')") is True

    # Selecting an asset (not an alarm) removes the marker.
    click_asset(qtbot, h, alarm.camera_ids[0])
    qtbot.waitUntil(lambda: marker() is None, timeout=10000)


def test_a_bollards_position_is_not_its_coordinates(qtbot, backend):
    h = ConsoleHarness(backend.address).start()
    try:
        qtbot.waitUntil(lambda: h.assets.total() > 100, timeout=30000)
        bollard = next(r for r in h.store.records() if r.kind == "bollard" and "position" in r.attributes)
        click_asset(qtbot, h, bollard.id)
        form: QFormLayout = h.detail.form
        rows = {
            form.itemAt(i, QFormLayout.ItemRole.LabelRole).widget().text(): form.itemAt(
                i, QFormLayout.ItemRole.FieldRole
            ).widget()
            for i in range(form.rowCount())
        }
        assert form.rowCount() == len(rows), "two rows with one label"
        assert re.fullmatch(r"\d+\.\d{5} N, \d+\.\d{5} E", rows["Coordinates:"].text())
        assert isinstance(rows["Position:"], QLabel)
        assert rows["Position:"].text() == bollard.attributes["position"]
    finally:
        h.close()
