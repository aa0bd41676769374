"""Mode files: the provided modes load; a bad file is refused with every problem at once, each
naming the file, the mode and the step; --modes DIR adds modes and refuses a clashing id."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from vigie.backend.domain.actions import Action
from vigie.backend.domain.modes import PROVIDED_DIR, ModeFileError, load_modes

BAD = """
[mode]
id = "bad_mode"
name = "Bad"
color = "red"

[[step]]
name = "one"
action = "LIGHT_SPARKLE"
select = { kinds = ["street_light"] }

[[step]]
name = "two"
action = "LIGHT_DIM"
params = { level_percent = 300 }
select = { kinds = ["bollard"], colour = "blue" }

[[step]]
name = "three"
action = "BADGE_DEACTIVATE"
params = { badge_id = "B-1" }
select = { kinds = ["access_point"] }
"""

GOOD = """
[mode]
id = "night_watch"
name = "Night watch"

[[step]]
name = "lights-up"
action = "LIGHT_ON"
select = { districts = ["Centre-Ville"] }
suppresses = ["device_offline"]
"""


def write(text: str, name: str = "m.toml") -> Path:
    d = Path(tempfile.mkdtemp(prefix="vigie-modefiles-"))
    (d / name).write_text(text, encoding="utf-8")
    return d


def test_provided_modes_load():
    modes = {m.id: m for m in load_modes()}
    assert set(modes) == {"health_emergency", "flood", "major_event"}
    he = modes["health_emergency"]
    assert [s.action for s in he.steps] == [
        Action.ACCESS_LOCK,
        Action.SIGNAL_BUS_PRIORITY_ON,
        Action.LIGHT_DIM,
    ]
    assert "Gymnase" in he.steps[0].selection.building_types
    assert "access_refused" in he.steps[0].suppresses
    assert he.wall_steps == ("close-buildings",)


def test_a_bad_file_names_the_file_the_mode_and_the_step_of_every_problem():
    d = write(BAD)
    with pytest.raises(ModeFileError) as err:
        load_modes(d)
    problems = err.value.problems
    f = str(d / "m.toml")
    assert all(p.startswith(f"{f}: mode 'bad_mode'") for p in problems), problems
    text = "\n".join(problems)
    assert "key 'color'" in text
    assert "step #1 'one': key 'action': unknown action 'LIGHT_SPARKLE'" in text
    assert "step #2 'two': key 'params': level_percent must be 1..100" in text
    assert "step #2 'two': key 'select': unknown key 'colour'" in text
    assert "step #3 'three': key 'revert': BADGE_DEACTIVATE cannot be reverted" in text
    assert len(problems) == 5, problems


def test_extra_modes_are_added_and_ids_must_be_unique():
    d = write(GOOD)
    modes = {m.id: m for m in load_modes(d)}
    assert modes["night_watch"].source == str(d / "m.toml")
    assert modes["health_emergency"].source == "provided"
    clash = write(GOOD.replace("night_watch", "flood"))
    with pytest.raises(ModeFileError) as err:
        load_modes(clash)
    assert err.value.problems == [
        f"{clash / 'm.toml'}: mode 'flood': id already used by {PROVIDED_DIR / 'flood.toml'}"
    ]


def test_backend_refuses_to_start_with_a_bad_mode_file():
    d = write(BAD)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigie.backend",
            "--modes",
            str(d),
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            tempfile.mkdtemp(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "invalid city mode files" in proc.stderr and "step #1 'one'" in proc.stderr
