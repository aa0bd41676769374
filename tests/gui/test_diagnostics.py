"""Help > Diagnostics, opened with real clicks on the console's menu bar: it shows this build's
version for console and backend, the backend's address, a measured round-trip time, each stream
live with the age of its last message, the mosaic's tiles with their dropped-frame counts, and the
log file's place; Refresh (F5) and Copy work from the keyboard and the mouse."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from tests.gui.console_harness import ConsoleHarness
from vigie.app import logfile
from vigie.widgets.diagnostics.dialog import DiagnosticsDialog

VERSION = version("vigie")  # what pip installed: the test's own source of truth


@pytest.fixture
def console(qtbot, backend, tmp_path, monkeypatch):
    # The test process keeps pytest's own logging and crash handler: only the place is faked.
    monkeypatch.setattr(logfile, "current", lambda: tmp_path / "vigie.log")
    c = ConsoleHarness(backend.address)
    c.start()
    qtbot.waitUntil(lambda: c.assets.total() > 5900 and bool(c.mosaic_ctl.cameras), timeout=30000)
    yield c
    c.close()


def open_diagnostics(c: ConsoleHarness, qtbot) -> DiagnosticsDialog:
    bar = c.window.menus
    help_action = next(a for a in bar.actions() if a.text().replace("&", "") == "Help")
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(help_action).center())
    qtbot.waitUntil(lambda: help_action.menu().isVisible(), timeout=5000)
    menu: QMenu = help_action.menu()
    item = next(a for a in menu.actions() if a.text().replace("&", "").startswith("Diagnostics"))
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(item).center())

    def shown() -> DiagnosticsDialog | None:
        return next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, DiagnosticsDialog) and w.isVisible()),
            None,
        )

    qtbot.waitUntil(lambda: shown() is not None, timeout=5000)
    return shown()


def test_diagnostics_from_the_help_menu(console, qtbot, tmp_path, backend):
    dialog = open_diagnostics(console, qtbot)
    assert dialog.value("Console version") == VERSION
    assert dialog.value("Backend address") == backend.address
    assert dialog.value("Log file") == str(tmp_path / "vigie.log")
    qtbot.waitUntil(lambda: dialog.value("Backend version") == VERSION, timeout=10000)
    rtt = dialog.value("Round-trip time")
    assert rtt.endswith(" ms") and 0 < float(rtt.split()[0]) < 5000, rtt
    assert dialog.value("Connection").startswith("connected, operator (OPERATOR)")

    def streams() -> dict[str, tuple[str, str]]:
        t = dialog.streams
        return {t.item(r, 0).text(): (t.item(r, 1).text(), t.item(r, 2).text()) for r in range(t.rowCount())}

    qtbot.waitUntil(lambda: any(s == "live" for s, _ in streams().values()), timeout=10000)
    live = {name: age for name, (state, age) in streams().items() if state == "live"}
    assert any("alarm" in name.lower() for name in live), streams()
    assert all(age.endswith("ago") for age in live.values())

    # The mosaic's streaming tiles, each with its received and dropped frames.
    cameras = {c for c in console.mosaic_ctl.mosaic.cameras if c}
    qtbot.waitUntil(lambda: dialog.tiles.rowCount() >= 1, timeout=10000)
    rows = [[dialog.tiles.item(r, c).text() for c in range(5)] for r in range(dialog.tiles.rowCount())]
    assert {r[1] for r in rows} <= cameras and all(r[4].isdigit() for r in rows)
    qtbot.waitUntil(
        lambda: any(int(dialog.tiles.item(r, 2).text()) > 0 for r in range(dialog.tiles.rowCount())),
        timeout=15000,
    )

    # F5 refreshes (the round-trip time is measured again), Copy puts the page on the clipboard.
    before = dialog.value("Round-trip time")
    dialog.set_summary([("Round-trip time", "measuring…")])
    QTest.keyClick(dialog, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: dialog.value("Round-trip time").endswith(" ms"), timeout=10000)
    assert before.endswith(" ms")
    QTest.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    text = QGuiApplication.clipboard().text()
    assert f"Backend version: {VERSION}" in text and "Streams" in text and "Video tiles" in text

    # Opening it again raises the same dialog, not a second one.
    again = open_diagnostics(console, qtbot)
    assert again is dialog
    QTest.mouseClick(
        next(b for b in dialog.findChildren(type(dialog.copy_button)) if b.text() == "Close"),
        Qt.MouseButton.LeftButton,
        pos=QPoint(5, 5),
    )
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
