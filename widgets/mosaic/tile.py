"""A mosaic tile: paints the latest ready picture with its overlays, and reports what the operator does.

Overlays (docs/ux.md): the camera name wins the top bar, elided in the middle so its number (#240)
stays; a dot at its right is green only for a live picture of a camera in OK state. The camera's
own status (FAULT, OFFLINE...) with its reason sits under the bar in its colour, so a faulty camera
never looks healthy. The picture's age, frame rate and latency show on hover. PTZ arrows hug the
edges on hover (zoom and presets in the bottom corners). A picture older than `lost_after` seconds
is never shown as live: it is dimmed under "SIGNAL LOST" and the age of the last frame.
Pictures arrive already decoded and scaled to the tile (see app/video/decoder.py): painting never
scales unless the tile was just resized.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDropEvent,
    QFocusEvent,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from vigie.widgets.dnd import asset_ids
from vigie.widgets.status.palette import STATUS_COLORS, STATUS_LABELS


def _age_text(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class VideoTile(QWidget):
    sig_clicked = Signal()
    sig_double_clicked = Signal()
    sig_focused = Signal()  # keyboard focus came (Tab): the tile becomes the selected one
    sig_resized = Signal(QSize)  # the decoder scales pictures to this size
    sig_dropped = Signal(list)  # asset ids dropped on the tile
    sig_context = Signal(object)  # QPoint (global) of a right click
    sig_ptz = Signal(str, float, float, float, int)  # "move" | "stop" | "preset", pan, tilt, zoom, preset
    sig_crop = Signal(QRectF)  # digital zoom: the part of the picture to show (normalised)

    # The console's server is unreachable: a lost picture is the server's fault, not the camera's
    # (one server per console process: set by app/console.py for every tile).
    server_unreachable = False

    def __init__(self, index: int = 0, lost_after: float = 2.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 68)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # keys reach the mosaic (full screen, PTZ...)
        self.lost_after = lost_after
        self.camera_id = ""
        self.camera_name = ""
        self.ptz = False
        self.presets: list[tuple[int, str]] = []
        self.image: QImage | None = None
        self.captured = 0.0
        self.received = 0.0
        self.sequence = 0
        self.frames = 0
        self.missed = 0  # gaps in sequence numbers: frames dropped anywhere on the way
        self.fps = 0.0
        self.profile = ""
        self.selected = False
        self.linked = False  # shows a camera of the selected alarm
        self.status = ""  # the camera's own state ("ok", "fault"...; "" unknown)
        self.status_reason = ""
        self.show_stats = False
        self.show_fps = True
        self.message = ""  # a short result shown for a few seconds (PTZ, snapshot)
        self.crop = QRectF(0, 0, 1, 1)
        self.playback_text = ""  # "PLAYBACK hh:mm:ss" in playback (never the live dot), "" when live
        self.bar: QWidget | None = None  # the playback bar laid along the bottom edge
        self.latencies: deque[float] = deque(maxlen=150)  # capture -> paint, seconds
        self._arrivals: deque[float] = deque(maxlen=64)
        self._hover = False
        self._ptz_active = False
        self._age_timer = QTimer(self, interval=250)  # the age text and "signal lost" need a clock
        self._age_timer.timeout.connect(self._tick)
        self._age_timer.start()
        self._message_timer = QTimer(self, singleShot=True, interval=4000)
        self._message_timer.timeout.connect(self._clear_message)
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(10.0, self.font().pointSizeF()))
        self._font.setBold(True)

    # ---- state ---------------------------------------------------------------------------------

    def set_camera(
        self, camera_id: str, name: str, ptz: bool = False, presets: list[tuple[int, str]] | None = None
    ) -> None:
        if camera_id != self.camera_id:
            self.linked = False  # the alarm's border marks a camera, never a tile
            self.status = self.status_reason = ""
        self.camera_id, self.camera_name, self.ptz = camera_id, name, ptz
        self.presets = presets or []
        self.image = None
        self.frames = self.missed = self.sequence = 0
        self.fps = 0.0
        self.latencies.clear()
        self._arrivals.clear()
        self.set_crop(QRectF(0, 0, 1, 1))
        self.update()

    def set_overlay_font(self, font: QFont) -> None:
        """The font of the name, age and messages (a video wall wants it big)."""
        self._font = QFont(font)
        self.update()

    def update_info(self, name: str, ptz: bool, presets: list[tuple[int, str]]) -> None:
        """New details of the same camera: the picture and statistics stay."""
        self.camera_name, self.ptz, self.presets = name, ptz, presets
        self.update()

    def set_status(self, status: str, reason: str = "") -> None:
        """The camera's own state, from the asset store: overlaid on the picture unless OK."""
        if (status, reason) != (self.status, self.status_reason):
            self.status, self.status_reason = status, reason
            self.update()

    def stats_text(self) -> str:
        """What hover shows: the full name, the picture's age, frame rate and latency."""
        lines = [self.camera_name or f"Tile {self.index + 1}"]
        if self.image is not None:
            age = _age_text(max(0.0, time.time() - self.captured))
            lines.append(
                f"picture {age} old · {self.fps:.0f} fps · latency {self.latency_p50() * 1000:.0f} ms"
            )
        if self.status and self.status != "ok":
            lines.append(
                f"{STATUS_LABELS.get(self.status, self.status.upper())}: {self.status_reason}".rstrip(": ")
            )
        return "\n".join(lines)

    def event(self, event: QEvent) -> bool:
        if isinstance(event, QHelpEvent) and event.type() == QEvent.Type.ToolTip and self.camera_id:
            QToolTip.showText(event.globalPos(), self.stats_text(), self)
            return True
        return super().event(event)

    def set_frame(self, image: QImage, captured: float, sequence: int) -> None:
        now = time.monotonic()
        if captured:
            self.latencies.append(max(0.0, time.time() - captured))  # capture -> ready to paint
        if self.sequence and sequence > self.sequence + 1:
            self.missed += sequence - self.sequence - 1
        self.image, self.captured, self.sequence, self.received = image, captured, sequence, now
        self.frames += 1
        arr = self._arrivals
        arr.append(now)
        while len(arr) > 1 and now - arr[0] > 2.0:
            arr.popleft()
        self.fps = (len(arr) - 1) / (arr[-1] - arr[0]) if len(arr) > 1 and arr[-1] > arr[0] else 0.0
        self.update()

    def show_message(self, text: str) -> None:
        self.message = text
        self._message_timer.start()
        self.update()

    def _clear_message(self) -> None:
        self.message = ""
        self.update()

    def _tick(self) -> None:
        # A tile receiving frames repaints with each of them; the clock only has to repaint
        # tiles whose pictures stopped (to turn them "signal lost") and the empty ones' text.
        if time.monotonic() - self.received > 0.25 or self.message or self._hover:
            self.update()

    def is_live(self) -> bool:
        return self.image is not None and time.monotonic() - self.received <= self.lost_after

    def latency_p50(self) -> float:
        if not self.latencies:
            return 0.0
        return sorted(self.latencies)[len(self.latencies) // 2]

    def set_overlay(self, label_pt: float, show_fps: bool = True) -> None:
        """Overlay text size; a wall (read from metres away) uses big labels and leaves the frame
        rate out so the camera name has the room."""
        self._font.setPointSizeF(label_pt)
        self.show_fps = show_fps
        self.update()

    def set_playback(self, text: str, bar: QWidget | None = None) -> None:
        """Playback mode (text shown where the live age is, `bar` along the bottom); "" is live."""
        self.playback_text, self.bar = text, bar
        if bar is not None:
            bar.setParent(self)
            bar.setGeometry(0, self.height() - bar.sizeHint().height(), self.width(), bar.sizeHint().height())
            bar.show()
        self.update()

    def set_crop(self, crop: QRectF) -> None:
        self.crop = crop
        self.sig_crop.emit(crop)

    # ---- input ---------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.bar is not None:
            h = self.bar.sizeHint().height()
            self.bar.setGeometry(0, self.height() - h, self.width(), h)
        self.sig_resized.emit(event.size())

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.sig_focused.emit()

    def enterEvent(self, event: object) -> None:
        self._hover = True
        self.update()

    def leaveEvent(self, event: object) -> None:
        self._hover = False
        if self._ptz_active:
            self._ptz_active = False
            self.sig_ptz.emit("stop", 0.0, 0.0, 0.0, 0)
        self.update()

    def _name_width(self) -> float:
        return max(0.0, self.width() - (34.0 if self.camera_id else 16.0))

    def shown_name(self) -> str:
        """The name as the bar shows it: the whole width, elided in the middle so the number at
        its end ("#240") stays readable."""
        label = self.camera_name or f"Tile {self.index + 1}: drop a camera here"
        return QFontMetrics(self._font).elidedText(
            label, Qt.TextElideMode.ElideMiddle, int(self._name_width())
        )

    def bar_height(self) -> float:
        return QFontMetrics(self._font).height() + 8.0

    def _ptz_targets(self) -> list[tuple[QRectF, str, float, float, float, int]]:
        """Hover controls at the edges, off the middle of the picture: (rect, action, pan, tilt,
        zoom, preset). Up sits under the name bar, down on the bottom edge, left and right on the
        side edges; zoom in the bottom-right corner, presets along the bottom-left."""
        w, h = self.width(), self.height()
        s = max(22.0, min(w, h) / 10)
        top = self.bar_height() + 2
        cy, cx = (top + h) / 2, w / 2
        out = [
            (QRectF(2, cy - s / 2, s * 0.8, s), "move", -0.6, 0.0, 0.0, 0),
            (QRectF(w - s * 0.8 - 2, cy - s / 2, s * 0.8, s), "move", 0.6, 0.0, 0.0, 0),
            (QRectF(cx - s / 2, top, s, s * 0.8), "move", 0.0, 0.6, 0.0, 0),
            (QRectF(cx - s / 2, h - s * 0.8 - 2, s, s * 0.8), "move", 0.0, -0.6, 0.0, 0),
            (QRectF(w - 2 * s - 4, h - s - 2, s, s), "move", 0.0, 0.0, -0.6, 0),
            (QRectF(w - s - 2, h - s - 2, s, s), "move", 0.0, 0.0, 0.6, 0),
        ]
        for i, (number, _name) in enumerate(self.presets[:6]):
            x = 2 + i * (s + 2)
            if x + s < cx - s / 2 - 2:  # never under the down arrow
                out.append((QRectF(x, h - s - 2, s, s), "preset", 0.0, 0.0, 0.0, number))
        return out

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.sig_clicked.emit()
            if self.ptz and self._hover and self.camera_id:
                for rect, action, pan, tilt, zoom, preset in self._ptz_targets():
                    if rect.contains(event.position()):
                        self._ptz_active = action == "move"
                        self.sig_ptz.emit(action, pan, tilt, zoom, preset)
                        return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._ptz_active:
            self._ptz_active = False
            self.sig_ptz.emit("stop", 0.0, 0.0, 0.0, 0)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.sig_double_clicked.emit()
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.camera_id:
            return
        step = 1 if event.angleDelta().y() > 0 else -1
        if self.ptz:  # optical zoom: a short burst the camera stops by itself
            self.sig_ptz.emit("zoom", 0.0, 0.0, 0.5 * step, 0)
            return
        # Digital zoom around the cursor, kept inside the picture.
        c = self.crop
        factor = 0.8 if step > 0 else 1.25
        nw = min(1.0, max(0.1, c.width() * factor))
        fx = event.position().x() / max(1, self.width())
        fy = event.position().y() / max(1, self.height())
        px, py = c.x() + fx * c.width(), c.y() + fy * c.height()
        nx = min(max(0.0, px - fx * nw), 1.0 - nw)
        ny = min(max(0.0, py - fy * nw), 1.0 - nw)
        self.set_crop(QRectF(nx, ny, nw, nw))
        self.show_message("Digital zoom ×%.1f" % (1 / nw) if nw < 1 else "Digital zoom off")

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.sig_context.emit(event.globalPos())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if asset_ids(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        ids = asset_ids(event.mimeData())
        if ids:
            event.acceptProposedAction()
            self.sig_dropped.emit(ids)

    # ---- painting ------------------------------------------------------------------------------

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        rect = QRectF(self.rect())
        p.fillRect(rect, QColor("#0b0d10"))
        live = self.is_live() or (bool(self.playback_text) and self.image is not None)
        if self.image is not None:
            img = self.image
            if img.width() == int(rect.width()) or img.height() == int(rect.height()):
                # The decoder made it at this size: draw 1:1, centred.
                target = QRectF(
                    (rect.width() - img.width()) / 2,
                    (rect.height() - img.height()) / 2,
                    img.width(),
                    img.height(),
                )
            else:  # just resized: scale until the next picture arrives at the new size
                scale = min(rect.width() / img.width(), rect.height() / img.height())
                w, h = img.width() * scale, img.height() * scale
                target = QRectF(rect.center().x() - w / 2, rect.center().y() - h / 2, w, h)
            if not live:
                p.setOpacity(0.3)
            p.drawImage(target, img)
            p.setOpacity(1.0)
        p.setFont(self._font)
        fm = p.fontMetrics()
        bar_h = self.bar_height()
        p.fillRect(QRectF(0, 0, rect.width(), bar_h), QColor(0, 0, 0, 150))
        bad = self.status not in ("", "ok")
        d = 10.0
        pb_w = 0.0  # the PLAYBACK hh:mm:ss text, left of the dot (app/controllers/playback.py)
        if self.camera_id:
            # One dot: amber in playback; else the camera's status colour when it is not OK, else
            # live green or lost red.
            dot = STATUS_COLORS[self.status] if bad and self.status in STATUS_COLORS else None
            if self.playback_text:
                pb_w = fm.horizontalAdvance(self.playback_text) + 8
                p.setPen(QColor("#ffb000"))
                p.drawText(
                    QRectF(rect.width() - d - 16 - pb_w, 0, pb_w, bar_h),
                    Qt.AlignmentFlag.AlignVCenter,
                    self.playback_text,
                )
                dot = "#ffb000"
            p.setBrush(QColor(dot or ("#3fb950" if live else "#f85149")))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(QRectF(rect.width() - d - 8, (bar_h - d) / 2, d, d))
        name_w = (
            min(self._name_width(), max(0.0, rect.width() - pb_w - d - 24)) if pb_w else self._name_width()
        )
        name = self.shown_name()
        if pb_w:
            name = fm.elidedText(self.camera_name, Qt.TextElideMode.ElideMiddle, int(name_w))
        p.setPen(QColor("#e6edf3") if self.camera_id else QColor("#6e7681"))
        p.drawText(
            QRectF(8, 0, name_w, bar_h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name
        )
        boxes = self.overlay_boxes(fm)
        if "status" in boxes:
            self._paint_status(p, rect, boxes["status"])
        if "hover" in boxes:
            box, text = boxes["hover"], self._hover_text()
            p.fillRect(box, QColor(0, 0, 0, 170))
            p.setPen(QColor("#e6edf3"))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        if not live and self.camera_id:
            lost = self.image is not None
            big = QFont(self._font)
            big.setPointSizeF(self._font.pointSizeF() * (1.8 if rect.width() > 300 else 1.2))
            p.setFont(big)
            p.setPen(QColor("#f85149") if lost else QColor("#e3b341"))
            text = "⚠ SIGNAL LOST" if lost else "CONNECTING…"
            if self.server_unreachable:  # the backend is gone, not the camera
                text = "⚠ SERVER UNREACHABLE"
            elif not lost and self.status in ("offline", "fault"):
                # The camera itself says it is down: that, not a connection that will never come.
                p.setPen(QColor(STATUS_COLORS[self.status]))
                text = f"■ {STATUS_LABELS[self.status]}"
            if lost:
                text += f"\nlast picture {_age_text(max(0.0, time.time() - self.captured))} ago"
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
            p.setFont(self._font)
        if "stats" in boxes:
            box, lines = boxes["stats"], self._stats_lines()
            p.fillRect(box, QColor(0, 0, 0, 170))
            p.setPen(QColor("#e6edf3"))
            for i, line in enumerate(lines):
                p.drawText(QPointF(box.x() + 6, box.y() + 4 + fm.ascent() + i * fm.height()), line)
        if self.message:
            mw = fm.horizontalAdvance(self.message) + 16
            box = QRectF((rect.width() - mw) / 2, rect.height() - bar_h - 8, mw, bar_h)
            p.fillRect(box, QColor(0, 0, 0, 190))
            p.setPen(QColor("#e6edf3"))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, self.message)
        if self.ptz and self._hover and self.camera_id:
            self._paint_ptz(p)
        if self.selected or self.linked:
            # docs/ux.md: a thin coloured border marks the selected tile and tiles linked to the alarm.
            p.setPen(QPen(QColor("#58a6ff") if self.selected else QColor("#f0883e"), 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect.adjusted(1.5, 1.5, -1.5, -1.5))
        p.end()

    def _status_text(self, fm: QFontMetrics) -> str:
        label = STATUS_LABELS.get(self.status, self.status.upper())
        text = f"{label} — {self.status_reason}" if self.status_reason else label
        room = int(self.width() - fm.height() - 30)
        return (
            text if fm.horizontalAdvance(text) <= room else label
        )  # a small tile: the word; the reason is on hover

    def _hover_text(self) -> str:
        age = max(0.0, time.time() - self.captured)
        return f"{_age_text(age)} · {self.fps:.0f} fps · {self.latency_p50() * 1000:.0f} ms"

    def _stats_lines(self) -> list[str]:
        size = f"{self.image.width()}x{self.image.height()}" if self.image else "0x0"
        return [
            f"{self.profile or '—'}  {size}",
            f"{self.fps:.1f} fps   latency p50 {self.latency_p50() * 1000:.0f} ms",
            f"frames {self.frames}   missed {self.missed}",
        ]

    def overlay_boxes(self, fm: QFontMetrics | None = None) -> dict[str, QRectF]:
        """Where the overlays under the name bar go, those shown now: the camera's status (left),
        the hover line (age, fps, latency; right) and the statistics (left). Each starts below the
        status label, never over it: a FAULT must stay readable while the pointer is on its tile."""
        fm = fm or QFontMetrics(self._font)
        bar_h = self.bar_height()
        boxes: dict[str, QRectF] = {}
        top = bar_h + 2
        if self.camera_id and self.status not in ("", "ok"):
            text = self._status_text(fm)
            boxes["status"] = QRectF(4, top, fm.horizontalAdvance(text) + fm.height() + 18, fm.height() + 6)
            top = boxes["status"].bottom() + 2
        if self.show_stats and self.camera_id:
            lines = self._stats_lines()
            width = fm.horizontalAdvance(max(lines, key=len)) + 12
            boxes["stats"] = QRectF(6, top + 2, width, len(lines) * fm.height() + 8)
        if self._hover and self.image is not None and self.show_fps:
            tw = fm.horizontalAdvance(self._hover_text()) + 12
            hover = QRectF(self.width() - tw - 4, top, tw, fm.height() + 4)
            if "stats" in boxes and hover.intersects(boxes["stats"]):  # a narrow tile: under them
                hover.moveTop(boxes["stats"].bottom() + 2)
            boxes["hover"] = hover
        return boxes

    def _paint_status(self, p: QPainter, rect: QRectF, box: QRectF) -> None:
        """The camera's own state under the name bar: a square in its colour, the word and the
        reason (colour always comes with a word, docs/ux.md), and a frame in that colour."""
        color = QColor(STATUS_COLORS.get(self.status, "#8b949e"))
        fm = p.fontMetrics()
        text = self._status_text(fm)
        p.fillRect(box, QColor(0, 0, 0, 200))
        sq = fm.height() * 0.6
        p.fillRect(QRectF(box.x() + 6, box.center().y() - sq / 2, sq, sq), color)
        p.setPen(color)
        p.drawText(box.adjusted(sq + 12, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
        p.setPen(QPen(color, 2, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect.adjusted(1, 1, -1, -1))

    def _paint_ptz(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        for rect, action, pan, tilt, zoom, preset in self._ptz_targets():
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0, 110))
            p.drawRoundedRect(rect, 4, 4)
            p.setBrush(QColor("#e6edf3"))
            p.setPen(QColor("#e6edf3"))
            c = rect.center()
            r = rect.width() * 0.28
            if action == "preset":
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(preset))
            elif zoom:
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "+" if zoom > 0 else "−")
            else:
                dx, dy = (1 if pan > 0 else -1 if pan < 0 else 0), (-1 if tilt > 0 else 1 if tilt < 0 else 0)
                tip = QPointF(c.x() + dx * r, c.y() + dy * r)
                base = QPointF(c.x() - dx * r * 0.6, c.y() - dy * r * 0.6)
                perp = QPointF(-dy * r * 0.8, dx * r * 0.8)
                p.drawPolygon(QPolygonF([tip, base + perp, base - perp]))
