"""The workspace manager: one console window per screen role, the panels docked in them, screens in
presentation mode, and the screens coming and going.

It applies a workspace (model.Workspace) to the screens present: each role gets a monitor (the one it
was saved on when present, see screens.assign_roles), each window its dock layout and each panel its
content. Its jobs live in one part each: placement.py (windows on screens, folding, following moves),
panel_docks.py (panels and docks), presentation.py (presentation mode) and saving.py (capture, save,
autosave); this module opens workspaces, builds the windows and shuts down.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import PySide6QtAds as ads
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QScreen

from vigie.app.console import Console
from vigie.app.workspace import docking
from vigie.app.workspace.files import WorkspaceError, WorkspaceStore, dumps
from vigie.app.workspace.layouts import proposed
from vigie.app.workspace.menus import install_menus
from vigie.app.workspace.model import Floating, Placement, Window, Workspace, panel_ids
from vigie.app.workspace.panel_docks import PanelDocks
from vigie.app.workspace.panels import REGISTRY
from vigie.app.workspace.presentation import ContentFactory, PresentationMode, default_content
from vigie.app.workspace.saving import AUTOSAVE_MS, Saving
from vigie.app.workspace.screens import assign_roles, role_index, roles_of_screens
from vigie.app.workspace.window import ScreenWindow, configure_docking

log = logging.getLogger(__name__)


class WorkspaceManager(Saving, PanelDocks, PresentationMode, QObject):
    sig_changed = Signal()  # windows, panels, presentations or screens changed
    sig_quit_requested = Signal()  # the operator closed the primary window
    sig_message = Signal(str)

    def __init__(
        self,
        console: Console,
        store: WorkspaceStore | None = None,
        content_factory: ContentFactory = default_content,
        remember: bool = True,
        screens: Callable[[], list[QScreen]] | None = None,
    ) -> None:
        """`store`: where named workspaces and the last arrangement live (None: nowhere).
        `content_factory`: what a screen in presentation mode shows (presentation.py).
        `remember`: restore the last arrangement at start and save it when the console closes.
        `screens`: the screen list (the application's by default)."""
        QObject.__init__(self)
        configure_docking()
        self.console, self.store, self.remember = console, store, remember
        self.content_factory = content_factory
        self._screens = screens or QGuiApplication.screens
        self.name = ""
        self.folded = {}
        self.by_hand = set()
        self.panels = {}
        self.kinds = {}
        self.docks = {}
        self.windows = {}
        self.hidden = set()
        self.presentations = {}
        self.presentation_windows = {}
        self.known = {}
        self.screen_geometry = {}
        self.homes = {}
        self._last_saved = ""
        self._closed = False
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication), "a workspace needs a QGuiApplication"
        app.screenAdded.connect(self._on_screen_added)
        app.screenRemoved.connect(self._on_screen_removed)
        for screen in self._screens():
            screen.availableGeometryChanged.connect(self._on_screen_resized)
        self._autosave = QTimer(self, interval=AUTOSAVE_MS)
        self._autosave.timeout.connect(self._autosave_now)
        console.sig_show_panel.connect(self.show_panel)
        console.sig_show_widget.connect(self.show_widget)

    # ---- opening workspaces ----------------------------------------------------------------------

    def start(self, name: str | None = None) -> None:
        """Open `name`, else the arrangement the console had when it last closed, else the one
        proposed for the screens present."""
        ws = None
        if name:
            ws = self.find(name)
        elif self.remember and self.store:
            ws = self.store.load_last()
        self.apply(ws or proposed(len(self.present())))
        if self.remember and self.store:
            self._autosave.start()

    def open(self, name: str) -> None:
        try:
            self.apply(self.find(name))
        except WorkspaceError as exc:
            self.sig_message.emit(str(exc))

    def reset_to_proposed(self) -> None:
        self.apply(proposed(len(self.present())))

    # ---- apply -----------------------------------------------------------------------------------

    def apply(self, ws: Workspace) -> None:
        """Make the console look like `ws`: windows on their screens, docks, panel contents, presentations."""
        self._teardown_windows()
        self.name = ws.name
        self.hidden.clear()
        self.known = {s.role: s.name for s in ws.screens if s.name}
        for w in ws.windows:
            for place in [w.place, *(f.place for f in w.floating)]:
                if place.screen:
                    self.known.setdefault(place.role, place.screen)

        # Panels: keep the ones that stay (same id and kind), close the others, make the new ones.
        wanted = {
            pid: ws.panels[pid]
            for w in ws.windows
            for pid in [*panel_ids(w.docks), *w.closed, *(p for f in w.floating for p in panel_ids(f.docks))]
            if pid in ws.panels and ws.panels[pid].kind in REGISTRY
        }
        for pid in [p for p in self.panels if p not in wanted or wanted[p].kind != self.kinds[p]]:
            self._drop_panel(pid)
        for pid, panel in wanted.items():
            if pid in self.panels:
                if panel.state and panel.state != self.panels[pid].state():
                    self.panels[pid].restore(panel.state)
            else:
                self._make_panel(pid, panel.kind, panel.state)

        # Every role first gets a screen, then windows are built on them.
        for w in sorted(ws.windows, key=lambda w: role_index(w.place.role)):
            self.known.setdefault(w.place.role, "")
        for s in ws.screens:
            self.known.setdefault(s.role, "")
        mapping = assign_roles(self.roles(), self.present(), self.known)
        own = roles_of_screens(mapping)
        for role, name in mapping.items():
            if not self.known.get(role) and own.get(name) == role:
                self.known[role] = name
        self.known = {r: n for r, n in self.known.items() if n}

        windows = sorted(ws.windows, key=lambda w: role_index(w.place.role))
        for i, spec in enumerate(windows):
            self._build_window(spec, primary=i == 0)
        if not self.windows:  # a workspace of presentations only still needs a console somewhere
            self._build_window(Window(Placement("console-left"), None), primary=True)
        primary = next(w for w in self.windows.values() if w.primary)
        self.console.session.set_seat(primary.role)  # the audit trail names the seat (app/auth.py)
        self.presentations = {s.role: s.presentation for s in ws.screens if s.presentation}
        self._place_all()
        for pid, dock in self.docks.items():  # behind a tab or closed from the start: it streams nothing
            self.panels[pid].set_shown(dock.isVisible())
        self.sig_changed.emit()

    def _teardown_windows(self) -> None:
        for role in list(self.presentation_windows):
            self._close_presentation_window(role)
        for window in self.windows.values():
            for dock in docking.dock_widgets(window.docks):
                window.docks.removeDockWidget(dock)
            window.closing = True
            window.close()
            window.deleteLater()
        self.windows.clear()
        self.homes.clear()
        self.folded.clear()
        self.by_hand.clear()

    def _build_window(self, spec: Window, primary: bool) -> ScreenWindow:
        role = spec.place.role
        window = ScreenWindow(self.console, role, primary)
        window.sig_close_requested.connect(lambda r=role: self._on_close_requested(r))
        window.docks.floatingWidgetCreated.connect(lambda fc, r=role: self._track_floating(fc, r))
        self.windows[role] = window
        install_menus(self, window)
        mgr = window.docks

        def dock(pid: str) -> ads.CDockWidget:
            return self._dock_for(pid, mgr)

        if spec.docks is not None:
            docking.build(mgr, spec.docks, dock, lambda d: mgr.addDockWidget(ads.CenterDockWidgetArea, d))
            docking.apply_sizes(mgr.rootSplitter(), spec.docks)
        for pid in spec.closed:
            if pid in self.panels:
                d = dock(pid)
                mgr.addDockWidget(ads.CenterDockWidgetArea, d)
                d.toggleView(False)
        mapping = self.mapping()
        self.homes[window] = self._home_from(spec.place, mapping)
        for f in spec.floating:
            self._build_floating(window, f, mapping)
        window.installEventFilter(self)
        return window

    def _build_floating(self, window: ScreenWindow, spec: Floating, mapping: dict[str, str]) -> None:
        mgr = window.docks
        made: list[ads.CFloatingDockContainer] = []

        def first(d: ads.CDockWidget) -> ads.CDockAreaWidget:
            made.append(mgr.addDockWidgetFloating(d))
            return d.dockAreaWidget()

        docking.build(mgr, spec.docks, lambda pid: self._dock_for(pid, mgr), first)
        if made:
            fc = made[0]
            docking.apply_sizes(fc.dockContainer().rootSplitter(), spec.docks)
            self._track_floating(fc, window.role)
            self.homes[fc] = self._home_from(spec.place, mapping)

    def shutdown(self) -> None:
        """Save the arrangement (when remembering), stop every panel, close every window."""
        if self._closed:
            return
        self._autosave.stop()
        if self.remember and self.store is not None and self.windows:
            try:
                self.store.save_last(dumps(self.capture()))
            except OSError as exc:
                log.warning("could not save the workspace: %s", exc)
        self._closed = True
        for role in list(self.presentation_windows):
            self._close_presentation_window(role)
        for pid in list(self.panels):
            self.panels[pid].close()
        self._teardown_windows()
        for dock in self.docks.values():
            dock.deleteLater()
        self.docks.clear()
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.screenAdded.disconnect(self._on_screen_added)
        app.screenRemoved.disconnect(self._on_screen_removed)
        for screen in self._screens():
            with contextlib.suppress(RuntimeError, TypeError):  # never connected: nothing to undo
                screen.availableGeometryChanged.disconnect(self._on_screen_resized)
