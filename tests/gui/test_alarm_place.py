"""Acknowledging an alarm that then leaves the list keeps the operator's place (issue 19, item 1): the
next alarm of the same or higher priority is selected, the list stays at its top, the map and video
follow only a highlighted row, and a Space on nothing says why.

The alarm changes come in through the controller's store exactly as the session delivers them
(AlarmStore.apply); the acknowledge the panel asks for is answered here the way the backend answers
it (a cleared alarm acknowledged goes to NORMAL), so the test can build a list of 30 alarms with a
cleared P1 in the middle of the P1s, which the simulated city gives only by chance.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from vigie.app.client.session import Session
from vigie.app.controllers.alarms import AlarmController
from vigie.app.models.records import AlarmRecord


def _alarm(n: int, priority: int, state: str = "unack_active") -> AlarmRecord:
    return AlarmRecord(
        id=f"alm-{n:03d}",
        source_key=f"lgt-{n:03d}:fault",
        asset_id=f"lgt-{n:03d}",
        asset_name=f"Light {n:03d}",
        asset_kind="street_light",
        district="Centre",
        lat=47.32,
        lon=5.04,
        priority=priority,
        cause="fault",
        message="Lamp failure",
        state=state,
        active=state != "rtn_unack",
        acknowledged=False,
        raised_at=1_000_000.0 - n,  # alm-000 newest
        cleared_at=0.0,
        acknowledged_at=0.0,
        acknowledged_by="",
        ack_comment="",
        shelved_until=0.0,
        shelve_reason="",
        camera_ids=[f"cam-{n:03d}"],
        occurrences=1,
        chattering=False,
        sequence=n,
        updated_at=0.0,
    )


def _console(qtbot) -> tuple[AlarmController, list[str], list[list[str]], list[str]]:
    ctl = AlarmController(Session("127.0.0.1:9"), operator="test")  # never started: no backend needed
    qtbot.addWidget(ctl.panel)
    ctl.panel.resize(1000, 330)  # about 9 rows: the P4s are below the fold
    ctl.panel.show()
    qtbot.waitExposed(ctl.panel)
    ctl.panel.activateWindow()
    qtbot.waitUntil(ctl.panel.isActiveWindow, timeout=10000)
    selected: list[str] = []  # what the map, detail and video would follow
    ctl.sig_alarm_selected.connect(lambda a: selected.append(a.id))
    asked: list[list[str]] = []
    ctl.panel.sig_acknowledge.connect(lambda ids, _comment: asked.append(list(ids)))
    messages: list[str] = []
    ctl.sig_message.connect(messages.append)
    # 6 P1 (the 4th cleared, unacknowledged), 8 P2, 8 P3, 8 P4.
    alarms = [_alarm(n, 1, "rtn_unack" if n == 3 else "unack_active") for n in range(6)]
    alarms += [_alarm(n, 2 + (n - 6) // 8) for n in range(6, 30)]
    ctl.store.reset(alarms, 30)
    qtbot.waitUntil(lambda: ctl.active.rowCount() == 30, timeout=5000)
    return ctl, selected, asked, messages


def _click(view, row: int) -> None:
    rect = view.visualRect(view.model().index(row, 3))
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )


def _backend_answers(ctl: AlarmController, ids: list[str], seq: int) -> None:
    """What the backend streams after an acknowledge: a cleared alarm closes, an active one is ACK."""
    changes = []
    for aid in ids:
        a = ctl.store.alarms[aid]
        state = "normal" if a.state == "rtn_unack" else "ack_active"
        changes.append(replace(a, state=state, acknowledged=True, acknowledged_by="operator"))
    ctl.store.apply(changes, seq)


def _current(ctl: AlarmController) -> str:
    view = ctl.panel.active
    rows = view.selectionModel().selectedRows()
    return ctl.active.id_at(rows[0].row()) if len(rows) == 1 else ""


def test_space_on_a_cleared_p1_selects_the_next_p1_and_keeps_the_top_in_view(qtbot):
    ctl, selected, asked, messages = _console(qtbot)
    view = ctl.panel.active
    qtbot.waitUntil(lambda: view.verticalScrollBar().maximum() > 0, timeout=5000)  # longer than the panel
    row = ctl.active._pos["alm-003"]
    _click(view, row)
    assert selected[-1] == "alm-003"

    QTest.keyClick(view, Qt.Key.Key_Space)
    assert asked == [["alm-003"]]
    _backend_answers(ctl, asked[-1], 31)

    assert "alm-003" not in ctl.active._pos
    # The P1 that took its place is selected, and only that one reaches the map and video.
    assert _current(ctl) == "alm-004"
    assert selected[-1] == "alm-004"
    assert not any(ctl.store.alarms[a].priority > 1 for a in selected if a in ctl.store.alarms)
    assert view.verticalScrollBar().value() == 0, "the P1s scrolled out of view"
    assert view.rowAt(0) == 0

    # The last P1 acknowledged after it cleared: the P1 above it is selected, not a P2 below.
    ctl.store.apply([replace(ctl.store.alarms["alm-005"], state="rtn_unack", active=False)], 32)
    _click(view, ctl.active._pos["alm-005"])
    QTest.keyClick(view, Qt.Key.Key_Space)
    _backend_answers(ctl, asked[-1], 33)
    assert _current(ctl) == "alm-004"
    assert selected[-2:] == ["alm-005", "alm-004"]
    assert view.verticalScrollBar().value() == 0


def test_space_with_nothing_selected_says_why(qtbot):
    ctl, selected, asked, messages = _console(qtbot)
    view = ctl.panel.active
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert asked == []
    assert messages and "no alarm is selected" in messages[-1]
    assert "no alarm is selected" in ctl.panel.hint.text()
    assert selected == []


def test_an_alarm_arriving_above_does_not_move_the_map_or_the_list(qtbot):
    ctl, selected, asked, messages = _console(qtbot)
    view = ctl.panel.active
    _click(view, ctl.active._pos["alm-002"])
    before = list(selected)
    ctl.store.apply([_alarm(99, 1)], 40)  # a new P1 arrives above
    assert _current(ctl) == "alm-002"
    assert selected == before
    assert view.verticalScrollBar().value() == 0


def test_reset_to_proposed_keeps_the_alarm_selection_and_the_top(qtbot, make_backend, tmp_path):
    """Workspace ▸ Reset to proposed, clicked in its menu, rebuilds the windows: the selected alarm
    stays selected, the list at its top, the detail on its asset."""
    from PySide6.QtCore import QPoint

    from tests.gui.console_harness import ConsoleHarness

    backend = make_backend("--alarm-rate", "3", "--data-dir", str(tmp_path / "data")).start()
    h = ConsoleHarness(backend.address).start()
    try:
        model = h.alarm_ctl.active
        qtbot.waitUntil(lambda: model.rowCount() >= 12 and h.assets.total() > 1000, timeout=60000)
        panel = h.alarm_ctl.panel
        _click(panel.active, 2)
        chosen = _current(h.alarm_ctl)
        assert chosen and h.detail_ctl.asset_id == model.alarm(chosen).asset_id
        menu = h.window.menus.actions()[0].menu()
        menu.popup(h.window.mapToGlobal(QPoint(100, 40)))
        qtbot.waitUntil(menu.isVisible, timeout=5000)
        action = next(a for a in menu.actions() if a.text() == "Reset to proposed")
        QTest.mouseClick(
            menu,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            menu.actionGeometry(action).center(),
        )
        qtbot.waitUntil(
            lambda: "console-left" in h.manager.windows and h.manager.windows["console-left"].isVisible(),
            timeout=10000,
        )
        qtbot.wait(300)  # let the rebuilt windows lay out (not a synchronisation: nothing is awaited)
        assert _current(h.alarm_ctl) == chosen
        assert panel.active.verticalScrollBar().value() == 0
        assert h.detail_ctl.asset_id == model.alarm(chosen).asset_id
    finally:
        h.close()
