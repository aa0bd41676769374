"""Widgets and workers on their own: no backend."""

from __future__ import annotations

import gc
import time
import weakref

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage

from vigie.app.video.decoder import FrameDecoder
from vigie.widgets.mosaic.tile import VideoTile


def jpeg(seq: int, w: int = 640, h: int = 360) -> bytes:
    img = np.full((h, w, 3), 40, np.uint8)
    cv2.putText(img, str(seq), (20, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 5)
    return cv2.imencode(".jpg", img)[1].tobytes()


def test_tile_says_signal_lost_then_recovers(qtbot):
    tile = VideoTile(lost_after=2.0)  # long enough to grab it live on a loaded machine
    qtbot.addWidget(tile)
    tile.resize(320, 180)
    tile.show()
    tile.set_camera("cam-0001", "Place Darcy")
    img = QImage(64, 36, QImage.Format.Format_RGB888)
    img.fill(Qt.GlobalColor.white)
    tile.set_frame(img, time.time(), 1)
    assert tile.is_live()
    bright_live = tile.grab().toImage().pixelColor(160, 150).lightness()
    qtbot.waitUntil(lambda: not tile.is_live(), timeout=30000)
    tile.repaint()
    dimmed = tile.grab().toImage().pixelColor(160, 150).lightness()
    assert dimmed < bright_live * 0.6, "the last picture is dimmed, never shown as live"
    tile.set_frame(img, time.time(), 2)
    assert tile.is_live()


def test_decoder_latest_frame_wins_and_scales(qtbot):
    dec = FrameDecoder()
    dec.set_target_size(QSize(160, 90))
    got: list[tuple[QImage, int]] = []
    dec.sig_frame.connect(lambda image, captured, seq: got.append((image, seq)))
    try:
        for seq in range(1, 61):
            dec.offer(jpeg(seq), time.time(), seq)
        qtbot.waitUntil(lambda: bool(got) and got[-1][1] == 60, timeout=30000)
        assert dec.decoded + dec.dropped == dec.received == 60
        assert [s for _, s in got] == sorted(s for _, s in got), "never an older picture after a newer one"
        image = got[-1][0]
        assert image.width() <= 160 and image.height() <= 90
    finally:
        dec.stop()


def test_decoder_survives_garbage(qtbot):
    dec = FrameDecoder()
    got: list[int] = []
    dec.sig_frame.connect(lambda image, captured, seq: got.append(seq))
    try:
        dec.offer(b"not a jpeg", time.time(), 1)
        qtbot.waitUntil(lambda: dec.errors == 1, timeout=30000)
        dec.offer(jpeg(2), time.time(), 2)
        qtbot.waitUntil(lambda: got == [2], timeout=30000)
    finally:
        dec.stop()


def test_a_decoders_sink_does_not_keep_the_decoder_alive(qtbot):
    """The session's loop holds a stream's sink after the GUI let its decoder go; the sink must
    not hold the decoder, or the decoder (a QObject with connections to widgets) is destroyed on
    the loop's thread, where its destructor deadlocked with the GUI thread (app/video/decoder.py)."""
    dec = FrameDecoder()
    got: list[int] = []
    dec.sig_frame.connect(lambda image, captured, seq: got.append(seq))
    jpeg_sink, frame_sink = dec.sink()
    jpeg_sink(jpeg(1), time.time(), 1)  # the sink feeds this decoder while it lives
    qtbot.waitUntil(lambda: got == [1], timeout=30000)
    dec.stop()
    gone = weakref.ref(dec)
    del dec
    gc.collect()
    assert gone() is None, "a sink kept the decoder alive"
    jpeg_sink(jpeg(2), time.time(), 2)  # late pictures after the decoder went: dropped, no error
    frame_sink(np.zeros((4, 4, 3), np.uint8), time.time(), 3)
