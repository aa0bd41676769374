"""The console fits a laptop-sized 1366x768 screen (issue 19's done means): the header's menus fold
instead of pushing the window past the screen, and the connection state and clock stay in view,
for an operator and for a supervisor (who also has the audit trail button)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from tests.gui.console_harness import ConsoleHarness
from vigie.app.theme import apply_theme

LAPTOP = (1366, 768)


@pytest.fixture
def themed():
    """The console's own theme (its fonts decide the widths), put back as it was afterwards."""
    app = QApplication.instance()
    saved = (app.style().name(), app.palette(), app.font(), app.styleSheet())
    apply_theme(app)
    yield
    style, palette, font, sheet = saved
    app.setStyleSheet(sheet)
    app.setStyle(style)
    app.setPalette(palette)
    app.setFont(font)


@pytest.mark.parametrize("user", ["operator", "supervisor"])
def test_the_console_fits_a_1366_wide_screen_with_its_connection_and_clock_in_view(
    qtbot, backend, themed, user
):
    h = ConsoleHarness(backend.address, size=LAPTOP, user=user).start()
    try:
        window = h.window
        qtbot.waitUntil(lambda: h.session.role == user.upper(), timeout=30000)
        qtbot.waitUntil(lambda: window.audit_button.isVisible() == (user == "supervisor"), timeout=5000)
        assert window.minimumSizeHint().width() <= LAPTOP[0]
        window.resize(*LAPTOP)
        qtbot.waitUntil(lambda: window.width() == LAPTOP[0], timeout=5000)
        for part in (window.connection, window.clock):
            right = part.mapTo(window, part.rect().topRight()).x()
            assert part.isVisible() and right < LAPTOP[0], f"{part.objectName()} ends at {right}"
    finally:
        h.close()
