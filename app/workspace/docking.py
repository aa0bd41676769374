"""Dock layout trees <-> QtAds: build a tree of panels into a dock container, read one back.

QtAds only adds a dock next to an existing area, so a tree is built breadth first: the first panel
of each item of a split goes in a row (or column), then each item is split further inside its area.
Sizes are fractions; QSplitter scales them to the real length, before or after the window is shown.
"""

from __future__ import annotations

from collections.abc import Callable

import PySide6QtAds as ads
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from vigie.app.workspace.model import Node, Split, Tabs, leaves, normalise

SIDE = {"horizontal": ads.RightDockWidgetArea, "vertical": ads.BottomDockWidgetArea}
SCALE = 10_000  # fractions become splitter sizes out of this


def build(
    manager: ads.CDockManager,
    node: Node,
    dock: Callable[[str], ads.CDockWidget],
    place_first: Callable[[ads.CDockWidget], ads.CDockAreaWidget],
) -> None:
    """Lay `node` out: `place_first` puts its first panel somewhere (the window, a floating
    container) and returns the area; everything else goes relative to it."""
    first = leaves(node)[0].panels[0]
    _expand(manager, node, place_first(dock(first)), dock)


def _expand(
    manager: ads.CDockManager, node: Node, area: ads.CDockAreaWidget, dock: Callable[[str], ads.CDockWidget]
) -> None:
    if isinstance(node, Tabs):
        for pid in node.panels[1:]:
            manager.addDockWidget(ads.CenterDockWidgetArea, dock(pid), area)
        if node.current:
            area.setCurrentDockWidget(dock(node.current))
        return
    areas = [area]
    for item in node.items[1:]:
        areas.append(
            manager.addDockWidget(SIDE[node.orientation], dock(leaves(item)[0].panels[0]), areas[-1])
        )
    for item, item_area in zip(node.items, areas, strict=True):
        _expand(manager, item, item_area, dock)


def _has_open_docks(w: QWidget | None) -> bool:
    if isinstance(w, ads.CDockAreaWidget):
        return bool(w.openedDockWidgets())
    if isinstance(w, QSplitter):
        return any(_has_open_docks(w.widget(i)) for i in range(w.count()))
    return False


def apply_sizes(w: QWidget | None, node: Node | None) -> None:
    """Give the splitters under `w` the fractions of `node` (same shape as read() returns)."""
    if node is None or not isinstance(w, QSplitter):
        return
    kids = [i for i in range(w.count()) if _has_open_docks(w.widget(i))]
    if len(kids) == 1 and isinstance(w.widget(kids[0]), QSplitter):
        apply_sizes(w.widget(kids[0]), node)  # a splitter holding one splitter: pass through
        return
    if not isinstance(node, Split) or len(kids) != len(node.items):
        return
    sizes = [0] * w.count()
    for i, fraction in zip(kids, node.sizes, strict=True):
        sizes[i] = max(1, round(fraction * SCALE))
    w.setSizes(sizes)
    for i, item in zip(kids, node.items, strict=True):
        apply_sizes(w.widget(i), item)


def read(w: QWidget | None) -> Node | None:
    """The open panels under `w` (a container's root splitter) as a normalised tree."""
    if w is None:
        return None
    if isinstance(w, ads.CDockAreaWidget):
        opened = [d.objectName() for d in w.dockWidgets() if not d.isClosed()]
        if not opened:
            return None
        current = w.currentDockWidget()
        name = current.objectName() if current is not None else ""
        return Tabs(opened, name if name in opened else opened[0])
    if isinstance(w, QSplitter):
        items: list[Node] = []
        sizes: list[float] = []
        all_sizes = w.sizes()
        for i in range(w.count()):
            node = read(w.widget(i))
            if node is not None:
                items.append(node)
                sizes.append(float(all_sizes[i]) if i < len(all_sizes) else 0.0)
        orientation = "horizontal" if w.orientation() == Qt.Orientation.Horizontal else "vertical"
        return normalise(Split(orientation, items, sizes))
    return None


def dock_widgets(manager: ads.CDockManager) -> list[ads.CDockWidget]:
    return list(manager.dockWidgetsMap().values())
