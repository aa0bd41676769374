"""Presentation mode on a console's only screen: it asks first (Escape cancels, Enter presents),
says "Esc to leave", and Escape brings the console back with no empty window over the alarms. A
whole console on the test process's one offscreen screen, against a real backend, driven by keys."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.gui.console_harness import ConsoleHarness
from vigie.app.workspace.presentation import PresentationWindow
from vigie.app.workspace.window import ScreenWindow


def shown_windows() -> list:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, ScreenWindow | PresentationWindow) and w.isVisible()
    ]


def test_presenting_on_the_only_screen_asks_hints_and_escape_leaves_nothing_over_the_alarms(qtbot, backend):
    window = ConsoleHarness(backend.address).start()
    manager = window.manager
    try:
        qtbot.waitUntil(lambda: window.assets.total() > 5900, timeout=30000)
        manager.set_presentation("console-left", "mosaic")  # Screens ▸ Presentation: mosaic
        box = manager.presentation_question
        assert box is not None and "alarm list" in box.text()
        assert not manager.presentation_windows, "nothing hidden before the answer"
        QTest.keyClick(box, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: manager.presentation_question is None, timeout=5000)
        assert not manager.presentation_windows and window.window.isVisible()

        manager.set_presentation("console-left", "mosaic")
        QTest.keyClick(manager.presentation_question, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: "console-left" in manager.presentation_windows, timeout=10000)
        shown = manager.presentation_windows["console-left"]
        qtbot.waitUntil(shown.isVisible, timeout=10000)
        assert shown.hint.isVisible() and "Esc" in shown.hint.text()
        assert not window.window.isVisible(), "the console stepped aside"

        QTest.keyClick(shown, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: window.window.isVisible() and not manager.presentation_windows, timeout=10000)
        assert shown_windows() == [window.window], "no other window left over the console"
        assert window.alarm_ctl.panel.isVisible()
    finally:
        window.close()
