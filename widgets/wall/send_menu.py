"""The "Send to wall ▸ <wall>" sub-menu every view offers (mosaic tile and view, map, alarm row).

Views keep the wall names they were given (`WallChoices.set_walls`) and emit
`sig_send_to_wall(wall, payload)` with a plain dict saying what to send:

    {"kind": "camera", "camera_id": str}
    {"kind": "mosaic", "name": str, "layout": str, "camera_ids": [str, ...]}   # slot order
    {"kind": "map", "lat": float, "lon": float, "zoom": float, "focus": str, "layers": [str, ...]}
    {"kind": "alarm", "alarm_id": str}
    {"kind": "clear"}

Whoever owns the views turns the payload into a push (app/controllers/wall.py).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu

SEND_TITLE = "Send to wall"


class WallChoices:
    """The walls a view may send to: names in order, and which of them have no display now."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.offline: set[str] = set()

    def set_walls(self, names: list[str], offline: set[str] | frozenset[str] = frozenset()) -> None:
        self.names = list(names)
        self.offline = set(offline)

    def add_menu(
        self, menu: QMenu, payload: dict, send: Callable[[str, dict], None], title: str = SEND_TITLE
    ) -> QMenu | None:
        """Add "<title> ▸ <wall>..." to `menu`; picking a wall calls send(wall, payload).
        Nothing is added when no wall is known."""
        if not self.names:
            return None
        sub = menu.addMenu(title)
        for name in self.names:
            label = f"{name}  (no display now)" if name in self.offline else name
            sub.addAction(label).triggered.connect(lambda _=False, n=name: send(n, payload))
        return sub
