"""The header menus of every console window, rebuilt each time they open:
Workspace (provided and saved workspaces, Save as…, Reset to proposed), Screens (per screen: its
console window, presentation mode: mosaic / map / shared wall / off), Panels (show or hide each, bring one here, add a mosaic),
Help (Diagnostics…).
Nothing modal: "Save as…" is a line edit inside the menu (Enter saves, Escape closes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QLineEdit, QMenu, QWidgetAction

from vigie.app.workspace.panels import REGISTRY, title_of

if TYPE_CHECKING:
    from vigie.app.workspace.manager import WorkspaceManager
    from vigie.app.workspace.window import ScreenWindow


def install_menus(manager: WorkspaceManager, window: ScreenWindow) -> None:
    bar = window.menus
    for title, fill in (("&Workspace", _workspace), ("&Screens", _screens), ("&Panels", _panels)):
        menu = bar.addMenu(title)
        menu.aboutToShow.connect(lambda m=menu, f=fill: _refill(m, lambda: f(manager, window, m)))
    _help(manager, window, bar.addMenu("&Help"))


def _refill(menu: QMenu, fill: Callable[[], None]) -> None:
    _empty(menu)
    fill()


def _empty(menu: QMenu) -> None:
    """Remove what the menu showed last time. `clear()` deletes the actions but not the submenus
    made with addMenu(): each opening of Screens or Panels left its submenus behind (the soak saw
    the console's top-level QMenus grow, bench/soak.py)."""
    for sub in menu.findChildren(QMenu, options=Qt.FindChildOption.FindDirectChildrenOnly):
        sub.deleteLater()
    menu.clear()


def _help(manager: WorkspaceManager, window: ScreenWindow, menu: QMenu) -> None:
    """Help > Diagnostics… (app/controllers/diagnostics.py)."""
    from vigie.app.controllers.diagnostics import DiagnosticsController

    action = menu.addAction("&Diagnostics…")
    action.setObjectName("helpDiagnostics")
    action.triggered.connect(lambda: DiagnosticsController.show_for(manager.console.session, window))


def _workspace(manager: WorkspaceManager, _window: ScreenWindow, menu: QMenu) -> None:
    group = QActionGroup(menu)
    for name in manager.provided_names():
        a = menu.addAction(name)
        a.setCheckable(True)
        a.setChecked(name == manager.name)
        group.addAction(a)
        a.triggered.connect(lambda _=False, n=name: manager.open(n))
    saved = [n for n in manager.saved_names() if n not in manager.provided_names()]
    if saved:
        menu.addSeparator()
        for name in saved:
            a = menu.addAction(name)
            a.setCheckable(True)
            a.setChecked(name == manager.name)
            group.addAction(a)
            a.triggered.connect(lambda _=False, n=name: manager.open(n))
    menu.addSeparator()
    if manager.store is not None:
        edit = QLineEdit(placeholderText="Save as… (a name, then Enter)")
        edit.setMinimumWidth(260)

        def save() -> None:
            name = edit.text().strip()
            if name:
                manager.save_as(name)
                menu.close()

        edit.returnPressed.connect(save)
        holder = QWidgetAction(menu)
        holder.setDefaultWidget(edit)
        menu.addAction(holder)
    menu.addAction("Reset to proposed").triggered.connect(manager.reset_to_proposed)
    menu.addSeparator()
    keys = manager.console.shortcuts.text("help.shortcuts")
    menu.addAction(f"Keyboard shortcuts…\t{keys}").triggered.connect(manager.console.show_shortcuts)


def _screens(manager: WorkspaceManager, _window: ScreenWindow, menu: QMenu) -> None:
    roles = manager.screen_roles()
    for info in manager.present():
        role = roles[info.name]
        sub = menu.addMenu(f"{role} — {info.name or 'screen'} ({info.geometry[2]}×{info.geometry[3]})")
        has_window = role in manager.windows and role not in manager.hidden
        console = sub.addAction("Console window")
        console.setCheckable(True)
        console.setChecked(has_window)
        console.triggered.connect(lambda on, r=role: manager.show_window(r, on))
        sub.addSeparator()
        group = QActionGroup(sub)
        shown = manager.presentations.get(role)
        current = shown.content if shown else None
        for label, content in (
            ("Presentation: mosaic", "mosaic"),
            ("Presentation: map", "map"),
            (f"Presentation: shared wall {role} (driven by supervisors)", "shared"),
            ("Presentation: off", None),
        ):
            a = sub.addAction(label)
            a.setCheckable(True)
            a.setChecked(current == content)
            group.addAction(a)
            a.triggered.connect(lambda _=False, r=role, c=content: manager.set_presentation(r, c))


def _panels(manager: WorkspaceManager, window: ScreenWindow, menu: QMenu) -> None:
    for pid in sorted(manager.panels, key=lambda p: title_of(p, manager.kinds[p])):
        dock = manager.docks.get(pid)
        if dock is None:
            continue
        where = manager.window_of(pid)
        label = title_of(pid, manager.kinds[pid])
        if where is not None and where is not window:
            label += f"  ({where.role})"
        a = menu.addAction(label)
        a.setCheckable(True)
        a.setChecked(not dock.isClosed())
        a.triggered.connect(lambda on, p=pid: manager.set_panel_open(p, on))
    elsewhere = [p for p in manager.panels if manager.window_of(p) not in (None, window)]
    if elsewhere:
        bring = menu.addMenu("Bring to this window")
        for pid in sorted(elsewhere):
            bring.addAction(title_of(pid, manager.kinds[pid])).triggered.connect(
                lambda _=False, p=pid: manager.move_panel(p, window.role)
            )
    menu.addSeparator()
    for kind, spec in REGISTRY.items():
        if spec.multiple or kind not in manager.panels:
            label = "Add a mosaic" if kind == "mosaic" else f"Add {spec.title}"
            menu.addAction(label).triggered.connect(lambda _=False, k=kind: manager.add_panel(k, window.role))
