"""One transit line as a stop-to-stop strip: stops as ticks, live vehicles as dots coloured by
their schedule deviation (early blue, on time green, late amber, very late red), the outward
trips above the strip and the return trips below, and each vehicle's headway beside it.

Plain values in (`DiagramLine`, `DiagramVehicle`); a click on a vehicle emits its id.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

EARLY_S, LATE_S, VERY_LATE_S = -60, 60, 180
COLORS = {"early": "#58a6ff", "on_time": "#3fb950", "late": "#e3b341", "very_late": "#f85149"}
ROW_H = 74
MARGIN_X = 90
DOT_R = 6


def deviation_band(deviation_s: int) -> str:
    if deviation_s < EARLY_S:
        return "early"
    if deviation_s > VERY_LATE_S:
        return "very_late"
    if deviation_s > LATE_S:
        return "late"
    return "on_time"


@dataclass(frozen=True, slots=True)
class DiagramLine:
    id: str
    name: str
    color: str
    length_m: float
    stops: tuple[tuple[str, float], ...]  # (name, distance from the first stop)


@dataclass(frozen=True, slots=True)
class DiagramVehicle:
    id: str
    distance_m: float
    direction: int  # 0: outward (drawn above), 1: back (below)
    deviation_s: int
    headway_s: int
    held: bool = False


class LineDiagram(QWidget):
    sig_vehicle_clicked = Signal(str)

    def __init__(self, line: DiagramLine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = line
        self.vehicles: list[DiagramVehicle] = []
        self.selected = ""
        self.setMinimumHeight(ROW_H)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_vehicles(self, vehicles: list[DiagramVehicle]) -> None:
        self.vehicles = vehicles
        self.update()

    def set_selected(self, vehicle_id: str) -> None:
        self.selected = vehicle_id
        self.update()

    def x_of(self, distance_m: float) -> float:
        w = max(1.0, self.width() - MARGIN_X - 70)
        return MARGIN_X + w * (distance_m / self.line.length_m if self.line.length_m else 0.0)

    def vehicle_pos(self, v: DiagramVehicle) -> QPointF:
        mid = self.height() / 2
        return QPointF(self.x_of(v.distance_m), mid - 14 if v.direction == 0 else mid + 14)

    def vehicle_at(self, p: QPointF) -> str:
        best, best_d = "", 12.0**2
        for v in self.vehicles:
            q = self.vehicle_pos(v)
            d = (q.x() - p.x()) ** 2 + (q.y() - p.y()) ** 2
            if d < best_d:
                best, best_d = v.id, d
        return best

    def mousePressEvent(self, event: QMouseEvent) -> None:
        vid = self.vehicle_at(event.position())
        if vid:
            self.sig_vehicle_clicked.emit(vid)
        super().mousePressEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#0d1117"))
        mid = self.height() / 2
        font = QFont(self.font())
        font.setPointSizeF(8.5)
        p.setFont(font)
        p.setPen(QColor(self.line.color))
        bold = QFont(font)
        bold.setBold(True)
        bold.setPointSizeF(11)
        p.setFont(bold)
        p.drawText(QRectF(6, mid - 12, MARGIN_X - 12, 24), Qt.AlignmentFlag.AlignVCenter, self.line.id)
        p.setFont(font)
        p.setPen(QPen(QColor(self.line.color), 4))
        p.drawLine(QPointF(self.x_of(0), mid), QPointF(self.x_of(self.line.length_m), mid))
        p.setPen(QPen(QColor("#c9d1d9"), 1))
        n = len(self.line.stops)
        for k, (name, d) in enumerate(self.line.stops):
            x = self.x_of(d)
            p.drawLine(QPointF(x, mid - 5), QPointF(x, mid + 5))
            if k in (0, n - 1):
                p.drawText(
                    QRectF(x - 60, self.height() - 14, 120, 14), Qt.AlignmentFlag.AlignHCenter, name[:18]
                )
        for v in self.vehicles:
            q = self.vehicle_pos(v)
            color = QColor(COLORS[deviation_band(v.deviation_s)])
            p.setPen(QPen(QColor("#ffffff") if v.id == self.selected else color.darker(150), 2))
            p.setBrush(color)
            if v.held:
                p.drawRect(QRectF(q.x() - DOT_R, q.y() - DOT_R, 2 * DOT_R, 2 * DOT_R))
            else:
                p.drawEllipse(q, DOT_R, DOT_R)
            if v.headway_s:
                p.setPen(QColor("#8b949e"))
                label_y = q.y() - 18 if v.direction == 0 else q.y() + 6
                p.drawText(
                    QRectF(q.x() - 30, label_y, 60, 12),
                    Qt.AlignmentFlag.AlignHCenter,
                    f"{v.headway_s // 60}′",
                )
        p.end()
