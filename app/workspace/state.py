"""What the workspace manager's parts share: its state, and the methods one part calls in another.

The manager (manager.py) is one object assembled from one part per job: placement.py (windows on
screens), panel_docks.py (panels and their docks), presentation.py (a screen's presentation mode)
and saving.py (reading the arrangement back, saving it). Each part subclasses `ManagerState`, so the
state is declared once and a call from one part into another is typed; the stubs below are always
overridden by the part that does the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import PySide6QtAds as ads
from PySide6.QtCore import QTimer, SignalInstance
from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QWidget

from vigie.app.console import Console
from vigie.app.workspace.files import WorkspaceStore
from vigie.app.workspace.model import Presentation, Rect, Window, Workspace
from vigie.app.workspace.panels import LivePanel

if TYPE_CHECKING:
    from vigie.app.workspace.presentation import ContentFactory, PresentationWindow
    from vigie.app.workspace.window import ScreenWindow


@dataclass
class Home:
    """Where a top-level window belongs: `role`'s screen, named `screen`, at `rel` (relative to it)."""

    role: str
    screen: str
    rel: Rect | None
    state: str
    displaced: bool = False  # its screen is gone: it waits elsewhere, and comes back


@dataclass
class Folded:
    """A console window whose screen is away: its dock layout as it was, the panels moved into
    `host`'s window as tabs, and the window itself hidden until its screen is back."""

    host: str
    docks: Any  # docking.Node: the window's arrangement, rebuilt when it unfolds
    panels: list[str]


class ManagerState:
    sig_changed: SignalInstance
    sig_quit_requested: SignalInstance
    sig_message: SignalInstance

    console: Console
    store: WorkspaceStore | None
    content_factory: ContentFactory
    remember: bool
    name: str
    panels: dict[str, LivePanel]
    kinds: dict[str, str]  # panel id -> kind
    docks: dict[str, ads.CDockWidget]
    windows: dict[str, ScreenWindow]  # role -> its console window
    hidden: set[str]  # roles whose window the operator closed
    presentations: dict[str, Presentation]  # role -> what its screen presents
    presentation_windows: dict[str, PresentationWindow]
    known: dict[str, str]  # role -> the monitor it plays on (or did, when it is gone)
    screen_geometry: dict[str, Rect]  # monitor name -> geometry, last seen
    homes: dict[QWidget, Home]
    folded: dict[str, Folded]  # role -> its window's panels, now tabs of another window
    by_hand: set[str]  # roles whose window the operator showed themself: never folded or hidden
    _screens: Callable[[], list[QScreen]]
    _autosave: QTimer
    _last_saved: str
    _closed: bool

    # Stubs: each is overridden by the part named beside it.
    def mapping(self) -> dict[str, str]:  # placement
        raise NotImplementedError

    def screen_roles(self) -> dict[str, str]:  # placement
        raise NotImplementedError

    def _own_screen(self, role: str) -> QScreen | None:  # placement
        raise NotImplementedError

    def _claim_screen(self, role: str) -> None:  # placement
        raise NotImplementedError

    def _place_all(self) -> None:  # placement
        raise NotImplementedError

    def _track_floating(self, fc: ads.CFloatingDockContainer, owner: str) -> None:  # placement
        raise NotImplementedError

    def _update_home(self, w: QWidget) -> None:  # placement
        raise NotImplementedError

    def _dock_for(self, pid: str, manager: ads.CDockManager) -> ads.CDockWidget:  # panel_docks
        raise NotImplementedError

    def _make_panel(self, pid: str, kind: str, state: dict) -> LivePanel:  # panel_docks
        raise NotImplementedError

    def set_presentation(self, role: str, content: str | None) -> None:  # presentation
        raise NotImplementedError

    def _presentation_shown_on(self, role: str) -> bool:  # presentation
        raise NotImplementedError

    def _place_presentations(self) -> None:  # presentation
        raise NotImplementedError

    def _build_window(self, spec: Window, primary: bool) -> ScreenWindow:  # manager
        raise NotImplementedError

    def capture(self, name: str | None = None) -> Workspace:  # saving
        raise NotImplementedError
