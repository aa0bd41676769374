"""`vigie demo --screenshot DIR` renders the console offscreen and writes one non-blank PNG per screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2

from vigie.app.cli import offscreen_config, parse_args

ROOT = Path(__file__).resolve().parents[2]


def demo_screenshot(out: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vigie.app", "demo", "--screenshot", str(out), "--after", "8", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_demo_screenshot_writes_non_blank_pngs(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = demo_screenshot(tmp_path, env)
    assert res.returncode == 0, res.stderr[-3000:]
    pngs = sorted(tmp_path.glob("*.png"))
    assert [p.name for p in pngs] == ["vigie-1.png"], res.stdout
    img = cv2.imread(str(pngs[0]))
    assert img.shape[:2] == (1080, 1920)
    assert img.std() > 15, "the console is drawn, not a flat image"


def test_three_screens_of_the_users_own_configuration_give_three_pictures(tmp_path):
    """QT_QPA_PLATFORM=offscreen:configfile=... is the user's choice: kept, one PNG per screen."""
    config = tmp_path / "desk.json"
    config.write_text(json.dumps(offscreen_config(3)))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}")
    out = tmp_path / "shots"
    res = demo_screenshot(out, env)
    assert res.returncode == 0, res.stderr[-3000:]
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == ["vigie-1.png", "vigie-2.png", "vigie-3.png"], res.stdout
    images = [cv2.imread(str(p)) for p in pngs]
    for img in images:
        assert img.shape[:2] == (1080, 1920)
        assert img.std() > 15, "every screen shows a console window, none is empty"
    # The map screen is not a mosaic screen: the three pictures differ.
    assert all(cv2.absdiff(a, b).mean() > 5 for a, b in [(images[0], images[1]), (images[1], images[2])])


def test_screens_option_makes_side_by_side_full_hd_screens():
    config = offscreen_config(3)
    assert [(s["x"], s["width"], s["height"]) for s in config["screens"]] == [
        (0, 1920, 1080),
        (1920, 1920, 1080),
        (3840, 1920, 1080),
    ]
    assert len({s["name"] for s in config["screens"]}) == 3
    assert parse_args(["demo", "--screenshot", "d", "--screens", "3"]).screens == 3
