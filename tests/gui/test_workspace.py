"""Workspaces on desks of 1, 2 and 3 screens, each in its own process (tests/gui/workspace_probe.py) on
Qt's offscreen platform configured with that many screens, against a real backend: what is proposed,
save then restore at the next start (also on monitors with other names), screens removed then added
at run time, presentation mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigie.app.workspace.files import node_from_json
from vigie.app.workspace.model import panel_ids

ROOT = Path(__file__).resolve().parents[2]
W, H = 1920, 1080


def desk(tmp_path: Path, *names: str, file: str = "screens.json") -> Path:
    """An offscreen configuration: full-HD screens side by side, left to right."""
    path = tmp_path / file
    screens = [{"name": n, "x": W * i, "y": 0, "width": W, "height": H} for i, n in enumerate(names)]
    path.write_text(json.dumps({"windowFrameMargins": False, "screens": screens}))
    return path


# Each test runs the console in a subprocess (up to 240 s each): the suite's 120 s default is too short
# for a loaded machine.
pytestmark = pytest.mark.timeout(600)


def probe(backend, screens: Path, config: Path, *steps: str) -> list[dict]:
    """Run the console through `steps`; the dumps it printed, in order."""
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screens}", XDG_CONFIG_HOME=str(config))
    res = subprocess.run(
        [sys.executable, "-m", "tests.gui.workspace_probe", "--backend", backend.address, *steps],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return [json.loads(line[6:]) for line in res.stdout.splitlines() if line.startswith("PROBE ")]


def windows(dump: dict) -> dict[str, dict]:
    return dump["describe"]["windows"]


def differences(a: object, b: object, at: str = "") -> list[str]:
    """Where two dumps differ, as paths with both values: the message a failed comparison of
    whole dumps gives under `pytest -q`, where pytest's own diff is cut short."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d for k in sorted(set(a) | set(b), key=str) for d in differences(a.get(k), b.get(k), f"{at}/{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{at}[{i}]")]
    return [] if a == b else [f"{at or '/'}: {a!r} != {b!r}"]


def docks(window: dict) -> list[str]:
    return panel_ids(node_from_json(window["docks"]))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "config"


def test_laptop_gets_one_window_with_every_panel(backend, tmp_path, config):
    (dump,) = probe(backend, desk(tmp_path, "A"), config, "start", "dump")
    wins = windows(dump)
    assert list(wins) == ["console-left"]
    win = wins["console-left"]
    assert win["screen"] == "A" and win["primary"] and win["visible"] and win["state"] == "maximized"
    assert win["geometry"] == [0, 0, W, H]
    assert sorted(docks(win)) == [
        "alarm-video",
        "alarms",
        "assets",
        "detail",
        "incident",
        "incidents",
        "map",
        "mosaic-1",
    ]
    tree = win["docks"]
    assert tree["split"] == "horizontal" and [i.get("tabs", i.get("split")) for i in tree["items"]][0] == [
        "assets"
    ]
    assert sum(tree["sizes"]) == pytest.approx(1, abs=0.01) and tree["sizes"][0] == pytest.approx(
        0.26, abs=0.02
    )


def test_two_screens_get_map_and_alarms_on_one_and_a_mosaic_on_the_other(backend, tmp_path, config):
    (dump,) = probe(backend, desk(tmp_path, "DP-1", "HDMI-1"), config, "start", "dump")
    wins = windows(dump)
    assert dump["describe"]["roles"] == {"console-left": "DP-1", "console-right": "HDMI-1"}
    left, right = wins["console-left"], wins["console-right"]
    assert left["screen"] == "DP-1" and left["geometry"] == [0, 0, W, H] and left["primary"]
    assert {"map", "alarms"} <= set(docks(left)) and "mosaic-1" not in docks(left)
    assert right["screen"] == "HDMI-1" and right["geometry"] == [W, 0, W, H] and not right["primary"]
    assert docks(right) == ["mosaic-1"]
    assert dump["workspace"]["panels"]["mosaic-1"]["state"]["layout"] == "3x3"


def test_three_screens_then_one_unplugged_and_plugged_back(backend, tmp_path, config):
    three = desk(tmp_path, "A", "B", "C")
    without_b = desk(tmp_path, "A", "C", file="no-b.json")
    data = json.loads(without_b.read_text())  # C stays where it was, right of the gap
    data["screens"][1]["x"] = 2 * W
    without_b.write_text(json.dumps(data))
    smaller_c = tmp_path / "smaller-c.json"
    data = json.loads(three.read_text())
    data["screens"][2].update(width=1280, height=720)
    smaller_c.write_text(json.dumps(data))
    start, unplugged, back, resized = probe(
        backend,
        three,
        config,
        "start",
        "dump",
        f"screens:{without_b}",
        "dump",
        f"screens:{three}",
        "dump",
        f"screens:{smaller_c}",
        "dump",
    )
    wins = windows(start)
    assert [(r, w["screen"], w["geometry"]) for r, w in wins.items()] == [
        ("console-left", "A", [0, 0, W, H]),
        ("console-right", "B", [W, 0, W, H]),
        ("screen-3", "C", [2 * W, 0, W, H]),
    ]
    assert docks(wins["screen-3"]) == ["mosaic-2"] and docks(wins["console-right"]) == ["mosaic-1"]
    # B is gone: its window folds into console-left's: its panels become tabs there, never a
    # second window over the first (which hid the alarm list); the console says so. C stays.
    wins = windows(unplugged)
    assert not wins["console-right"]["visible"], "no window over console-left"
    assert "mosaic-1" in docks(wins["console-left"]), "the panels travel as tabs"
    assert {"map", "alarms"} <= set(docks(wins["console-left"])), "and the alarm list stays"
    assert unplugged["describe"]["folded"] == {
        "console-right": {"host": "console-left", "panels": ["mosaic-1"]}
    }
    assert wins["console-left"]["geometry"] == [0, 0, W, H]
    assert wins["screen-3"]["geometry"] == [2 * W, 0, W, H]

    def saved(dump: dict) -> list:  # each window's panels as the workspace saves them (not sizes)
        return [(w["role"], docks(w)) for w in dump["workspace"]["windows"]]

    assert saved(unplugged) == saved(start), "saved at home while folded"
    # B is back: the window goes home, as it was.
    wins = windows(back)
    assert wins["console-right"]["screen"] == "B" and wins["console-right"]["geometry"] == [W, 0, W, H]
    assert wins["console-right"]["state"] == "maximized" and not wins["console-right"]["displaced"]
    assert back["workspace"]["windows"] == start["workspace"]["windows"]
    assert back["workspace"]["screens"] == start["workspace"]["screens"]
    # C now runs at a lower resolution: its window fits it.
    assert windows(resized)["screen-3"]["geometry"] == [2 * W, 0, 1280, 720]


def test_save_then_restore_at_next_start_and_on_other_monitors(backend, tmp_path, config):
    screens = desk(tmp_path, "A", "B")
    (saved,) = probe(
        backend,
        screens,
        config,
        "start",
        "mosaic:mosaic-1:1+5",
        f"float:detail:{W + 300},100,700,500",
        "map:47.33,5.03,15",
        "save:Night desk",
        "dump",
        "shutdown",
    )
    assert (config / "vigie" / "workspaces" / "night-desk.json").is_file()
    assert (config / "vigie" / "last-workspace.json").is_file()
    floating = windows(saved)["console-left"]["floating"]
    assert [(f["screen"], f["geometry"], f["docks"]["tabs"]) for f in floating] == [
        ("B", [W + 300, 100, 700, 500], ["detail"])
    ]
    ws = saved["workspace"]
    assert ws["panels"]["mosaic-1"]["state"]["layout"] == "1+5" and all(
        ws["panels"]["mosaic-1"]["state"]["cameras"]
    )
    assert ws["panels"]["map"]["state"]["view"]["zoom"] == 15

    # The next start: the same arrangement, screen by screen, and the same panel contents.
    (restored,) = probe(backend, screens, config, "start", "dump")
    assert restored["describe"]["workspace"] == "Night desk"
    assert windows(restored) == windows(saved), differences(windows(saved), windows(restored))
    assert restored["workspace"]["windows"] == ws["windows"], differences(
        ws["windows"], restored["workspace"]["windows"]
    )
    assert restored["workspace"]["panels"] == ws["panels"], differences(
        ws["panels"], restored["workspace"]["panels"]
    )

    # Another desk whose monitors have other names: roles still apply, left to right.
    other = desk(tmp_path, "eDP-1", "DP-3", file="other.json")
    (elsewhere,) = probe(backend, other, config, "start:Laptop demo", "open:Night desk", "dump")
    wins = windows(elsewhere)
    assert wins["console-left"]["screen"] == "eDP-1" and wins["console-right"]["screen"] == "DP-3"
    assert [(f["screen"], f["geometry"]) for f in wins["console-left"]["floating"]] == [
        ("DP-3", [W + 300, 100, 700, 500])
    ]
    assert docks(wins["console-left"]) == docks(windows(saved)["console-left"])


def test_presentation_mode_and_a_presentation_whose_screen_goes_away(backend, tmp_path, config):
    three = desk(tmp_path, "A", "B", "C")
    two = desk(tmp_path, "A", "B", file="two.json")
    sup, map_shown, gone, back, off = probe(
        backend,
        three,
        config,
        "start:Supervisor 3 screens",
        "dump",
        "present:console-right:map",
        "dump",
        f"screens:{two}",
        "dump",
        f"screens:{three}",
        "dump",
        "present:screen-3:off",
        "present:console-right:off",
        "dump",
    )
    d = sup["describe"]
    assert list(d["windows"]) == ["console-left", "console-right"]
    assert docks(d["windows"]["console-right"]) == ["map", "mosaic-1", "incidents", "units"]
    shown = d["presentations"]["screen-3"]
    assert shown == {
        "screen": "C",
        "geometry": [2 * W, 0, W, H],
        "visible": True,
        "state": "fullscreen",
        "content": "mosaic",
    }
    # The map presented on console-right's screen: its console window steps aside.
    d = map_shown["describe"]
    shown = d["presentations"]["console-right"]
    assert shown["content"] == "map" and shown["screen"] == "B"
    assert not d["windows"]["console-right"]["visible"]
    assert map_shown["workspace"]["screens"][1]["presentation"]["content"] == "map"
    # A presentation never folds over someone's console: it waits for its screen, then comes back.
    d = gone["describe"]
    assert not d["presentations"]["screen-3"]["visible"] and d["presentations"]["console-right"]["visible"]
    assert (
        back["describe"]["presentations"]["screen-3"]["visible"]
        and back["describe"]["presentations"]["screen-3"]["screen"] == "C"
    )
    d = off["describe"]
    assert d["presentations"] == {} and d["windows"]["console-right"]["visible"]
    assert d["windows"]["console-right"]["geometry"] == [W, 0, W, H]
