"""The supervisor's audit trail: it opens as a tab beside the map (not over the alarm list), its
targets read as names, "to" says "now" (not now + 1 h), and a double-click on a record opens what
it touched. A whole supervisor console against a real backend, driven by clicks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import assets_pb2, assets_pb2_grpc, audit_pb2, audit_pb2_grpc, commands_pb2


def backend_name(address: str, asset_id: str) -> str:
    channel = open_channel(address, "viewer")
    try:
        stub = assets_pb2_grpc.AssetServiceStub(channel)
        return stub.GetAsset(assets_pb2.GetAssetRequest(id=asset_id), timeout=10).name
    finally:
        channel.close()


def recorded(address: str, target: str) -> bool:
    """Whether the backend's audit trail already holds the command on `target` (written off the
    request path: the console's query must come after it)."""
    channel = open_channel(address, "supervisor")
    try:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        req = audit_pb2.ListAuditRequest(action="command.execute", target=target)
        return bool(stub.ListAudit(req, timeout=10).records)
    finally:
        channel.close()


def test_the_audit_trail_names_targets_opens_beside_the_map_and_opens_what_a_record_touched(
    qtbot, make_backend
):
    backend = make_backend("--seed", "11", "--command-failure-rate", "0").start()
    sup = ConsoleHarness(backend.address, user="supervisor").start()
    try:
        qtbot.waitUntil(lambda: sup.assets.total() > 1000 and bool(sup.command_ctl.actions), timeout=30000)
        light = sorted(r.id for r in sup.assets.records() if r.kind == "street_light")[3]
        states = []
        sup.session.sig_command.connect(states.append)
        sup.session.execute([light], commands_pb2.LIGHT_ON, {}, "audit names", False)
        qtbot.waitUntil(lambda: bool(states) and states[-1].command_id != "", timeout=30000)
        qtbot.waitUntil(lambda: recorded(backend.address, light), timeout=30000)

        qtbot.waitUntil(lambda: sup.window.audit_button.isVisibleTo(sup.window), timeout=30000)
        QTest.mouseClick(sup.window.audit_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: "audit" in sup.manager.docks and sup.manager.docks["audit"].isVisible(), timeout=30000
        )
        audit_dock, alarms_dock, map_dock = (sup.manager.docks[p] for p in ("audit", "alarms", "map"))
        assert not audit_dock.isFloating(), "a tab, not a window over the others"
        assert audit_dock.dockAreaWidget() is map_dock.dockAreaWidget()
        assert audit_dock.dockAreaWidget() is not alarms_dock.dockAreaWidget()
        assert alarms_dock.isVisible(), "the alarm list stays in view"

        audit = sup.audit_ctl
        view = audit.view
        assert view.up_to_now.isChecked() and not view.end.isVisible() and view.filters()["end"] == 0
        qtbot.waitUntil(
            lambda: any(
                r.action == "command.execute" and r.reason == "audit names" for r in audit.model.rows
            ),
            timeout=15000,
        )
        row = next(
            i
            for i, r in enumerate(audit.model.rows)
            if r.action == "command.execute" and r.reason == "audit names"
        )
        shown = audit.model.index(row, audit.model.TARGET).data()
        assert shown == f"{backend_name(backend.address, light)} ({light})"

        table = view.table
        row = next(
            i for i, r in enumerate(audit.model.rows) if r.reason == "audit names"
        )  # a new page may have come
        index = audit.model.index(row, 1)
        table.scrollTo(index)
        at = table.visualRect(index).center()
        # A double click as the platform delivers it: a click, then the second press as a double click.
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=at)
        QTest.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=at)
        qtbot.waitUntil(lambda: sup.detail_ctl.asset_id == light, timeout=5000)
        assert sup.map._selected == light
    finally:
        sup.close()
