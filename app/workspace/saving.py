"""Reading the arrangement back and saving it: capture() as a workspace, by name or as the last one
(autosaved on a worker thread), and describe() for tests and diagnostics."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtWidgets import QWidget

from vigie.app.workspace import docking
from vigie.app.workspace.files import WorkspaceError, dumps, node_to_json
from vigie.app.workspace.layouts import PROVIDED
from vigie.app.workspace.model import (
    Floating,
    Node,
    Panel,
    Placement,
    Presentation,
    Screen,
    Split,
    Tabs,
    Window,
    Workspace,
    normalise,
    panel_ids,
)
from vigie.app.workspace.placement import WindowPlacement, rect_of, screen_info, screen_name, state_of
from vigie.app.workspace.screens import relative, role_index

AUTOSAVE_MS = 15_000


class Saving(WindowPlacement):
    """The manager's saving part (it reads homes, hence built on the placement part)."""

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
            tree = docking.read(mgr.rootSplitter())
            away = {p for f in self.folded.values() if f.host == _role for p in f.panels}
            if away:  # panels folded in here from a screen that is away: saved at home
                tree = normalise(_without(tree, away))
            if _role in self.folded:
                tree = self.folded[_role].docks
            windows.append(Window(self._placement(window), tree, closed, floating))
        roles = sorted(
            {*(w.place.role for w in windows), *self.presentations, *self.known},
            key=lambda r: (role_index(r), r),
        )
        screens = []
        for role in roles:
            monitor = self.known.get(role, "")
            geometry = present[monitor].geometry if monitor in present else None
            geometry = geometry or self.screen_geometry.get(monitor)
            shown = self.presentations.get(role)
            if shown is not None and role in self.presentation_windows:
                shown = Presentation(shown.content, self.presentation_windows[role].panel.state())
            screens.append(Screen(role, monitor, geometry, shown))
        used = {p for w in windows for p in [*panel_ids(w.docks), *w.closed]}
        used |= {p for w in windows for f in w.floating for p in panel_ids(f.docks)}
        panels = {pid: Panel(self.kinds[pid], self.panels[pid].state()) for pid in self.panels if pid in used}
        return Workspace(name or self.name, screens, windows, panels)

    def _placement(self, w: QWidget) -> Placement:
        home = self.homes.get(w)
        if home is None:
            info = screen_info(w.screen())
            return Placement("console-left", info.name, relative(rect_of(w.geometry()), info), state_of(w))
        if not home.displaced and w.isVisible():
            self._update_home(w)
        return Placement(home.role, home.screen, home.rel, home.state)

    def describe(self) -> dict[str, Any]:
        """What is where, for tests and diagnostics: screens, roles, every window and presentation."""
        mapping = self.mapping()

        def top(w: QWidget) -> dict[str, Any]:
            screen = self._screen_of(w)
            return {
                "screen": screen_name(screen) if screen else "",
                "geometry": list(rect_of(w.geometry())),
                "visible": w.isVisible(),
                "state": state_of(w),
            }

        windows: dict[str, Any] = {}
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
            windows[role] = entry
        return {
            "workspace": self.name,
            "screens": [{"name": i.name, "geometry": list(i.geometry)} for i in self.present()],
            "roles": mapping,
            "windows": windows,
            "folded": {role: {"host": f.host, "panels": list(f.panels)} for role, f in self.folded.items()},
            "presentations": {
                role: {**top(win), "content": win.content} for role, win in self.presentation_windows.items()
            },
        }

    def top_levels(self) -> list[QWidget]:
        """Every visible window, bottom to top: console windows, floating containers, presentations."""
        out: list[QWidget] = [w for w in self.windows.values() if w.isVisible()]
        for w in self.windows.values():
            out += [fc for fc in w.docks.floatingWidgets() if fc.isVisible()]
        out += [w for w in self.presentation_windows.values() if w.isVisible()]
        return out


def _without(node: Node | None, pids: set[str]) -> Node | None:
    """`node` without the panels `pids`; areas left empty stay in place (their size with them)
    for normalise() to drop."""
    if node is None:
        return None
    if isinstance(node, Tabs):
        kept = [p for p in node.panels if p not in pids]
        return Tabs(kept, node.current if node.current in kept else "")
    return Split(node.orientation, [_without(n, pids) or Tabs([]) for n in node.items], node.sizes)
