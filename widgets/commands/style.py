"""The colours of a command's stages: one definition for the dialog's chips and the progress table."""

from __future__ import annotations

STAGE_COLORS = {
    "SENT": "#8b949e",
    "ACCEPTED": "#58a6ff",
    "ACKNOWLEDGED": "#d29922",
    "CONFIRMED": "#3fb950",
    "FAILED": "#f85149",
    "TIMED_OUT": "#db6d28",
    "REJECTED": "#f85149",
}
