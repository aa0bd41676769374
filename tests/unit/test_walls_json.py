"""walls.json on a real disk: private permissions, durable replacement, the previous copy, and a
loud fallback to it when the file is damaged."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from vigie.backend.domain.walls import CameraShot, WallRegistry
from vigie.backend.store import walls_json
from vigie.backend.store.walls_json import WallFile


def save(data_dir: Path, *states: list) -> None:
    """Write each state in turn, as the backend does after each change (one write at a time)."""

    async def run() -> None:
        f = WallFile(str(data_dir))
        for walls in states:
            f.save_soon(walls)
            assert f._task is not None
            await f._task
        await f.close()

    asyncio.run(run())


def registry_states() -> tuple[list, list]:
    reg = WallRegistry(configured={"wall-1": ("pc",)})
    reg.push("wall-1", CameraShot("cam-1"), "sup", "c", 1.0)
    first = reg.walls()
    reg.push("wall-1", CameraShot("cam-2"), "sup", "c", 2.0)
    return first, reg.walls()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_is_0600_in_a_0700_directory(tmp_path):
    first, _ = registry_states()
    fresh = tmp_path / "new" / "data"
    save(fresh, first)
    assert mode(fresh / "walls.json") == 0o600 and mode(fresh) == 0o700
    # A data directory another (older) process created 0755 is made private too.
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    save(loose, first)
    assert mode(loose / "walls.json") == 0o600 and mode(loose) == 0o700


def test_the_new_file_and_its_directory_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    """A power cut cannot be simulated here: record what the real os.fsync is called on (and
    whether walls.json already holds the new content at that point)."""
    first, second = registry_states()
    save(tmp_path, first)
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        renamed = "cam-2" in (tmp_path / "walls.json").read_text()
        synced.append((os.path.basename(target), renamed))
        real_fsync(fd)

    monkeypatch.setattr(walls_json.os, "fsync", spy)
    save(tmp_path, second)
    assert synced == [("walls.json.tmp", False), (tmp_path.name, True)]
    assert not (tmp_path / "walls.json.tmp").exists()


def test_the_previous_copy_is_kept(tmp_path):
    first, second = registry_states()
    save(tmp_path, first, second)
    current = json.loads((tmp_path / "walls.json").read_text())
    previous = json.loads((tmp_path / "walls.json.bak").read_text())
    assert current["walls"][0]["content"]["shot"]["camera_id"] == "cam-2"
    assert previous["walls"][0]["content"]["shot"]["camera_id"] == "cam-1"
    assert mode(tmp_path / "walls.json.bak") == 0o600


@pytest.mark.parametrize("damage", ["{not json", '{"walls": [{"name": "wall-1"}]}', "", "[]"])
def test_a_damaged_file_is_reported_loudly_and_the_previous_copy_read(tmp_path, caplog, damage):
    first, second = registry_states()
    save(tmp_path, first, second)
    (tmp_path / "walls.json").write_text(damage)
    with caplog.at_level(logging.ERROR, logger="vigie.backend.store.walls_json"):
        walls = WallFile(str(tmp_path)).load()
    assert [(w.name, w.content.shot, w.allowed) for w in walls] == [("wall-1", CameraShot("cam-1"), ("pc",))]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(str(tmp_path / "walls.json") in m and "cannot read" in m for m in errors), errors
    assert any(str(tmp_path / "walls.json.bak") in m for m in errors), "says where the walls came from"


def test_a_file_from_an_older_backend_loads_without_allowed_displays(tmp_path):
    old = {
        "walls": [
            {
                "name": "wall-1",
                "display": "pc\x1b[2J",
                "last_seen": 1.0,
                "content": {"shot": None, "pushed_by": "", "console": "", "pushed_at": 0.0, "version": 0},
            }
        ]
    }
    (tmp_path / "walls.json").write_text(json.dumps(old))
    (wall,) = WallRegistry(WallFile(str(tmp_path)).load()).walls()
    # Nobody may attach it until a supervisor names its displays; its old display name is cleaned.
    assert wall.allowed == () and wall.display == "pc[2J"
