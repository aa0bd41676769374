"""One picture per screen: each screen's windows drawn at their places on a screen-sized image.

widget.grab() renders a window offscreen, the map's QtWebEngine content included (the view composites
its page into the widget it renders in). Windows are drawn bottom to top: console windows, floating
dock containers, presentations.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QRect
from PySide6.QtGui import QColor, QImage, QPainter

from vigie.app.workspace.manager import WorkspaceManager

DESK = QColor("#0b0d10")  # what a screen shows where no window is


def screen_images(manager: WorkspaceManager) -> list[tuple[str, QImage]]:
    """(screen name, picture) for every screen, left to right."""
    out = []
    windows = []
    for top in manager.top_levels():
        # Grabbing a window (the map's page above all) takes a while: let the pictures that
        # arrived meanwhile reach their tiles first, so no tile is drawn older than it is.
        QCoreApplication.processEvents()
        windows.append((top, top.grab()))
    for info in manager.present():
        x, y, w, h = info.geometry
        img = QImage(w, h, QImage.Format.Format_RGB32)
        img.fill(DESK)
        screen = QRect(x, y, w, h)
        p = QPainter(img)
        for win, pixmap in windows:
            g = win.geometry()
            if g.intersects(screen):
                p.drawPixmap(g.topLeft() - screen.topLeft(), pixmap)
        p.end()
        out.append((info.name, img))
    return out


def write_screenshots(manager: WorkspaceManager, folder: Path) -> list[Path]:
    """vigie-1.png, vigie-2.png... one per screen, left to right; raises OSError if one fails."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (_name, img) in enumerate(screen_images(manager), 1):
        path = folder / f"vigie-{i}.png"
        if not img.save(str(path)):
            raise OSError(f"could not write {path}")
        paths.append(path)
    return paths
