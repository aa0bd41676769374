"""A whole console for GUI tests: session, console parts and the workspace manager with the laptop
workspace (every panel in one window), on the test process's one offscreen screen."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent

from tests.conftest import console_session
from vigie.app.console import Console
from vigie.app.session import Session
from vigie.app.workspace.layouts import PROVIDED
from vigie.app.workspace.manager import WorkspaceManager
from vigie.app.workspace.window import ScreenWindow


class ConsoleHarness:
    """Reaches the console's parts (assets, mosaic_ctl, map...) as attributes, like the console."""

    def __init__(
        self,
        address: str,
        workspace: str = "Laptop demo",
        size: tuple[int, int] = (1700, 1000),
        user: str = "operator",
        session: Session | None = None,
    ):
        """Logged in as the demo `user`, or with a `session` of the test's own."""
        self.session = session or console_session(address, user)
        self.console = Console(self.session)
        self.manager = WorkspaceManager(self.console, store=None, remember=False)
        self.manager.apply(PROVIDED[workspace]())
        self.window: ScreenWindow = self.manager.windows["console-left"]
        self.window.showNormal()
        self.window.resize(*size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)

    @property
    def connection(self):  # the primary window's ConnectionIndicator
        return self.window.connection

    def start(self) -> ConsoleHarness:
        self.session.start()
        return self

    def close(self) -> None:
        # The session first, then deliver what it already queued while the widgets still exist
        # (a snapshot landing after the windows went would reach deleted views).
        self.console.stop()  # the video streams, while the session still runs
        self.session.stop()
        QCoreApplication.processEvents()
        self.manager.shutdown()
        # Delete the windows and the map's page now, not at interpreter exit (QtWebEngine warns).
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
