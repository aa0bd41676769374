"""Alarm priority colours, icons and state names (docs/ux.md: 1 red, 2 orange, 3 yellow, 4 cyan)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap

PRIORITY_COLORS = {1: "#f85149", 2: "#f0883e", 3: "#e3b341", 4: "#39c5cf"}
STATE_LABELS = {
    "unack_active": "ACTIVE — UNACK",
    "ack_active": "ACTIVE — ACK",
    "rtn_unack": "CLEARED — UNACK",
    "normal": "CLOSED",
    "shelved": "SHELVED",
    "suppressed": "SUPPRESSED",
    "out_of_service": "OUT OF SERVICE",
}


@cache
def priority_icon(priority: int, lit: bool = True, size: int = 18) -> QIcon:
    """A filled badge with the priority number; unlit (hollow) is the other blink phase."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(PRIORITY_COLORS.get(priority, "#8b949e"))
    r = QRectF(1.5, 1.5, size - 3, size - 3)
    p.setPen(QPen(color, 1.5))
    p.setBrush(color if lit else Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(r, 3, 3)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.7))
    p.setFont(font)
    p.setPen(QColor("#15181d") if lit else color)
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(priority))
    p.end()
    return QIcon(pix)
