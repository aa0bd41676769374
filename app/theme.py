"""The control-room look: Fusion with a dark palette plus the QSS in resources/styles."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from vigie.widgets.status.palette import KIND_LABELS, STATUS_COLORS, STATUS_LABELS


def _resources_dir() -> Path:
    """resources/ beside the source folders (a checkout, an editable install), else the copy that
    setup.py's build step puts inside the installed `vigie` package (a wheel, pipx)."""
    beside = Path(__file__).resolve().parent.parent / "resources"
    if beside.is_dir():
        return beside
    import vigie

    return Path(vigie.__file__).resolve().parent / "resources"


RESOURCES = _resources_dir()


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    for role, color in {
        QPalette.ColorRole.Window: "#15181d",
        QPalette.ColorRole.WindowText: "#e6edf3",
        QPalette.ColorRole.Base: "#161a20",
        QPalette.ColorRole.AlternateBase: "#1a1f26",
        QPalette.ColorRole.Text: "#e6edf3",
        QPalette.ColorRole.Button: "#20252d",
        QPalette.ColorRole.ButtonText: "#e6edf3",
        QPalette.ColorRole.Highlight: "#1f3a5f",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#20252d",
        QPalette.ColorRole.ToolTipText: "#e6edf3",
        QPalette.ColorRole.PlaceholderText: "#6e7681",
    }.items():
        pal.setColor(role, QColor(color))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSizeF(max(10.0, font.pointSizeF()))
    app.setFont(font)
    app.setStyleSheet((RESOURCES / "styles" / "dark.qss").read_text(encoding="utf-8"))
    pg.setConfigOptions(background="#1b1f26", foreground="#aab3bd", antialias=True)


@cache
def dock_stylesheet() -> str:
    """The docks' look (QtAds sets its own light stylesheet on each dock manager; this replaces it)."""
    return (RESOURCES / "styles" / "docks.qss").read_text(encoding="utf-8")


def map_style() -> dict:
    """The map page draws with the same status colours and names as the rest of the console."""
    return {"status_colors": STATUS_COLORS, "status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS}
