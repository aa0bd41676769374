"""A workspace as plain data (no Qt): screens by role, windows with their dock layout, panel contents.

The dock layout of a window is a tree: a `Split` (horizontal or vertical, sizes as fractions) of
nodes, whose leaves are `Tabs` (the panels sharing one dock area, one of them current). Panels are
named by id ("map", "mosaic-2"); what they show is in `Workspace.panels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ORIENTATIONS = ("horizontal", "vertical")
WINDOW_STATES = ("normal", "maximized", "fullscreen")
PRESENTATION_CONTENTS = ("mosaic", "map", "shared")  # shared: a shared wall, what supervisors push

Rect = tuple[int, int, int, int]  # x, y, width, height


@dataclass
class Tabs:
    """One dock area: its panels as tabs, `current` in front ("" = the first)."""

    panels: list[str]
    current: str = ""


@dataclass
class Split:
    orientation: str  # "horizontal" (side by side) or "vertical" (stacked)
    items: list[Node]
    sizes: list[float]  # fractions of the split's length, one per item


Node = Tabs | Split


@dataclass
class Placement:
    """Where a window goes: the screen playing `role` (the monitor `screen` when it is there)."""

    role: str
    screen: str = ""  # the monitor's name when saved; "" in provided workspaces
    geometry: Rect | None = None  # relative to the screen's top-left; None: the screen's available area
    state: str = "maximized"


@dataclass
class Floating:
    """A floating dock container (a panel dragged out of its window), possibly on another screen."""

    place: Placement
    docks: Node


@dataclass
class Window:
    place: Placement
    docks: Node | None
    closed: list[str] = field(default_factory=list)  # panels of this window the operator closed
    floating: list[Floating] = field(default_factory=list)


@dataclass
class Presentation:
    """A screen in presentation mode (presentation.py): one view, full screen, no controls."""

    content: str  # "mosaic", "map" or "shared" (attached to the WallService under the role name)
    state: dict = field(default_factory=dict)


@dataclass
class Screen:
    role: str
    name: str = ""
    geometry: Rect | None = None  # absolute, as it was when saved (informative)
    presentation: Presentation | None = None


@dataclass
class Panel:
    kind: str
    state: dict = field(default_factory=dict)


@dataclass
class Workspace:
    name: str
    screens: list[Screen]
    windows: list[Window]
    panels: dict[str, Panel]
    saved: str = ""  # ISO time of the save

    def roles(self) -> list[str]:
        """Every role the workspace uses, screens first, in their order."""
        out = [s.role for s in self.screens]
        for w in self.windows:
            for place in [w.place, *(f.place for f in w.floating)]:
                if place.role not in out:
                    out.append(place.role)
        return out


def leaves(node: Node | None) -> list[Tabs]:
    if node is None:
        return []
    if isinstance(node, Tabs):
        return [node]
    return [leaf for item in node.items for leaf in leaves(item)]


def panel_ids(node: Node | None) -> list[str]:
    return [p for leaf in leaves(node) for p in leaf.panels]


def normalise(node: Node | None) -> Node | None:
    """Drop empty areas, fold one-item splits and same-orientation nesting, sizes summing to 1."""
    if node is None:
        return None
    if isinstance(node, Tabs):
        if not node.panels:
            return None
        current = node.current if node.current in node.panels else node.panels[0]
        return Tabs(list(node.panels), current)
    items: list[Node] = []
    sizes: list[float] = []
    raw = list(node.sizes) + [0.0] * (len(node.items) - len(node.sizes))
    for raw_item, size in zip(node.items, raw, strict=False):
        item = normalise(raw_item)
        if item is None:
            continue
        if isinstance(item, Split) and item.orientation == node.orientation:
            items.extend(item.items)
            sizes.extend(s * size for s in item.sizes)
        else:
            items.append(item)
            sizes.append(max(0.0, size))
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    total = sum(sizes)
    sizes = [s / total for s in sizes] if total > 0 else [1 / len(items)] * len(items)
    return Split(node.orientation, items, [round(s, 4) for s in sizes])
