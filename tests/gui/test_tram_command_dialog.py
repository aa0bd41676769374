"""Tram regulation from the command dialog, against a real backend: for a tram the dialog offers
a hold time (TRAM_HOLD's `hold_seconds`) and a choice of the stations still ahead on its trip
(TRAM_SKIP_STATION's `station_id`); chosen with the keyboard and sent, they reach the tram, whose
reported state shows the hold and the skipped station. Screenshots go to /work/shots/transit2/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import BackendProcess, open_channel
from tests.gui.console_harness import ConsoleHarness
from vigie.v1 import assets_pb2, assets_pb2_grpc, transit_pb2, transit_pb2_grpc

SHOTS = Path(os.environ.get("VIGIE_SHOTS", "/work/shots/transit2"))


@pytest.fixture(scope="module")
def city():
    b = BackendProcess(
        "--seed", "7", "--lights", "0", "--transit-speed", "10", "--command-failure-rate", "0"
    ).start()
    yield b
    b.stop()


def running_tram(window, line: str, avoid: str = ""):
    return next(
        (
            r
            for r in window.assets.records()
            if r.id.startswith(f"tram-{line}-")
            and r.id != avoid
            and r.attributes.get("state") == "running"
            and len(r.attributes.get("stations_ahead", "").split(",")) >= 3
        ),
        None,
    )


def choose_action(dialog, first_letter: str, name: str) -> None:
    """Pick the action by typing its first letter in the focused combo box, as a user would."""
    dialog.action_box.setFocus()
    QTest.keyClick(dialog.action_box, first_letter)
    assert dialog.current_action().name == name, dialog.current_action().name


def wait_done(qtbot, dialog) -> None:
    model = dialog.table.model()
    qtbot.waitUntil(lambda: model.state is not None and model.state.done, timeout=30000)
    assert [t.stage for t in model.state.targets] == ["CONFIRMED"], model.state


def test_hold_and_skip_a_tram_from_the_command_dialog(qtbot, city):
    window = ConsoleHarness(city.address, user="operator").start()
    try:
        qtbot.waitUntil(
            lambda: bool(window.command_ctl.actions) and window.assets.total() > 100, timeout=30000
        )
        qtbot.waitUntil(lambda: running_tram(window, "T1") is not None, timeout=30000)
        ch = open_channel(city.address, "viewer")
        assets = assets_pb2_grpc.AssetServiceStub(ch)

        def attrs(asset_id: str) -> dict[str, str]:
            return dict(assets.GetAsset(assets_pb2.GetAssetRequest(id=asset_id), timeout=10).attributes)

        # Hold: 900 s typed into the dialog's hold editor.
        tram = running_tram(window, "T1")
        dialog = window.command_ctl.open_for([tram.id], window.window)
        assert dialog is not None
        choose_action(dialog, "H", "TRAM_HOLD")
        assert dialog.hold.isVisible() and not dialog.station.isVisible()
        dialog.hold.setFocus()
        QTest.keyClick(dialog.hold, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(dialog.hold, "900")
        QTest.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
        wait_done(qtbot, dialog)
        assert attrs(tram.id)["hold_s"] == "900"  # 900 simulated s: 90 s here, not yet served
        dialog.close()

        # Skip: the stations offered are those still ahead on this trip, in trip order.
        lines = transit_pb2_grpc.TransitServiceStub(ch).ListLines(transit_pb2.ListLinesRequest(), timeout=10)
        t2 = next(x for x in lines.lines if x.id == "T2")
        order = [s.id for s in sorted(t2.stops, key=lambda s: s.order)]
        qtbot.waitUntil(lambda: running_tram(window, "T2") is not None, timeout=30000)
        other = running_tram(window, "T2")
        dialog = window.command_ctl.open_for([other.id], window.window)
        choose_action(dialog, "S", "TRAM_SKIP_STATION")
        assert dialog.station.isVisible() and not dialog.hold.isVisible()
        offered = [dialog.station.itemData(i) for i in range(dialog.station.count())]
        trip = order if offered[-1] == order[-2] else order[::-1]  # outward or return trip
        assert offered[-1] == trip[-2], (offered, order)  # up to the last before the terminus
        k = trip.index(offered[0])
        assert offered == trip[k:-1], (offered, trip)  # contiguous, in trip order, nothing behind
        assert "(" in dialog.station.itemText(0)  # named after the station asset, id in brackets
        if SHOTS.is_dir():
            dialog.grab().save(str(SHOTS / "command_dialog_skip.png"))
        dialog.station.setFocus()
        QTest.keyClick(dialog.station, Qt.Key.Key_End)  # the farthest: not reached before we look
        chosen = dialog.station.currentData()
        assert chosen == offered[-1]
        QTest.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
        wait_done(qtbot, dialog)
        assert attrs(other.id)["skip_station"] == chosen
        dialog.close()
        ch.close()
    finally:
        window.close()
