"""The command dialog shows the device's current state and proposes the action that changes it: a
lamp that is on opens on "Switch off", and once it is off, on "Switch on". Real clicks and keys on a
whole console against a real backend; the expected states are read from the backend."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import BackendProcess, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import assets_pb2, assets_pb2_grpc


@pytest.fixture
def cmd_backend(make_backend):
    return make_backend("--seed", "11", "--command-failure-rate", "0").start()


def backend_mode(backend: BackendProcess, asset_id: str) -> str:
    channel = open_channel(backend.address, "viewer")
    try:
        stub = assets_pb2_grpc.AssetServiceStub(channel)
        return stub.GetAsset(assets_pb2.GetAssetRequest(id=asset_id), timeout=10).attributes["mode"]
    finally:
        channel.close()


def open_dialog(qtbot, window: ConsoleHarness, asset_id: str):
    window.detail_ctl.select(asset_id)
    button = window.detail.command_button
    qtbot.waitUntil(button.isEnabled, timeout=10000)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.command_ctl.last_dialog
    assert dialog is not None and dialog.targets[0][0] == asset_id
    return dialog


def test_the_dialog_shows_a_lamps_state_and_proposes_the_action_that_changes_it(qtbot, cmd_backend):
    window = ConsoleHarness(cmd_backend.address).start()
    try:
        qtbot.waitUntil(
            lambda: window.assets.total() > 1000 and bool(window.command_ctl.actions), timeout=30000
        )
        light = next(
            r
            for r in sorted(window.assets.records(), key=lambda r: r.id)
            if r.kind == "street_light"
            and r.status == "ok"
            and r.attributes.get("mode") == "on"
            and backend_mode(cmd_backend, r.id) == "on"
        )
        dialog = open_dialog(qtbot, window, light.id)
        assert "Mode: on" in dialog.state_label.text()
        assert dialog.current_action().name == "LIGHT_OFF", "a lamp that is on: switch it off"
        names = [a.name for a in dialog.actions]
        assert "(already so)" in dialog.action_box.itemText(names.index("LIGHT_ON"))
        QTest.keyClick(dialog.send_button, Qt.Key.Key_Return)
        model = dialog.table.model()
        qtbot.waitUntil(lambda: model.state is not None and model.state.done, timeout=30000)
        assert backend_mode(cmd_backend, light.id) == "off"
        qtbot.waitUntil(lambda: window.assets.record(light.id).attributes.get("mode") == "off", timeout=30000)
        dialog.close()

        again = open_dialog(qtbot, window, light.id)
        assert "Mode: off" in again.state_label.text()
        assert again.current_action().name == "LIGHT_ON", "now off: switch it on"
    finally:
        window.close()
