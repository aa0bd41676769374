"""The command dialog and audit models on their own (no backend): what the operator may send, and
how progress and the audit trail are shown and exported."""

from __future__ import annotations

import csv
from pathlib import Path

from vigie.app.models.audit import AuditRow, AuditTableModel, write_csv
from vigie.app.models.commands import ActionInfo, CommandProgressModel, CommandState, TargetState, actions_for
from vigie.widgets.commands.command_dialog import CommandDialog

DIM = ActionInfo(3, "LIGHT_DIM", "Dim to a level", ("street_light",), False, ("level_percent",))
OFF = ActionInfo(2, "LIGHT_OFF", "Switch off", ("street_light",), False, ())
RAISE = ActionInfo(8, "BOLLARD_RAISE", "Raise", ("bollard",), True, ())
BADGE = ActionInfo(12, "BADGE_DEACTIVATE", "Deactivate a badge", ("access_point",), False, ("badge_id",))


def test_actions_fit_every_selected_kind() -> None:
    acts = [DIM, OFF, RAISE, BADGE]
    assert actions_for(acts, {"street_light"}) == [DIM, OFF]
    assert actions_for(acts, {"street_light", "bollard"}) == []
    assert actions_for(acts, set()) == []


def test_non_critical_command_sends_its_params(qtbot) -> None:
    d = CommandDialog(
        [("SL-1", "Light 1", "Street light"), ("SL-2", "Light 2", "Street light")],
        [DIM, OFF],
        "OPERATOR",
        False,
    )
    qtbot.addWidget(d)
    assert not d.critical.isVisibleTo(d)
    assert d.level.isVisibleTo(d) and not d.badge.isVisibleTo(d)
    d.level.setValue(40)
    assert d.send_button.isEnabled()
    with qtbot.waitSignal(d.sig_send) as sent:
        d.send_button.click()
    assert sent.args == [3, {"level_percent": 40}, "", False]
    assert d.pages.currentIndex() == 1  # the dialog now follows the progress


def test_critical_command_needs_reason_confirmation_and_role(qtbot) -> None:
    targets = [("BO-1", "Bollard rue de la Liberté", "Bollard")]
    d = CommandDialog(targets, [RAISE], "SUPERVISOR", True)
    qtbot.addWidget(d)
    assert d.critical.isVisibleTo(d)
    assert not d.send_button.isEnabled()
    d.reason.setText("Crowd on the square")
    assert not d.send_button.isEnabled()  # still needs the tick
    d.confirm.setChecked(True)
    assert d.send_button.isEnabled()
    with qtbot.waitSignal(d.sig_send) as sent:
        d.send_button.click()
    assert sent.args == [8, {}, "Crowd on the square", True]

    op = CommandDialog(targets, [RAISE], "OPERATOR", False)
    qtbot.addWidget(op)
    op.reason.setText("x")
    op.confirm.setChecked(True)
    assert not op.send_button.isEnabled()
    assert "needs the SUPERVISOR role" in op.problem.text()


def test_badge_action_needs_a_badge(qtbot) -> None:
    d = CommandDialog([("AP-1", "Town hall door", "Access point")], [BADGE], "OPERATOR", False)
    qtbot.addWidget(d)
    assert not d.send_button.isEnabled()
    d.badge.setText("B-0042")
    assert d.send_button.isEnabled()


def test_progress_is_never_done_before_confirmation(qtbot) -> None:
    model = CommandProgressModel({"SL-1": "Light 1", "SL-2": "Light 2"})
    st = CommandState(
        "k", "LIGHT_OFF", [TargetState("SL-1", "ACKNOWLEDGED"), TargetState("SL-2", "CONFIRMED")]
    )
    model.set_state(st)
    assert model.rowCount() == 2
    assert "in progress" in st.summary()
    assert model.index(0, 1).data() == "Acknowledged by device"
    st2 = CommandState(
        "k",
        "LIGHT_OFF",
        [TargetState("SL-1", "FAILED", "motor fault"), TargetState("SL-2", "CONFIRMED")],
        done=True,
    )
    model.set_state(st2)
    assert model.index(0, 2).data() == "motor fault"
    assert "1 failed" in st2.summary() and "1 confirmed" in st2.summary()


def test_audit_model_and_csv(tmp_path: Path) -> None:
    rows = [
        AuditRow(
            2,
            1_700_000_001.5,
            "supervisor",
            "desk-2",
            "command.execute",
            "BO-1",
            "Crowd, square",
            "ok",
            "cmd-1",
        ),
        AuditRow(1, 1_700_000_000.0, "operator", "desk-1", "login", "operator", "", "ok", ""),
    ]
    model = AuditTableModel()
    model.replace(rows[:1], 2)
    model.append(rows[1:], 2)
    assert model.rowCount() == 2 and model.index(1, 3).data() == "login"
    path = tmp_path / "audit.csv"
    write_csv(str(path), rows)
    with path.open(encoding="utf-8-sig", newline="") as f:
        read = list(csv.reader(f))
    assert read[0] == ["id", "time", "user", "console", "action", "target", "reason", "result", "detail"]
    assert read[1][6] == "Crowd, square"  # a comma inside a field survives
    assert read[1][1].endswith(".500") and len(read) == 3
