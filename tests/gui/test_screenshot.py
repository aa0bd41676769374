"""`vigie demo --screenshot DIR` renders the console offscreen and writes non-blank PNGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]


def test_demo_screenshot_writes_non_blank_pngs(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--screenshot", str(tmp_path), "--after", "8"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    pngs = sorted(tmp_path.glob("*.png"))
    assert pngs, res.stdout
    img = cv2.imread(str(pngs[0]))
    assert img.shape[0] >= 600 and img.shape[1] >= 1000
    assert img.std() > 15, "the console is drawn, not a flat image"
