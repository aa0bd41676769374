"""Dispatch colours and words (docs/ux.md: colour only for meaning, always with a word).

Incident priorities use the alarm priority colours; timers amber and red; unit statuses one colour
each, the same on the board, the recommendation and the map."""

from __future__ import annotations

from vigie.widgets.alarms.style import PRIORITY_COLORS

TIMER_COLORS = {"": "#aab3bd", "amber": "#d29922", "red": "#f85149"}
INCIDENT_STATUS_COLORS = {
    "new": "#f85149",
    "dispatched": "#d29922",
    "in_progress": "#58a6ff",
    "on_hold": "#a371f7",
    "resolved": "#3fb950",
    "closed": "#6e7681",
}
UNIT_STATUS_COLORS = {
    "available": "#3fb950",
    "dispatched": "#d29922",
    "en_route": "#f0883e",
    "on_scene": "#58a6ff",
    "returning": "#39c5cf",
    "off_duty": "#6e7681",
    "out_of_service": "#a371f7",
}
GREY = "#8b949e"


def priority_color(priority: int) -> str:
    return PRIORITY_COLORS.get(priority, GREY)
