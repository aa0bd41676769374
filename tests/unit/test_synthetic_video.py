"""The synthetic CCTV camera: frame format, content, sequence and render cost."""

from __future__ import annotations

import time

import numpy as np

from vigie.backend.adapters.simulator.video import SyntheticCamera


def test_frame_shape_dtype_and_content() -> None:
    cam = SyntheticCamera("cam-0001", "Caméra Rue de la Liberté — #1", 320, 180, 30)
    frame, captured, seq = cam.read()
    assert frame.shape == (180, 320, 3) and frame.dtype == np.uint8
    assert seq == 1 and abs(captured - time.time()) < 5
    assert frame.std() > 10  # a picture, not a flat fill
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 50


def test_odd_sizes_and_fps_defaults() -> None:
    cam = SyntheticCamera("cam-0002", "x", 333, 201, 0)
    assert cam.fps == 15
    assert cam.render(1_750_000_000.0).shape == (201, 333, 3)
    assert SyntheticCamera("cam-0002", "x", 64, 48, 120).fps == 30


def test_sequence_increments_and_pacing() -> None:
    cam = SyntheticCamera("cam-0003", "Test", 160, 90, 30)
    t0 = time.monotonic()
    seqs = [cam.read()[2] for _ in range(6)]
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert time.monotonic() - t0 >= 5 / 30 * 0.9


def test_deterministic_per_camera_and_moving() -> None:
    t = 1_750_000_000.0
    a = SyntheticCamera("cam-0004", "Test", 320, 180).render(t)
    b = SyntheticCamera("cam-0004", "Test", 320, 180).render(t)
    c = SyntheticCamera("cam-0005", "Test", 320, 180).render(t)
    later = SyntheticCamera("cam-0004", "Test", 320, 180).render(t + 2.0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, later)
