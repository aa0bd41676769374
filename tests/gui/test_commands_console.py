"""Commands, login and the audit trail in the console, against a real backend with demo users."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.app.auth import Credentials
from vigie.app.session import Session
from vigie.v1 import auth_pb2, auth_pb2_grpc, commands_pb2


@pytest.fixture(scope="module")
def cmd_backend():
    from tests.conftest import BackendProcess

    b = BackendProcess("--seed", "11", "--command-failure-rate", "0").start()
    yield b
    b.stop()


@pytest.fixture
def consoles(qtbot):
    made: list[ConsoleHarness] = []

    def open_console(address: str, user: str = "operator", password: str | None = None) -> ConsoleHarness:
        session = None
        if password is not None:
            session = Session(address, credentials=Credentials(user, password, console="test"))
        window = ConsoleHarness(address, user=user, session=session).start()
        made.append(window)
        return window

    yield open_console
    for window in made:
        window.close()


def ready(qtbot, window: ConsoleHarness) -> None:
    qtbot.waitUntil(lambda: window.assets.total() > 1000 and bool(window.command_ctl.actions), timeout=30000)


def test_operator_switches_a_light_off_and_sees_it_confirmed(qtbot, consoles, cmd_backend):
    window = consoles(cmd_backend.address, "operator")
    ready(qtbot, window)
    assert window.session.role == "OPERATOR"
    light = next(r for r in window.assets.records() if r.kind == "street_light" and r.status == "ok")
    dialog = window.command_ctl.open_for([light.id], window.window)
    assert dialog is not None
    labels = [a.name for a in dialog.actions]
    assert "LIGHT_OFF" in labels and "BOLLARD_RAISE" not in labels
    dialog.action_box.setCurrentIndex(labels.index("LIGHT_OFF"))
    dialog.send_button.click()
    model = dialog.table.model()
    qtbot.waitUntil(lambda: model.state is not None and model.state.done, timeout=20000)
    assert [t.stage for t in model.state.targets] == ["CONFIRMED"]
    assert "1 confirmed" in dialog.summary.text()
    # The console's own asset state shows the change too (it came through the watch stream).
    qtbot.waitUntil(lambda: window.assets.record(light.id).revision > light.revision, timeout=30000)


def test_operator_may_not_raise_bollards_and_is_told_why(qtbot, consoles, cmd_backend):
    window = consoles(cmd_backend.address, "operator")
    ready(qtbot, window)
    bollard = next(r for r in window.assets.records() if r.kind == "bollard")
    dialog = window.command_ctl.open_for([bollard.id], window.window)
    assert dialog is not None
    dialog.reason.setText("test")
    dialog.confirm.setChecked(True)
    assert not dialog.send_button.isEnabled()
    assert "SUPERVISOR" in dialog.problem.text()
    # Sent anyway (an outdated console, a script): the backend refuses and the console explains.
    states = []
    window.session.sig_command.connect(states.append)
    window.session.execute([bollard.id], commands_pb2.BOLLARD_RAISE, {}, "test", True)
    qtbot.waitUntil(lambda: bool(states) and states[-1].done, timeout=30000)
    assert "not allowed for your role" in states[-1].error


def test_wrong_password_then_login_then_revocation(qtbot, consoles, cmd_backend):
    window = consoles(cmd_backend.address, "operator", password="wrong")
    qtbot.waitUntil(
        lambda: window.login_dialog is not None and window.login_dialog.isVisible(), timeout=15000
    )
    assert "refused" in window.login_dialog.message.text().lower()
    window.login_dialog.user.setText("operator")
    window.login_dialog.password.setText("operator")
    window.login_dialog.button.click()
    qtbot.waitUntil(lambda: window.session.role == "OPERATOR", timeout=30000)
    qtbot.waitUntil(lambda: window.connection.state == "connected", timeout=20000)
    assert "operator" in window.window.user_badge.text()
    # An administrator ends the operator's sessions: the console asks for a login again.
    with open_channel(cmd_backend.address, "admin") as ch:
        auth_pb2_grpc.AuthServiceStub(ch).RevokeUser(auth_pb2.RevokeUserRequest(name="operator"), timeout=5)
    qtbot.waitUntil(lambda: window.login_dialog.isVisible() and window.session.role == "", timeout=30000)
    assert "ended" in window.login_dialog.message.text()


def test_supervisor_reads_and_exports_the_audit_trail(qtbot, consoles, cmd_backend, tmp_path: Path):
    op = consoles(cmd_backend.address, "operator")
    ready(qtbot, op)
    light = next(r for r in op.assets.records() if r.kind == "street_light")
    states = []
    op.session.sig_command.connect(states.append)
    op.session.execute([light.id], commands_pb2.LIGHT_ON, {}, "audit test", False)
    qtbot.waitUntil(lambda: bool(states) and states[-1].command_id != "", timeout=30000)

    sup = consoles(cmd_backend.address, "supervisor")
    # The window learns of the login through a queued signal: wait for what it shows.
    qtbot.waitUntil(lambda: sup.window.audit_button.isVisibleTo(sup.window), timeout=30000)
    assert sup.session.role == "SUPERVISOR" and not op.window.audit_button.isVisibleTo(op.window)
    sup.window.audit_button.click()  # the audit trail opens as a panel, and asks the backend
    qtbot.waitUntil(lambda: sup.manager.panels["audit"].widget.isVisible(), timeout=30000)
    audit = sup.audit_ctl
    qtbot.waitUntil(
        lambda: any(r.action == "command.execute" and r.reason == "audit test" for r in audit.model.rows),
        timeout=15000,
    )
    row = next(r for r in audit.model.rows if r.action == "command.execute" and r.reason == "audit test")
    assert (row.user, row.target, row.result) == ("operator", light.id, "ok")
    assert any(r.action == "login" and r.user == "supervisor" for r in audit.model.rows)
    audit.view.user.setText("operator")
    audit.view.query()
    qtbot.waitUntil(
        lambda: audit.model.rows and all(r.user == "operator" for r in audit.model.rows), timeout=10000
    )
    path = tmp_path / "audit.csv"
    audit.view.export_to(str(path))
    qtbot.waitUntil(lambda: "written" in audit.view.summary.text(), timeout=30000)
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["user"] == "operator" for r in rows)
    assert any(r["action"] == "command.execute" and r["reason"] == "audit test" for r in rows)


def test_a_viewer_sees_alarms_but_cannot_handle_them(qtbot, consoles, cmd_backend):
    window = consoles(cmd_backend.address, "viewer")
    qtbot.waitUntil(lambda: window.session.role == "VIEWER", timeout=30000)
    panel = window.alarm_ctl.panel
    qtbot.waitUntil(lambda: not panel.ack.isEnabled(), timeout=30000)
    assert "OPERATOR" in panel.ack.toolTip() and not panel.shelve.isEnabled()
    qtbot.waitUntil(lambda: window.assets.total() > 1000, timeout=30000)
    assert window.command_ctl.open_for([next(iter(window.assets.records())).id]) is None, (
        "viewers send no commands"
    )


def test_switch_user_ends_the_old_login_and_shows_the_new_one(qtbot, consoles, cmd_backend):
    window = consoles(cmd_backend.address, "operator")
    qtbot.waitUntil(lambda: "operator" in window.window.user_badge.text(), timeout=30000)
    window.window.switch_user.click()
    dialog = window.login_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=30000)
    dialog.user.setText("supervisor")
    dialog.password.setText("supervisor")
    dialog.button.click()
    qtbot.waitUntil(lambda: "supervisor · SUPERVISOR" in window.window.user_badge.text(), timeout=30000)
    assert not dialog.isVisible() and window.window.audit_button.isVisibleTo(window.window)
    qtbot.waitUntil(lambda: window.connection.state == "connected", timeout=20000)  # streams on the new login
