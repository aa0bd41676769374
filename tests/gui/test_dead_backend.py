"""A dead backend is unmistakable (issue 19, item 2): a backend process killed under a running console
puts a banner on the window, greys every data panel with its data's age, makes tiles say the server
(not the camera) is unreachable, disables acknowledging and the other actions (creating an incident) with the reason, does not let "New alarms"
read as a quiet city, keeps the connection state visible through status messages; a backend started
again on the same port clears all of it by itself."""

from __future__ import annotations

import re
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.console_harness import ConsoleHarness
from vigie.widgets.mosaic.tile import VideoTile
from vigie.widgets.status.stale_overlay import StaleOverlay


@pytest.fixture
def console(qtbot):
    made: list[ConsoleHarness] = []

    def open_console(address: str) -> ConsoleHarness:
        h = ConsoleHarness(address).start()
        made.append(h)
        return h

    yield open_console
    for h in made:
        h.close()


def _overlay(widget) -> StaleOverlay:
    found = widget.findChildren(StaleOverlay)
    assert len(found) == 1, f"{widget} has {len(found)} staleness overlays"
    return found[0]


def test_killed_backend_is_unmistakable_and_recovery_clears_it(console, qtbot, make_backend, tmp_path):
    first = make_backend("--alarm-rate", "2", "--data-dir", str(tmp_path / "data")).start()
    h = console(first.address)
    window = h.window
    qtbot.waitUntil(
        lambda: h.connection.state == "connected" and h.alarm_ctl.active.rowCount() > 0, timeout=30000
    )
    panel = h.alarm_ctl.panel
    panels = {"alarms": panel, "assets": h.asset_panel, "detail": h.detail, "mosaic": h.cameras}
    assert not window.link_banner.isVisible()
    assert all(not _overlay(w).isVisible() for w in panels.values())

    # An operator clicks an alarm: acknowledging is possible.
    view = panel.active
    rect = view.visualRect(view.model().index(0, 3))
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    assert panel.ack.isEnabled()
    create = h.dispatch_ctl.list_panel.create  # the incident list's "Create" (an operator may)
    assert create.isEnabled()

    killed_at = time.time()
    first.kill()
    qtbot.waitUntil(window.link_banner.isVisible, timeout=30000)

    # The banner says since when, in the header clock's format, and that it reconnects.
    text = window.link_banner.text()
    m = re.search(r"Server connection lost since (\d\d):(\d\d):(\d\d) — reconnecting", text)
    assert m, text
    # Every data panel greyed, with the time of its data.
    for name, w in panels.items():
        overlay = _overlay(w)
        # Shown (a panel behind a tab, like the mosaic beside the alarm video, shows it when raised).
        assert not overlay.isHidden() and (overlay.isVisible() or not w.isVisible()), f"{name} looks live"
        assert overlay.geometry() == w.rect(), f"{name} only partly greyed"
        assert "SERVER UNREACHABLE" in overlay.text() and f"{m[1]}:{m[2]}:{m[3]}" in overlay.text()
        assert abs(overlay.since - killed_at) < 20
    # Tiles blame the server, not the cameras.
    assert VideoTile.server_unreachable
    # Acknowledge disabled, with the reason; Space says why instead of a raw gRPC refusal.
    assert not panel.ack.isEnabled()
    assert "Server connection lost since" in panel.ack.toolTip()
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert "Server connection lost since" in panel.hint.text()
    # Every other action that writes is off too, with the same reason: creating an incident.
    assert not create.isEnabled() and "Server connection lost since" in create.toolTip()
    # The new-alarm rate is unknown, not low.
    assert "/min" not in panel.flood.text() and "UNKNOWN" in panel.flood.text()
    # The connection state stays in view whatever the status bar says.
    h.console.sig_message.emit("1 alarm(s) acknowledged")
    assert window.connection.isVisible() and window.connection.state in ("disconnected", "reconnecting")
    assert "DISCONNECTED" in window.connection.text() or "RECONNECTING" in window.connection.text()
    assert "ipv4" not in window.connection.text()
    window.grab().save(str(tmp_path / "dead.png"))

    # The backend is back on the same port: everything clears by itself.
    make_backend("--alarm-rate", "2", "--data-dir", str(tmp_path / "data"), port=first.port).start()
    qtbot.waitUntil(lambda: h.connection.state == "connected", timeout=60000)
    qtbot.waitUntil(lambda: not window.link_banner.isVisible(), timeout=5000)
    assert all(not _overlay(w).isVisible() for w in panels.values())
    assert not VideoTile.server_unreachable
    assert "/min" in panel.flood.text()
    assert panel.ack.isEnabled() and panel.ack.toolTip() == ""
    assert create.isEnabled() and create.toolTip() == ""
