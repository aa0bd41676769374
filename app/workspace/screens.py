"""Screens and roles, without Qt: which monitor plays which role, and where a missing one's windows go.

A workspace names its screens by role so that it applies on any desk: `console-left` (the main
console: it has the status bar), `console-right`, then `screen-3`, `screen-4`... Present monitors take
roles from left to right (then top to bottom), except that a monitor the workspace was saved on keeps
its role wherever it now sits. A role without a monitor is folded into the nearest role before it that
has one (screen-4 -> screen-3 -> console-right -> console-left), else the nearest after it.

Format 1 workspace files called the third, fourth... screens `wall-1`, `wall-2`...: `current_role`
renames them (a "wall" is a shared wall of the backend, docs/architecture.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigie.app.workspace.model import Rect

FIRST_ROLES = ("console-left", "console-right")


@dataclass(frozen=True)
class ScreenInfo:
    name: str
    geometry: Rect  # absolute x, y, width, height
    available: Rect | None = None  # without panels/taskbars; None: the whole geometry

    @property
    def area(self) -> Rect:
        return self.available or self.geometry


def role_names(count: int) -> list[str]:
    """The roles of a desk of `count` screens, in order."""
    return [*FIRST_ROLES, *(f"screen-{i}" for i in range(3, count + 1))][:count]


def role_index(role: str) -> int:
    """Position of a role in the folding order; roles of other shapes go last, by name."""
    if role in FIRST_ROLES:
        return FIRST_ROLES.index(role)
    m = re.fullmatch(r"screen-(\d+)", role)
    return int(m.group(1)) - 1 if m and int(m.group(1)) > len(FIRST_ROLES) else 10_000


def current_role(role: str) -> str:
    """A role as this version names it: format 1's `wall-N` is `screen-(N+2)`."""
    m = re.fullmatch(r"wall-(\d+)", role)
    return f"screen-{int(m.group(1)) + len(FIRST_ROLES)}" if m and int(m.group(1)) > 0 else role


def is_role(role: str) -> bool:
    return role_index(role) < 10_000


def ordered(screens: list[ScreenInfo]) -> list[ScreenInfo]:
    """Left to right, then top to bottom: the order roles are handed out in."""
    return sorted(screens, key=lambda s: (s.geometry[0], s.geometry[1], s.name))


def assign_roles(roles: list[str], present: list[ScreenInfo], known: dict[str, str]) -> dict[str, str]:
    """Role -> name of the present screen that plays it. `known` is role -> the monitor the role was
    last on: that monitor, when present, keeps the role. Other roles take the remaining monitors from
    left to right; roles left over are folded (see the module docstring). Every role gets a screen
    (as long as one is present)."""
    roles = sorted(dict.fromkeys(roles), key=lambda r: (role_index(r), r))
    names = [s.name for s in ordered(present)]
    out: dict[str, str] = {}
    taken: set[str] = set()
    for role in roles:
        name = known.get(role, "")
        if name and name in names and name not in taken:
            out[role] = name
            taken.add(name)
    free = [n for n in names if n not in taken]
    for role in roles:
        if role not in out and free:
            out[role] = free.pop(0)
    if not names:
        return out
    for i, role in enumerate(roles):
        if role in out:
            continue
        before = [r for r in reversed(roles[:i]) if r in out]
        after = [r for r in roles[i + 1 :] if r in out]
        host = before[0] if before else after[0] if after else None
        out[role] = out[host] if host else names[0]
    return out


def roles_of_screens(mapping: dict[str, str]) -> dict[str, str]:
    """Screen name -> the role it plays itself (not the ones folded into it)."""
    out: dict[str, str] = {}
    for role in sorted(mapping, key=lambda r: (role_index(r), r)):
        out.setdefault(mapping[role], role)
    return out


def clamp(rect: Rect, area: Rect) -> Rect:
    """`rect` moved (and shrunk if needed) to lie inside `area`: a window is never left off-screen."""
    x, y, w, h = rect
    ax, ay, aw, ah = area
    w, h = max(1, min(w, aw)), max(1, min(h, ah))
    x = min(max(x, ax), ax + aw - w)
    y = min(max(y, ay), ay + ah - h)
    return (x, y, w, h)


def absolute(rel: Rect, screen: ScreenInfo) -> Rect:
    """A rectangle relative to a screen's top-left, made absolute and kept inside its available area."""
    sx, sy = screen.geometry[:2]
    return clamp((sx + rel[0], sy + rel[1], rel[2], rel[3]), screen.area)


def relative(rect: Rect, screen: ScreenInfo) -> Rect:
    sx, sy = screen.geometry[:2]
    return (rect[0] - sx, rect[1] - sy, rect[2], rect[3])


def cascade(rel: Rect | None, screen: ScreenInfo, step: int) -> Rect:
    """Where a window folded onto another screen goes: a normal window, at most 85% of the screen,
    offset by `step` so several folded windows stay visible, inside the screen."""
    ax, ay, aw, ah = screen.area
    w, h = (rel[2], rel[3]) if rel else (aw, ah)
    w, h = min(w, int(aw * 0.85)), min(h, int(ah * 0.85))
    offset = 40 * (step + 1)
    return clamp((ax + offset, ay + offset, w, h), screen.area)
