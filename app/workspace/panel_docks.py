"""Panels and their docks: making a panel from the registry, its dock widget, showing, adding, moving
and removing panels between the console windows."""

from __future__ import annotations

import PySide6QtAds as ads

from vigie.app.workspace.panels import REGISTRY, LivePanel, next_id, title_of
from vigie.app.workspace.state import ManagerState
from vigie.app.workspace.window import ScreenWindow

# Where a panel asked for opens, as a tab: beside a big view, never over the alarm list.
BESIDE = ("map", "mosaic-1", "incident", "detail", "assets")
BESIDE_KIND = {"alarm-video": ("mosaic-1", "detail", "map")}  # alarm video: over the mosaic, not the map


class PanelDocks(ManagerState):
    """The manager's panel part: `panels` (id -> LivePanel), `kinds` and `docks` by panel id."""

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
        dock.viewToggled.connect(self.panels[pid].set_open)
        self.docks[pid] = dock
        return dock

    def show_widget(self, widget: object) -> None:
        """Bring the panel showing `widget` into view (its tab made current), where it is."""
        pid = next((p for p, live in self.panels.items() if live.widget is widget), None)
        dock = self.docks.get(pid) if pid else None
        if dock is not None:
            dock.toggleView(True)
            if not dock.isCurrentTab():
                dock.setAsCurrentTab()

    def show_panel(self, kind: str) -> None:
        """Show a single panel the operator asked for (the audit trail...) where it is; a new one
        opens as a tab beside the map (or another big view), never over the alarm list; with no
        such view it floats, large, over the primary window."""
        if kind in self.panels:
            self.set_panel_open(kind, True)
            dock = self.docks.get(kind)
            if dock is not None and not dock.isCurrentTab():
                dock.setAsCurrentTab()
            return
        if not self.windows:
            return
        window = next(iter(self.windows.values()))
        self._make_panel(kind, kind, {})
        # A tab beside a big view (never over the alarm list); floating only when there is none.
        beside = next(
            (
                d
                for p in BESIDE_KIND.get(kind, BESIDE)
                if (d := self.docks.get(p)) is not None and d.dockManager() is window.docks
            ),
            None,
        )
        area = beside.dockAreaWidget() if beside is not None else None
        if area is not None:
            dock = self._dock_for(kind, window.docks)
            window.docks.addDockWidgetTabToArea(dock, area)
            dock.setAsCurrentTab()
            self.panels[kind].set_shown(True)  # a tab made current does not always say it is shown
            self.sig_changed.emit()
            return
        fc = window.docks.addDockWidgetFloating(self._dock_for(kind, window.docks))
        self._track_floating(fc, window.role)
        area = window.geometry()
        w, h = min(1400, area.width() - 80), min(720, area.height() - 120)
        fc.setGeometry(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)
        fc.show()
        self.sig_changed.emit()

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
