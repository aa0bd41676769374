"""The workspaces Vigie proposes for a desk of N screens, and the ones it provides by name.

Laptop (one screen): one window with every panel. Two screens: the map and alarms (with the assets and
the asset detail) on console-left, a mosaic on console-right. Three or more: a mosaic of its own on
each extra screen. Mosaics with no cameras listed are filled with live cameras no other mosaic shows.
"""

from __future__ import annotations

from vigie.app.workspace.model import Panel, Placement, Presentation, Screen, Split, Tabs, Window, Workspace
from vigie.app.workspace.screens import role_names

LAPTOP = "Laptop demo"
OPERATOR_2 = "Operator 2 screens"
SUPERVISOR_3 = "Supervisor 3 screens"
EXTRA_MOSAIC_LAYOUTS = ("3x3", "4x4", "1+7")  # the mosaics of the 3rd, 4th, 5th... screens


def _h(items: list, sizes: list[float]) -> Split:
    return Split("horizontal", items, sizes)


def _v(items: list, sizes: list[float]) -> Split:
    return Split("vertical", items, sizes)


def _t(*panels: str) -> Tabs:
    return Tabs(list(panels), panels[0])


def _window(role: str, docks: Split | Tabs) -> Window:
    return Window(Placement(role), docks)


def _mosaic(layout: str) -> Panel:
    return Panel("mosaic", {"layout": layout, "cameras": []})


def laptop() -> Workspace:
    docks = _h(
        [
            _t("assets"),
            _v([_t("map"), _t("alarms", "incidents")], [0.58, 0.42]),
            _v([_t("detail", "incident"), _t("mosaic-1", "alarm-video")], [0.5, 0.5]),
        ],
        [0.26, 0.44, 0.30],
    )
    panels = {
        "assets": Panel("assets"),
        "map": Panel("map"),
        "alarms": Panel("alarms"),
        "detail": Panel("detail"),
        "mosaic-1": _mosaic("2x2"),
        "alarm-video": Panel("alarm-video"),
        "incidents": Panel("incidents"),
        "incident": Panel("incident"),
    }
    return Workspace(LAPTOP, [Screen("console-left")], [_window("console-left", docks)], panels)


def _console_left() -> Split:
    """The operator's main screen: assets over the asset detail, the map over the alarms."""
    return _h(
        [
            _v([_t("assets"), _t("detail", "incident"), _t("alarm-video")], [0.4, 0.32, 0.28]),
            _v([_t("map"), _t("alarms", "incidents")], [0.6, 0.4]),
        ],
        [0.3, 0.7],
    )


def operator(screens: int = 2, name: str = OPERATOR_2) -> Workspace:
    roles = role_names(max(2, screens))
    windows = [_window("console-left", _console_left()), _window("console-right", _t("mosaic-1"))]
    panels = {
        "assets": Panel("assets"),
        "detail": Panel("detail"),
        "map": Panel("map"),
        "alarms": Panel("alarms"),
        "mosaic-1": _mosaic("3x3"),
        "alarm-video": Panel("alarm-video"),
        "incidents": Panel("incidents"),
        "incident": Panel("incident"),
    }
    for i, role in enumerate(roles[2:]):
        pid = f"mosaic-{i + 2}"
        windows.append(_window(role, _t(pid)))
        panels[pid] = _mosaic(EXTRA_MOSAIC_LAYOUTS[i % len(EXTRA_MOSAIC_LAYOUTS)])
    return Workspace(name, [Screen(r) for r in roles], windows, panels)


def supervisor() -> Workspace:
    """A dispatch desk: on the left the alarms (with the assets and what the shared walls show) beside
    the selected incident and its recommended units; on the right the map over the incident list
    and the unit board; a 3x3 mosaic in presentation mode on the third screen."""
    left = _h(
        [
            _v([_t("alarms", "assets", "detail"), _t("walls")], [0.74, 0.26]),
            _v([_t("incident"), _t("alarm-video", "recommend")], [0.6, 0.4]),
        ],
        [0.52, 0.48],
    )
    right = _v([_t("map", "mosaic-1"), _h([_t("incidents"), _t("units")], [0.56, 0.44])], [0.6, 0.4])
    windows = [_window("console-left", left), _window("console-right", right)]
    screens = [
        Screen("console-left"),
        Screen("console-right"),
        Screen("screen-3", presentation=Presentation("mosaic", {"layout": "3x3", "cameras": []})),
    ]
    panels = {
        "assets": Panel("assets"),
        "detail": Panel("detail"),
        "alarms": Panel("alarms"),
        "map": Panel("map"),
        "mosaic-1": _mosaic("2x2"),
        "walls": Panel("walls"),
        "alarm-video": Panel("alarm-video"),
        "incidents": Panel("incidents"),
        "incident": Panel("incident"),
        "units": Panel("units"),
        "recommend": Panel("recommend"),
    }
    return Workspace(SUPERVISOR_3, screens, windows, panels)


def proposed(screens: int) -> Workspace:
    """What Vigie proposes on first start for a desk of `screens` monitors."""
    ws = laptop() if screens <= 1 else operator(screens)
    ws.name = f"Proposed for {max(1, screens)} screen{'s' if screens > 1 else ''}"
    return ws


PROVIDED = {LAPTOP: laptop, OPERATOR_2: operator, SUPERVISOR_3: supervisor}
