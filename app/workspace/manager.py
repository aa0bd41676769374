"""The workspace manager: one console window per screen role, the panels docked in them, wall mode,
and the screens coming and going.

It applies a workspace (model.Workspace) to the screens present: each role gets a monitor (the one it
was saved on when present, see screens.assign_roles), each window its dock layout and each panel its
content. It reads the arrangement back at any time (capture()) to save it by name or as the last one.

Every top-level window it places (console windows and the floating dock containers the operator
drags out) has a home: a screen and a geometry relative to it, followed as the operator moves it.
When a monitor goes away, the windows at home there move to the screen its role folds into (a normal
window, cascaded, never off-screen); when it comes back, they go home. Wall windows never fold: a
wall whose screen is gone waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import PySide6QtAds as ads
import shiboken6
from PySide6.QtCore import QEvent, QObject, QRect, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

from app.console import Console
from app.workspace import docking
from app.workspace.files import WorkspaceError, WorkspaceStore, dumps, node_to_json
from app.workspace.layouts import PROVIDED, proposed
from app.workspace.menus import install_menus
from app.workspace.model import (
    Floating,
    Panel,
    Placement,
    Rect,
    Screen,
    Wall,
    Window,
    Workspace,
    panel_ids,
)
from app.workspace.panels import REGISTRY, LivePanel, next_id, title_of
from app.workspace.screens import (
    ScreenInfo,
    absolute,
    assign_roles,
    cascade,
    ordered,
    relative,
    role_index,
    role_names,
    roles_of_screens,
)
from app.workspace.wall import WallContentFactory, WallWindow, default_wall_content
from app.workspace.window import ScreenWindow, configure_docking

log = logging.getLogger(__name__)

AUTOSAVE_MS = 15_000


def screen_name(s: QScreen) -> str:
    """A monitor's name; one without (some platforms) is named by where it sits."""
    return s.name() or f"screen@{s.geometry().x()},{s.geometry().y()}"


def screen_info(s: QScreen) -> ScreenInfo:
    g, a = s.geometry(), s.availableGeometry()
    return ScreenInfo(
        screen_name(s), (g.x(), g.y(), g.width(), g.height()), (a.x(), a.y(), a.width(), a.height())
    )


def _rect(r: QRect) -> Rect:
    return (r.x(), r.y(), r.width(), r.height())


def _state(w: QWidget) -> str:
    if w.isFullScreen():
        return "fullscreen"
    return "maximized" if w.isMaximized() else "normal"


@dataclass
class Home:
    """Where a top-level window belongs: `role`'s screen, named `screen`, at `rel` (relative to it)."""

    role: str
    screen: str
    rel: Rect | None
    state: str
    displaced: bool = False  # its screen is gone: it waits elsewhere, and comes back


class WorkspaceManager(QObject):
    sig_changed = Signal()  # windows, panels, walls or screens changed
    sig_quit_requested = Signal()  # the operator closed the primary window
    sig_message = Signal(str)

    def __init__(
        self,
        console: Console,
        store: WorkspaceStore | None = None,
        wall_content: WallContentFactory = default_wall_content,
        remember: bool = True,
        screens: Callable[[], list[QScreen]] | None = None,
    ) -> None:
        """`store`: where named workspaces and the last arrangement live (None: nowhere).
        `remember`: restore the last arrangement at start and save it when the console closes.
        `screens`: the screen list (the application's by default)."""
        super().__init__()
        configure_docking()
        self.console, self.store, self.wall_content, self.remember = console, store, wall_content, remember
        self._screens = screens or QGuiApplication.screens
        self.name = ""
        self.panels: dict[str, LivePanel] = {}
        self.kinds: dict[str, str] = {}
        self.docks: dict[str, ads.CDockWidget] = {}
        self.windows: dict[str, ScreenWindow] = {}
        self.hidden: set[str] = set()  # roles whose window the operator closed
        self.walls: dict[str, Wall] = {}  # role -> what its wall shows
        self.wall_windows: dict[str, WallWindow] = {}
        self.known: dict[str, str] = {}  # role -> the monitor it plays on (or did, when it is gone)
        self.screen_geometry: dict[str, Rect] = {}  # monitor name -> geometry, last seen
        self.homes: dict[QWidget, Home] = {}
        self._last_saved = ""
        self._closed = False
        app = QGuiApplication.instance()
        app.screenAdded.connect(self._on_screen_added)
        app.screenRemoved.connect(self._on_screen_removed)
        for screen in self._screens():
            screen.availableGeometryChanged.connect(self._on_screen_resized)
        self._autosave = QTimer(self, interval=AUTOSAVE_MS)
        self._autosave.timeout.connect(self._autosave_now)
        console.sig_show_panel.connect(self.show_panel)

    def show_panel(self, kind: str) -> None:
        """Show a single panel the operator asked for (the audit trail...) where it is; a new one
        floats, large, over the primary window (a dock squeezed beside the others is unreadable),
        and the operator docks it where they like."""
        if kind in self.panels:
            self.set_panel_open(kind, True)
            return
        if not self.windows:
            return
        window = next(iter(self.windows.values()))
        self._make_panel(kind, kind, {})
        fc = window.docks.addDockWidgetFloating(self._dock_for(kind, window.docks))
        self._track_floating(fc, window.role)
        area = window.geometry()
        w, h = min(1400, area.width() - 80), min(720, area.height() - 120)
        fc.setGeometry(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)
        fc.show()
        self.sig_changed.emit()

    # ---- screens ---------------------------------------------------------------------------------

    def present(self) -> list[ScreenInfo]:
        infos = [screen_info(s) for s in self._screens()]
        for i in infos:
            self.screen_geometry[i.name] = i.geometry
        return ordered(infos)

    def qscreen(self, name: str) -> QScreen | None:
        return next((s for s in self._screens() if name and screen_name(s) == name), None)

    def roles(self) -> list[str]:
        roles = set(self.known) | set(self.windows) | set(self.walls)
        roles |= {h.role for h in self.homes.values()}
        return sorted(roles, key=lambda r: (role_index(r), r))

    def mapping(self) -> dict[str, str]:
        """Role -> the present screen that shows it (its own, or the one it is folded into)."""
        return assign_roles(self.roles(), self.present(), self.known)

    def screen_roles(self) -> dict[str, str]:
        """Present screen name -> the role it plays; screens without one get the next free wall role."""
        own = roles_of_screens(self.mapping())
        out = {}
        taken = set(self.roles())
        spare = (r for r in role_names(len(taken) + len(self.present()) + 2) if r not in taken)
        for info in self.present():
            out[info.name] = own.get(info.name) or next(spare)
        return out

    def _own_screen(self, role: str) -> QScreen | None:
        """The screen playing `role` itself (not folded), if present."""
        mapping = self.mapping()
        name = mapping.get(role)
        if name is None or roles_of_screens(mapping).get(name) != role:
            return None
        return self.qscreen(name)

    # ---- opening workspaces ----------------------------------------------------------------------

    def provided_names(self) -> list[str]:
        return list(PROVIDED)

    def saved_names(self) -> list[str]:
        return self.store.names() if self.store else []

    def find(self, name: str) -> Workspace:
        """A saved workspace by name, else a provided one (a saved one may replace a provided one)."""
        if self.store and self.store.path_of(name).exists():
            return self.store.load(name)
        if name in PROVIDED:
            return PROVIDED[name]()
        raise WorkspaceError(
            f"no workspace named {name!r}; provided: {', '.join(PROVIDED)}"
            + (f"; saved: {', '.join(self.saved_names())}" if self.saved_names() else "")
        )

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

    def save_as(self, name: str) -> None:
        name = name.strip()
        if not name or self.store is None:
            return
        ws = self.capture(name)
        try:
            path = self.store.save(ws)
        except OSError as exc:
            self.sig_message.emit(f"Could not save workspace \u201c{name}\u201d: {exc}")
            return
        self.name = name
        self.sig_message.emit(f"Workspace \u201c{name}\u201d saved ({path})")
        self.sig_changed.emit()

    # ---- apply -----------------------------------------------------------------------------------

    def apply(self, ws: Workspace) -> None:
        """Make the console look like `ws`: windows on their screens, docks, panel contents, walls."""
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
        for pid, spec in wanted.items():
            if pid in self.panels:
                if spec.state and spec.state != self.panels[pid].state():
                    self.panels[pid].restore(spec.state)
            else:
                self._make_panel(pid, spec.kind, spec.state)

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
        if not self.windows:  # a workspace of walls only still needs a console somewhere
            self._build_window(Window(Placement("console-left"), None), primary=True)
        self.walls = {s.role: s.wall for s in ws.screens if s.wall}
        self._place_all()
        for pid, dock in self.docks.items():  # behind a tab or closed from the start: it streams nothing
            self.panels[pid].set_shown(dock.isVisible())
        self.sig_changed.emit()

    def _teardown_windows(self) -> None:
        for role in list(self.wall_windows):
            self._close_wall_window(role)
        for window in self.windows.values():
            for dock in docking.dock_widgets(window.docks):
                window.docks.removeDockWidget(dock)
            window.closing = True
            window.close()
            window.deleteLater()
        self.windows.clear()
        self.homes.clear()

    def _make_panel(self, pid: str, kind: str, state: dict) -> LivePanel:
        live = REGISTRY[kind].create(self.console, pid, state)
        self.panels[pid] = live
        self.kinds[pid] = kind
        return live

    def _dock_for(self, pid: str, manager: ads.CDockManager) -> ads.CDockWidget:
        """The panel's dock widget, made with the first dock manager it goes into."""
        dock = self.docks.get(pid)
        if dock is not None:
            return dock
        dock = ads.CDockWidget(manager, title_of(pid, self.kinds[pid]))
        dock.setObjectName(pid)
        dock.setWidget(self.panels[pid].widget)
        f = ads.CDockWidget.DockWidgetFeature
        features = f.DockWidgetClosable | f.DockWidgetMovable | f.DockWidgetFloatable | f.DockWidgetFocusable
        if REGISTRY[self.kinds[pid]].multiple:  # closing one of several removes it
            features |= f.CustomCloseHandling
            dock.closeRequested.connect(lambda p=pid: self.remove_panel(p))
        dock.setFeatures(features)
        dock.visibilityChanged.connect(self.panels[pid].set_shown)
        self.docks[pid] = dock
        return dock

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

    def _home_from(self, place: Placement, mapping: dict[str, str]) -> Home:
        """The monitor it was saved on when present, else its role's (even if away: it will come
        back there), else none (its role has no screen of its own: it waits folded)."""
        screen = place.screen if place.screen and self.qscreen(place.screen) else ""
        screen = screen or self.known.get(place.role, "")
        if not screen:
            name = mapping.get(place.role, "")
            screen = name if roles_of_screens(mapping).get(name) == place.role else ""
        return Home(place.role, screen, place.geometry, place.state)

    # ---- placing windows on screens --------------------------------------------------------------

    def _place_all(self) -> None:
        """Every window at home, or folded while its screen is away; walls on their screens."""
        self.homes = {w: h for w, h in self.homes.items() if shiboken6.isValid(w)}
        mapping = self.mapping()
        own = roles_of_screens(mapping)
        folded = 0
        top_levels = [w for w in self.homes if w in self.windows.values()] + [
            w for w in self.homes if w not in self.windows.values()
        ]
        for w in top_levels:
            home = self.homes[w]
            if isinstance(w, ScreenWindow) and (w.role in self.hidden or self._wall_shown_on(w.role)):
                w.hide()
                continue
            screen = self.qscreen(home.screen)
            if screen is not None:
                home.displaced = False
                self._put(w, screen, home.rel, home.state)
                continue
            target_name = mapping.get(home.role)
            target = self.qscreen(target_name) if target_name else None
            if target is None:
                target = self._screens()[0] if self._screens() else None
            if target is None:
                continue
            home.displaced = True
            if own.get(screen_name(target)) == home.role:  # a stand-in monitor plays its role: as at home
                self._put(w, target, home.rel, home.state)
            else:
                self._put(
                    w, target, cascade(home.rel, screen_info(target), folded), "normal", absolute_rect=True
                )
                folded += 1
        self._place_walls()

    def _put(
        self, w: QWidget, screen: QScreen, rect: Rect | None, state: str, absolute_rect: bool = False
    ) -> None:
        info = screen_info(screen)
        if rect is None:
            target = info.area
        elif absolute_rect:
            target = rect
        else:
            target = absolute(rect, info)
        if w.isMaximized() or w.isFullScreen():
            w.showNormal()
        w.setScreen(screen)
        w.setGeometry(QRect(*target))
        if state == "maximized":
            w.showMaximized()
        elif state == "fullscreen":
            w.showFullScreen()
        else:
            w.show()

    def _wall_shown_on(self, role: str) -> bool:
        return role in self.walls and self._own_screen(role) is not None

    def _place_walls(self) -> None:
        for role, wall in self.walls.items():
            screen = self._own_screen(role)
            win = self.wall_windows.get(role)
            if screen is None:  # its screen is away: the wall waits (never over someone's console)
                if win is not None:
                    win.hide()
                    win.panel.set_shown(False)
                continue
            if win is None or win.content != wall.content:
                if win is not None:
                    self._close_wall_window(role)
                panel = self.wall_content(self.console, role, wall.content, wall.state)
                win = WallWindow(role, wall.content, panel)
                win.sig_leave.connect(lambda r=role: self.set_wall(r, None))
                self.wall_windows[role] = win
            win.show_on(screen)
        for role in [r for r in self.wall_windows if r not in self.walls]:
            self._close_wall_window(role)

    def _close_wall_window(self, role: str) -> None:
        win = self.wall_windows.pop(role, None)
        if win is None:
            return
        if role in self.walls:
            self.walls[role].state = win.panel.state()
        win.panel.close()
        win.closing = True
        win.close()
        win.deleteLater()

    # ---- following the operator's moves ----------------------------------------------------------

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        t = event.type()
        if t in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.WindowStateChange) and obj in self.homes:
            self._update_home(obj)  # type: ignore[arg-type]
        elif (
            t in (QEvent.Type.WindowActivate, QEvent.Type.WindowDeactivate)
            and isinstance(obj, ScreenWindow)
            and QGuiApplication.platformName() != "xcb"
        ):
            # QtAds keeps floating containers above their window by toggling a window flag on
            # activation, which hides them on every platform but X11 (offscreen, Wayland): show
            # them again once it is done.
            QTimer.singleShot(0, lambda w=obj: self._reshow_floating(w))
        return False

    def _reshow_floating(self, window: ScreenWindow) -> None:
        if (
            self._closed
            or window not in self.windows.values()
            or not window.isVisible()
            or window.isMinimized()
        ):
            return
        for fc in window.docks.floatingWidgets():
            if not fc.isVisible() and any(not d.isClosed() for d in fc.dockWidgets()):
                fc.show()

    def _update_home(self, w: QWidget) -> None:
        """A window the operator moved (or Qt placed for us) at home: this is its home now."""
        home = self.homes[w]
        if home.displaced or not w.isVisible():
            return
        screen = self._screen_of(w)
        if screen is None:
            return
        info = screen_info(screen)
        home.screen = info.name
        home.rel = relative(_rect(w.geometry()), info)
        home.state = _state(w)
        if not isinstance(w, ScreenWindow):  # a floating container belongs to the role of its screen
            home.role = self.screen_roles().get(info.name, home.role)

    def _screen_of(self, w: QWidget) -> QScreen | None:
        """The screen a window is on: the one under its centre (the window's own screen is only
        updated after the move is delivered)."""
        screen = QGuiApplication.screenAt(w.geometry().center()) or w.screen()
        return screen if screen is not None and self.qscreen(screen_name(screen)) is not None else None

    def _track_floating(self, fc: ads.CFloatingDockContainer, owner: str) -> None:
        """The operator dragged a panel out: a new top-level window to follow (and save)."""
        if fc in self.homes:
            return
        screen = self._screen_of(fc)
        name = screen_name(screen) if screen else ""
        self.homes[fc] = Home(self.screen_roles().get(name, owner), name, None, "normal")
        fc.installEventFilter(self)
        fc.destroyed.connect(lambda *_: self._forget(fc))

    def _forget(self, w: QObject) -> None:
        self.homes.pop(w, None)  # type: ignore[call-overload]

    # ---- screens coming and going ----------------------------------------------------------------

    def _on_screen_removed(self, screen: QScreen) -> None:
        # Qt has already taken it out of the list, and not yet moved its windows (it leaves them
        # to us first): fold them now, before Qt drops them all on the primary screen.
        log.info("screen %s removed", screen.name())
        self.handle_screens_changed()

    def _on_screen_added(self, screen: QScreen) -> None:
        log.info("screen %s added", screen.name())
        screen.availableGeometryChanged.connect(self._on_screen_resized)
        self.handle_screens_changed()

    def _on_screen_resized(self, _area: QRect) -> None:
        """A monitor changed resolution or moved: every window back inside its screen."""
        self.handle_screens_changed()

    def handle_screens_changed(self) -> None:
        """The screens changed: windows go home where they can, fold where they cannot; walls follow."""
        if self._closed or not self.windows:
            return
        self._place_all()
        self.sig_changed.emit()

    # ---- panels ----------------------------------------------------------------------------------

    def window_of(self, pid: str) -> ScreenWindow | None:
        dock = self.docks.get(pid)
        if dock is None:
            return None
        mgr = dock.dockManager()
        return next((w for w in self.windows.values() if w.docks is mgr), None)

    def set_panel_open(self, pid: str, open_: bool) -> None:
        dock = self.docks.get(pid)
        if dock is not None:
            dock.toggleView(open_)

    def add_panel(self, kind: str, role: str, state: dict | None = None) -> str:
        """A new panel of `kind` in `role`'s window (beside the others); its id."""
        window = self.windows.get(role) or next(iter(self.windows.values()))
        spec = REGISTRY[kind]
        pid = next_id(kind, set(self.panels)) if spec.multiple else kind
        if pid in self.panels:  # a single panel: just show it
            self.set_panel_open(pid, True)
            return pid
        self._make_panel(pid, kind, state or {})
        dock = self._dock_for(pid, window.docks)
        window.docks.addDockWidget(ads.RightDockWidgetArea, dock)
        self.sig_changed.emit()
        return pid

    def move_panel(self, pid: str, role: str) -> None:
        """Dock a panel into another screen's window (QtAds drags stay within one window's docks)."""
        dock = self.docks.get(pid)
        target = self.windows.get(role)
        if dock is None or target is None:
            return
        source = dock.dockManager()
        if source is target.docks:
            dock.toggleView(True)
            return
        source.removeDockWidget(dock)
        target.docks.addDockWidget(ads.RightDockWidgetArea, dock)
        dock.toggleView(True)
        self.sig_changed.emit()

    def remove_panel(self, pid: str) -> None:
        self._drop_panel(pid)
        self.sig_changed.emit()

    def _drop_panel(self, pid: str) -> None:
        live = self.panels.pop(pid, None)
        self.kinds.pop(pid, None)
        dock = self.docks.pop(pid, None)
        if live is not None:
            live.close()
        if dock is not None:
            mgr = dock.dockManager()
            if mgr is not None:
                mgr.removeDockWidget(dock)
            dock.takeWidget()
            dock.deleteLater()
        if live is not None:
            if live.owned:
                live.widget.deleteLater()
            else:  # the console's own view: kept for the next workspace that shows it
                live.widget.hide()
                live.widget.setParent(None)

    # ---- walls and windows -----------------------------------------------------------------------

    def set_wall(self, role: str, content: str | None) -> None:
        """Wall mode on `role`'s screen: "mosaic", "map", or None (back to the console window)."""
        if content is None:
            if role in self.walls:
                self._close_wall_window(role)
                del self.walls[role]
        else:
            old = self.walls.get(role)
            self.walls[role] = Wall(content, old.state if old and old.content == content else {})
        if role not in self.known and self._own_screen(role) is None:
            name = next((n for n, r in self.screen_roles().items() if r == role), "")
            if name:
                self.known[role] = name
        self._place_all()
        self.sig_changed.emit()

    def show_window(self, role: str, shown: bool = True) -> None:
        """Show or hide `role`'s console window (made empty if it has none)."""
        if shown:
            self.hidden.discard(role)
            if role not in self.windows:
                if role not in self.known:
                    name = next((n for n, r in self.screen_roles().items() if r == role), "")
                    if name:
                        self.known[role] = name
                self._build_window(Window(Placement(role), None), primary=not self.windows)
        else:
            self.hidden.add(role)
        self._place_all()
        self.sig_changed.emit()

    def _on_close_requested(self, role: str) -> None:
        window = self.windows.get(role)
        if window is not None and window.primary:
            self.sig_quit_requested.emit()
        else:
            self.show_window(role, False)

    # ---- reading the arrangement back ------------------------------------------------------------

    def capture(self, name: str | None = None) -> Workspace:
        """The console as it is, as a workspace (windows at home even while folded)."""
        present = {i.name: i for i in self.present()}
        windows = []
        for _role, window in sorted(self.windows.items(), key=lambda kv: role_index(kv[0])):
            mgr = window.docks
            floating = []
            for fc in mgr.floatingWidgets():
                if fc in self.homes and fc.isVisible():
                    docks = docking.read(fc.dockContainer().rootSplitter())
                    if docks is not None:
                        floating.append(Floating(self._placement(fc), docks))
            closed = [
                d.objectName()
                for d in docking.dock_widgets(mgr)
                if d.isClosed() and d.objectName() in self.panels
            ]
            windows.append(
                Window(self._placement(window), docking.read(mgr.rootSplitter()), closed, floating)
            )
        roles = sorted(
            {*(w.place.role for w in windows), *self.walls, *self.known},
            key=lambda r: (role_index(r), r),
        )
        screens = []
        for role in roles:
            screen_name = self.known.get(role, "")
            geometry = present[screen_name].geometry if screen_name in present else None
            geometry = geometry or self.screen_geometry.get(screen_name)
            wall = self.walls.get(role)
            if wall is not None and role in self.wall_windows:
                wall = Wall(wall.content, self.wall_windows[role].panel.state())
            screens.append(Screen(role, screen_name, geometry, wall))
        used = {p for w in windows for p in [*panel_ids(w.docks), *w.closed]}
        used |= {p for w in windows for f in w.floating for p in panel_ids(f.docks)}
        panels = {pid: Panel(self.kinds[pid], self.panels[pid].state()) for pid in self.panels if pid in used}
        return Workspace(name or self.name, screens, windows, panels)

    def _placement(self, w: QWidget) -> Placement:
        home = self.homes.get(w)
        if home is None:
            screen = w.screen()
            info = screen_info(screen)
            return Placement("console-left", info.name, relative(_rect(w.geometry()), info), _state(w))
        if not home.displaced and w.isVisible():
            self._update_home(w)
        return Placement(home.role, home.screen, home.rel, home.state)

    def describe(self) -> dict:
        """What is where, for tests and diagnostics: screens, roles, every window and wall."""
        mapping = self.mapping()

        def top(w: QWidget) -> dict:
            screen = self._screen_of(w)
            return {
                "screen": screen_name(screen) if screen else "",
                "geometry": list(_rect(w.geometry())),
                "visible": w.isVisible(),
                "state": _state(w),
            }

        out: dict = {
            "workspace": self.name,
            "screens": [{"name": i.name, "geometry": list(i.geometry)} for i in self.present()],
            "roles": mapping,
            "windows": {},
            "walls": {},
        }
        for role, w in self.windows.items():
            entry = top(w)
            entry["primary"] = w.primary
            entry["docks"] = node_to_json(docking.read(w.docks.rootSplitter()))
            entry["displaced"] = self.homes[w].displaced if w in self.homes else False
            entry["floating"] = [
                {**top(fc), "docks": node_to_json(docking.read(fc.dockContainer().rootSplitter()))}
                for fc in w.docks.floatingWidgets()
                if fc.isVisible()
            ]
            out["windows"][role] = entry
        for role, wall in self.wall_windows.items():
            out["walls"][role] = {**top(wall), "content": wall.content}
        return out

    def top_levels(self) -> list[QWidget]:
        """Every visible window, bottom to top: console windows, floating containers, walls."""
        out: list[QWidget] = [w for w in self.windows.values() if w.isVisible()]
        for w in self.windows.values():
            out += [fc for fc in w.docks.floatingWidgets() if fc.isVisible()]
        out += [w for w in self.wall_windows.values() if w.isVisible()]
        return out

    # ---- saving and closing ----------------------------------------------------------------------

    def _autosave_now(self) -> None:
        """Keep the last arrangement on disk (a crash loses at most a few seconds of rearranging);
        the write happens on a worker thread."""
        if self._closed or self.store is None:
            return
        text = dumps(self.capture())
        if text == self._last_saved:
            return
        self._last_saved = text
        store = self.store
        threading.Thread(target=store.save_last, args=(text,), name="workspace-autosave", daemon=True).start()

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
        for role in list(self.wall_windows):
            self._close_wall_window(role)
        for pid in list(self.panels):
            self.panels[pid].close()
        self._teardown_windows()
        for dock in self.docks.values():
            dock.deleteLater()
        self.docks.clear()
        app = QGuiApplication.instance()
        app.screenAdded.disconnect(self._on_screen_added)
        app.screenRemoved.disconnect(self._on_screen_removed)
        for screen in self._screens():
            with contextlib.suppress(RuntimeError, TypeError):  # never connected: nothing to undo
                screen.availableGeometryChanged.disconnect(self._on_screen_resized)
