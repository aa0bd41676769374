"""The console's exactly-once command retry, from the console side, through a link that loses the
backend's replies (tests/gui/tcp_proxy.py) after the request reached the backend.

The command is sent through the command dialog (app/controllers/commands.py) with real input; what
the device did is checked from the backend's side: a WatchAssets stream straight to the backend
(the device's state history) and the audit trail (one "command.execute" record per command that
acted; replays leave none). Never from the console's own word."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.api.test_commands import CITY, AssetWatch, count_after
from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from tests.gui.tcp_proxy import TcpProxy
from vigie.v1 import assets_pb2, audit_pb2, audit_pb2_grpc

K = assets_pb2.Asset


@pytest.fixture
def rig(qtbot, make_backend):
    """A still city, a watch straight to it, and an operator's console behind a cuttable proxy."""
    backend = make_backend(*CITY, "--command-failure-rate", "0").start()
    watch = AssetWatch(backend.address)
    proxy = TcpProxy(backend.port)
    window = ConsoleHarness(proxy.address, user="operator").start()
    try:
        qtbot.waitUntil(
            lambda: window.assets.total() > 1000 and bool(window.command_ctl.actions), timeout=60000
        )
        yield backend, watch, proxy, window
    finally:
        window.close()
        proxy.close()
        watch.close()


def send_light_off(qtbot, window: ConsoleHarness, light_id: str, reason: str):
    """Open the command dialog for one light, pick "off", type a reason and click Send."""
    dialog = window.command_ctl.open_for([light_id], window.window)
    assert dialog is not None
    labels = [a.name for a in dialog.actions]
    dialog.action_box.setCurrentIndex(labels.index("LIGHT_OFF"))
    QTest.mouseClick(dialog.reason, Qt.MouseButton.LeftButton)
    QTest.keyClicks(dialog.reason, reason)
    assert dialog.send_button.isEnabled(), dialog.problem.text()
    QTest.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    return dialog


def executions(address: str, light_id: str, reason: str) -> list[audit_pb2.AuditRecord]:
    """The backend's "command.execute" records for this light and reason (replays leave none)."""
    with open_channel(address, "supervisor") as ch:
        records = (
            audit_pb2_grpc.AuditServiceStub(ch)
            .ListAudit(audit_pb2.ListAuditRequest(action="command.execute", target=light_id), timeout=10)
            .records
        )
    return [r for r in records if r.reason == reason]


def turned_off(watch: AssetWatch, light_id: str) -> bool:
    return any(a.attributes.get("mode") == "off" for a in watch.of(light_id))


@pytest.mark.timeout(300)
def test_lost_reply_is_retried_with_the_same_key_and_the_light_switches_once(qtbot, rig):
    backend, watch, proxy, window = rig
    (light,) = watch.pick(K.STREET_LIGHT, mode="on")
    proxy.swallow_replies = True  # the request goes through, the answer never comes back
    dialog = send_light_off(qtbot, window, light.id, "retry test: lost reply")
    # The backend acted although the console heard nothing...
    assert watch.wait(lambda: turned_off(watch, light.id), 60), "the request never reached the backend"
    # ...and the console, without an answer, retries (the dialog says so).
    qtbot.waitUntil(lambda: "retrying with the same key" in dialog.summary.text(), timeout=60000)
    proxy.swallow_replies = False
    proxy.cut()  # the half-dead connection goes; the console reconnects through the proxy
    model = dialog.table.model()
    qtbot.waitUntil(lambda: model.state is not None and model.state.done, timeout=90000)
    # The backend's side first: one command acted, and the light switched once.
    records = executions(backend.address, light.id, "retry test: lost reply")
    assert [(r.user, r.result) for r in records] == [("operator", "ok")]
    assert count_after(watch, light.id, 1) == 1
    # The console's side: it tells the truth about it.
    state = model.state
    assert not state.error and [t.stage for t in state.targets] == ["CONFIRMED"]
    assert state.retries >= 1 and state.replayed, "the answer came from a retry the backend recognised"
    assert "1 confirmed" in dialog.summary.text()


@pytest.mark.timeout(300)
def test_no_answer_for_30_s_ends_with_may_not_have_been_executed_and_acts_once(qtbot, rig):
    backend, watch, proxy, window = rig
    (light,) = watch.pick(K.STREET_LIGHT, mode="on")
    proxy.swallow_replies = True  # for good: every attempt reaches the backend, no answer returns
    dialog = send_light_off(qtbot, window, light.id, "retry test: no answer")
    model = dialog.table.model()
    # The console gives up after its 30 s of retries (generous bound: a loaded machine).
    qtbot.waitUntil(lambda: model.state is not None and model.state.done, timeout=120000)
    # It was executed, once, whatever the number of attempts.
    assert watch.wait(lambda: turned_off(watch, light.id), 30)
    assert count_after(watch, light.id, 1) == 1
    records = executions(backend.address, light.id, "retry test: no answer")
    assert [(r.user, r.result) for r in records] == [("operator", "ok")]
    state = model.state
    assert state.retries >= 2, "several attempts were sent"
    assert (
        "may not have been executed" in state.error and "may not have been executed" in dialog.summary.text()
    )
