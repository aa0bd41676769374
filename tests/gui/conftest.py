"""Fixtures the GUI tests share."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from vigie.app.theme import RESOURCES, map_style
from vigie.widgets.map.map_view import MapView

MAP_PAGE = RESOURCES / "map" / "index.html"


@pytest.fixture
def map_view(qtbot):
    """The live map's widget on its real page, shown and ready."""
    view = MapView(MAP_PAGE, map_style())
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitUntil(lambda: view.ready, timeout=30000)
    yield view
    # Delete the page now: left to the interpreter's exit, QtWebEngine releases its profile first
    # and the process crashes on the way out.
    view.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
