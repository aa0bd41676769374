"""A tile's overlays under its name bar never cover each other: with the pointer on a faulty
camera's tile (the hover line: age, fps, latency) and its statistics shown, the FAULT label and its
reason stay readable (the demo showed the hover line over the label after a maximise and restore)."""

from __future__ import annotations

import time
from itertools import combinations

from PySide6.QtCore import QEvent, QPointF
from PySide6.QtGui import QColor, QEnterEvent, QImage
from PySide6.QtWidgets import QApplication

from vigie.widgets.mosaic.tile import VideoTile


def test_the_hover_line_and_the_statistics_go_under_a_faulty_cameras_label(qtbot):
    tile = VideoTile()
    qtbot.addWidget(tile)
    tile.resize(420, 236)  # a 3x3 tile on a full-HD screen
    tile.show()
    qtbot.waitExposed(tile)
    tile.set_camera("cam-0240", "Caméra Rocade Est #240")
    tile.set_status("fault", "lens obscured, crew on the way")
    image = QImage(420, 236, QImage.Format.Format_RGB32)
    image.fill(QColor("#406080"))
    tile.set_frame(image, time.time(), 1)
    inside = QPointF(tile.width() / 2, tile.height() / 2)
    # What the platform sends when the pointer comes onto the tile.
    QApplication.sendEvent(tile, QEnterEvent(inside, tile.mapToGlobal(inside), tile.mapToGlobal(inside)))
    tile.show_stats = True  # "Show statistics" in the tile's menu

    boxes = tile.overlay_boxes()
    assert set(boxes) == {"status", "hover", "stats"}
    status_right = boxes["status"].right()
    assert status_right > tile.width() - boxes["hover"].width(), "this label reaches under the hover line"
    for (a, box_a), (b, box_b) in combinations(boxes.items(), 2):
        assert not box_a.intersects(box_b), f"{a} {box_a} covers {b} {box_b}"
    assert all(box.bottom() < tile.height() for box in boxes.values())

    # And on screen: the label's status square is painted in the fault colour, uncovered.
    img = tile.grab().toImage()
    box = boxes["status"]
    colours = {
        img.pixelColor(x, y).name()
        for x in range(int(box.left()), int(box.left() + box.height()))
        for y in range(int(box.top()), int(box.bottom()))
    }
    assert "#f85149" in colours
    QApplication.sendEvent(tile, QEvent(QEvent.Type.Leave))  # the pointer leaves: the hover line goes
    assert "hover" not in tile.overlay_boxes()
