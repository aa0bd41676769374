"""Windows on screens: every top-level window at home, or folded while its screen is away.

Every top-level window the manager places (console windows and the floating dock containers the
operator drags out) has a home: a screen and a geometry relative to it, followed as the operator
moves it. When a monitor goes away, the console window at home there folds into the window of the
screen its role folds into: its panels become tabs there (never a second window over the first,
hiding its alarm list), the console says what was folded, and when the screen comes back the panels
go home in their old arrangement. Floating containers move to that screen (cascaded, never
off-screen). Presentation windows never fold (presentation.py): one whose screen is gone waits for it.
"""

from __future__ import annotations

import logging

import PySide6QtAds as ads
import shiboken6
from PySide6.QtCore import QEvent, QObject, QRect, QTimer
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

from vigie.app.workspace import docking
from vigie.app.workspace.model import Placement, Rect, Window, leaves
from vigie.app.workspace.panels import title_of
from vigie.app.workspace.screens import (
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
from vigie.app.workspace.state import Folded, Home, ManagerState
from vigie.app.workspace.window import ScreenWindow

log = logging.getLogger(__name__)


def screen_name(s: QScreen) -> str:
    """A monitor's name; one without (some platforms) is named by where it sits."""
    return s.name() or f"screen@{s.geometry().x()},{s.geometry().y()}"


def screen_info(s: QScreen) -> ScreenInfo:
    g, a = s.geometry(), s.availableGeometry()
    return ScreenInfo(
        screen_name(s), (g.x(), g.y(), g.width(), g.height()), (a.x(), a.y(), a.width(), a.height())
    )


def rect_of(r: QRect) -> Rect:
    return (r.x(), r.y(), r.width(), r.height())


def state_of(w: QWidget) -> str:
    if w.isFullScreen():
        return "fullscreen"
    return "maximized" if w.isMaximized() else "normal"


class WindowPlacement(ManagerState):
    """The manager's placement part: roles and screens, homes, folding, following moves."""

    # ---- screens and roles -----------------------------------------------------------------------

    def present(self) -> list[ScreenInfo]:
        infos = [screen_info(s) for s in self._screens()]
        for i in infos:
            self.screen_geometry[i.name] = i.geometry
        return ordered(infos)

    def qscreen(self, name: str) -> QScreen | None:
        return next((s for s in self._screens() if name and screen_name(s) == name), None)

    def roles(self) -> list[str]:
        roles = set(self.known) | set(self.windows) | set(self.presentations)
        roles |= {h.role for h in self.homes.values()}
        return sorted(roles, key=lambda r: (role_index(r), r))

    def mapping(self) -> dict[str, str]:
        """Role -> the present screen that shows it (its own, or the one it is folded into)."""
        return assign_roles(self.roles(), self.present(), self.known)

    def screen_roles(self) -> dict[str, str]:
        """Present screen name -> the role it plays; screens without one get the next free role."""
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

    def _claim_screen(self, role: str) -> None:
        """A role without a monitor yet takes the present screen that plays it."""
        name = next((n for n, r in self.screen_roles().items() if r == role), "")
        if name:
            self.known[role] = name

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
        """Every window at home, or folded while its screen is away; presentations on their screens."""
        self.homes = {w: h for w, h in self.homes.items() if shiboken6.isValid(w)}
        mapping = self.mapping()
        own = roles_of_screens(mapping)
        folded = 0
        top_levels = [w for w in self.homes if w in self.windows.values()] + [
            w for w in self.homes if w not in self.windows.values()
        ]
        for w in top_levels:
            home = self.homes[w]
            if isinstance(w, ScreenWindow) and (
                w.role in self.hidden
                or self._presentation_shown_on(w.role)
                or (
                    not w.primary
                    and w.role not in self.folded  # it unfolds below when its screen is back
                    and w.role not in self.by_hand
                    and not any(not d.isClosed() for d in docking.dock_widgets(w.docks))
                )
            ):  # a window with no panel is never left over someone's console
                w.hide()
                continue
            screen = self.qscreen(home.screen)
            if screen is not None:
                home.displaced = False
                if isinstance(w, ScreenWindow) and w.role in self.folded:
                    self._unfold(w)
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
            elif (
                isinstance(w, ScreenWindow)
                and w.role not in self.by_hand
                and (host := self._host(target, w)) is not None
            ):
                self._fold(w, host)
            else:
                self._put(
                    w, target, cascade(home.rel, screen_info(target), folded), "normal", absolute_rect=True
                )
                folded += 1
        self._place_presentations()

    # ---- folding a console window into another -------------------------------------------------------

    def _host(self, screen: QScreen, w: ScreenWindow) -> ScreenWindow | None:
        """The console window at home on `screen` that takes `w`'s panels as tabs."""
        role = roles_of_screens(self.mapping()).get(screen_name(screen), "")
        host = self.windows.get(role)
        if host is None or host is w or role in self.folded or role in self.hidden:
            return None
        return host

    def _fold(self, w: ScreenWindow, host: ScreenWindow) -> None:
        """`w`'s open panels become tabs of `host` (one tab group at its right), `w` hides; the
        console says which screen was folded and where its panels are."""
        if w.role in self.folded:
            w.hide()
            return
        tree = docking.read(w.docks.rootSplitter())
        moved = [d for d in docking.dock_widgets(w.docks) if not d.isClosed()]
        area = None
        for dock in moved:
            w.docks.removeDockWidget(dock)
            if area is None:
                area = host.docks.addDockWidget(ads.RightDockWidgetArea, dock)
            else:
                host.docks.addDockWidgetTabToArea(dock, area)
            dock.toggleView(True)
        # In front: the panel that was in front of the window's first area (the map, say).
        first = leaves(tree)[0] if tree is not None and leaves(tree) else None
        front = next(
            (d for d in moved if first and d.objectName() == (first.current or first.panels[0])), None
        )
        if front or moved:
            (front or moved[0]).setAsCurrentTab()
        self.folded[w.role] = Folded(host.role, tree, [d.objectName() for d in moved])
        w.hide()
        titles = ", ".join(title_of(d.objectName(), self.kinds.get(d.objectName(), "")) for d in moved)
        self.sig_message.emit(
            f"No screen for {w.role}: its panels ({titles or 'none'}) are tabs in the {host.role} window"
            " until that screen is back"
        )

    def _unfold(self, w: ScreenWindow) -> None:
        """The screen is back: the panels go home, in the arrangement they had."""
        folded = self.folded.pop(w.role)
        host = self.windows.get(folded.host)
        docks = {pid: self.docks[pid] for pid in folded.panels if pid in self.docks}
        for dock in docks.values():
            mgr = dock.dockManager()
            if mgr is not None and mgr is not w.docks:
                mgr.removeDockWidget(dock)
        if folded.docks is not None:
            docking.build(
                w.docks,
                folded.docks,
                lambda pid: docks.get(pid) or self._dock_for(pid, w.docks),
                lambda d: w.docks.addDockWidget(ads.CenterDockWidgetArea, d),
            )
            docking.apply_sizes(w.docks.rootSplitter(), folded.docks)
        for dock in docks.values():
            dock.toggleView(True)
        if host is not None:
            self.sig_message.emit(f"{w.role} is back: its panels left the {host.role} window")

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

    def show_window(self, role: str, shown: bool = True) -> None:
        """Show or hide `role`'s console window (made empty if it has none)."""
        if shown:
            self.hidden.discard(role)
            self.by_hand.add(role)  # asked for: shown even empty, even without its screen
            if role in self.folded and role in self.windows:
                self._unfold(self.windows[role])
            if role not in self.windows:
                if role not in self.known:
                    self._claim_screen(role)
                self._build_window(Window(Placement(role), None), primary=not self.windows)
        else:
            self.hidden.add(role)
            self.by_hand.discard(role)
        self._place_all()
        self.sig_changed.emit()

    def _on_close_requested(self, role: str) -> None:
        window = self.windows.get(role)
        if window is not None and window.primary:
            self.sig_quit_requested.emit()
        else:
            self.show_window(role, False)

    # ---- following the operator's moves ----------------------------------------------------------

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        t = event.type()
        if (
            t in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.WindowStateChange)
            and isinstance(obj, QWidget)
            and obj in self.homes
        ):
            self._update_home(obj)
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
        home.rel = relative(rect_of(w.geometry()), info)
        home.state = state_of(w)
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

    def _forget(self, w: QWidget) -> None:
        self.homes.pop(w, None)

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
        """The screens changed: windows go home where they can, fold where they cannot; presentations
        follow."""
        if self._closed or not self.windows:
            return
        self._place_all()
        self.sig_changed.emit()
