"""Status colours, labels and icons: one definition for the table, tree, tiles and (later) the map.

Colour always comes with a shape and a word, for colour-blind operators (see docs/ux.md).
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

STATUSES = ("ok", "warning", "fault", "offline", "maintenance")
# Severity order for sorting and "worst status" roll-ups: fault first.
SEVERITY = {"fault": 0, "offline": 1, "warning": 2, "maintenance": 3, "ok": 4}

STATUS_COLORS = {
    "ok": "#3fb950",
    "warning": "#e3b341",
    "fault": "#f85149",
    "offline": "#8b949e",
    "maintenance": "#58a6ff",
}
STATUS_LABELS = {
    "ok": "OK",
    "warning": "WARNING",
    "fault": "FAULT",
    "offline": "OFFLINE",
    "maintenance": "MAINTENANCE",
}
KIND_LABELS = {
    "camera": "Cameras",
    "traffic_signal": "Traffic signals",
    "street_light": "Street lights",
    "bollard": "Bollards",
    "access_point": "Access points",
    "delivery_bay": "Delivery bays",
    "water_sensor": "Water sensors",
    "tram_station": "Tram stations",
    "vehicle": "Vehicles",
}
KIND_SINGULAR = {
    "camera": "Camera",
    "traffic_signal": "Traffic signal",
    "street_light": "Street light",
    "bollard": "Bollard",
    "access_point": "Access point",
    "delivery_bay": "Delivery bay",
    "water_sensor": "Water sensor",
    "tram_station": "Tram station",
    "vehicle": "Vehicle",
}


def status_color(status: str) -> QColor:
    return QColor(STATUS_COLORS.get(status, STATUS_COLORS["offline"]))


@cache
def status_icon(status: str, size: int = 16) -> QIcon:
    """A shape per status: disc (OK), triangle (WARNING), square with a cross (FAULT),
    hollow ring (OFFLINE), diamond (MAINTENANCE)."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = status_color(status)
    m = size * 0.12
    r = QRectF(m, m, size - 2 * m, size - 2 * m)
    p.setPen(QPen(color.darker(160), 1))
    p.setBrush(color)
    if status == "warning":
        p.drawPolygon(QPolygonF([QPointF(r.center().x(), r.top()), r.bottomRight(), r.bottomLeft()]))
    elif status == "fault":
        p.drawRect(r)
        p.setPen(QPen(QColor("#15181d"), max(1.5, size / 8)))
        p.drawLine(r.topLeft() + QPointF(3, 3), r.bottomRight() - QPointF(3, 3))
        p.drawLine(r.topRight() + QPointF(-3, 3), r.bottomLeft() + QPointF(3, -3))
    elif status == "offline":
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(color, max(1.5, size / 7)))
        p.drawEllipse(r.adjusted(1, 1, -1, -1))
    elif status == "maintenance":
        c = r.center()
        p.drawPolygon(
            QPolygonF(
                [
                    QPointF(c.x(), r.top()),
                    QPointF(r.right(), c.y()),
                    QPointF(c.x(), r.bottom()),
                    QPointF(r.left(), c.y()),
                ]
            )
        )
    else:
        p.drawEllipse(r)
    p.end()
    return QIcon(pix)
