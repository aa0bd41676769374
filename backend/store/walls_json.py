"""Walls on disk: `<data dir>/walls.json`, so a restarted backend still knows every wall and what
it showed (displays attach again by themselves).

Reading happens once at start-up. Writes never run on the event loop: the latest state is written
on a thread, and a burst of changes while a write is running ends in one more write of the newest
state. Each write is durable: a temporary file (0600, in a 0700 directory) is written and fsynced,
the current file becomes `walls.json.bak`, the temporary file is renamed over `walls.json`, and the
directory is fsynced, so a crash or a power cut leaves the old file or the new one, never a torn
one. A file that cannot be read is logged as an ERROR (path and reason) and the previous copy is
read instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from vigie.backend.domain.walls import (
    AlarmShot,
    CameraShot,
    ClearShot,
    Content,
    IncidentShot,
    MapShot,
    MosaicShot,
    RouteShot,
    Shot,
    Wall,
)

log = logging.getLogger(__name__)

FILE_NAME = "walls.json"
BACKUP_SUFFIX = ".bak"  # the previous copy: walls.json.bak
SHOT_KINDS: dict[str, type] = {
    "camera": CameraShot,
    "mosaic": MosaicShot,
    "map": MapShot,
    "alarm": AlarmShot,
    "incident": IncidentShot,
    "clear": ClearShot,
}
KIND_OF = {cls: kind for kind, cls in SHOT_KINDS.items()}


def shot_to_json(shot: Shot | None) -> dict[str, Any] | None:
    if shot is None:
        return None
    return {"kind": KIND_OF[type(shot)], **dataclasses.asdict(shot)}


def shot_from_json(d: dict[str, Any] | None) -> Shot | None:
    if d is None:
        return None
    d = dict(d)
    cls = SHOT_KINDS[d.pop("kind")]
    for key in ("camera_ids", "layers"):  # tuples in memory, lists in JSON
        if key in d:
            d[key] = tuple(d[key])
    if "routes" in d:
        d["routes"] = tuple(
            RouteShot(r["unit_id"], r["callsign"], tuple((a, b) for a, b in r["points"]), r["eta_at"])
            for r in d["routes"]
        )
    return cls(**d)


def walls_to_json(walls: list[Wall]) -> str:
    out = []
    for w in walls:
        c = w.content
        out.append(
            {
                "name": w.name,
                "display": w.display,
                "last_seen": w.last_seen,
                "allowed": list(w.allowed),
                "content": {
                    "shot": shot_to_json(c.shot),
                    "pushed_by": c.pushed_by,
                    "console": c.console,
                    "pushed_at": c.pushed_at,
                    "version": c.version,
                },
            }
        )
    return json.dumps({"walls": out}, indent=1, ensure_ascii=False)


def walls_from_json(text: str) -> list[Wall]:
    walls = []
    for w in json.loads(text)["walls"]:
        c = w["content"]
        content = Content(
            shot_from_json(c["shot"]), c["pushed_by"], c["console"], c["pushed_at"], c["version"]
        )
        allowed = tuple(str(a) for a in w.get("allowed", ()))  # absent in files of older backends
        walls.append(
            Wall(w["name"], content=content, display=w["display"], last_seen=w["last_seen"], allowed=allowed)
        )
    return walls


class WallFile:
    """Loads and saves the walls; with no data directory it does nothing (walls live in memory)."""

    def __init__(self, data_dir: str | None) -> None:
        self.path = Path(data_dir) / FILE_NAME if data_dir else None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="walls-file")
        self._latest: list[Wall] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def backup(self) -> Path | None:
        return self.path.with_name(self.path.name + BACKUP_SUFFIX) if self.path else None

    def load(self) -> list[Wall]:
        """The walls saved last time: walls.json, else its previous copy when it cannot be read
        (logged as an ERROR with the path and the reason); [] when there is neither."""
        if self.path is None:
            return []
        for path in (self.path, self.backup):
            assert path is not None
            if not path.exists():
                continue
            try:
                walls = walls_from_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.error("cannot read the walls file %s: %s: %s", path, type(exc).__name__, exc)
                continue
            if path != self.path:
                log.error("walls read from the previous copy %s", path)
            return walls
        return []

    def save_soon(self, walls: list[Wall]) -> None:
        """Called on the event loop after each change: write this state soon, off the loop."""
        if self.path is None or self._closed:
            return
        self._latest = walls
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="walls-file")

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._latest is not None:
            walls, self._latest = self._latest, None
            try:
                await loop.run_in_executor(self._pool, self._write, walls_to_json(walls))
            except OSError:
                log.exception("cannot write %s (the next change retries)", self.path)

    def _write(self, text: str) -> None:
        """Durably replace the file, keeping the current one as walls.json.bak (see the module)."""
        assert self.path is not None and self.backup is not None
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory.stat().st_mode & 0o077:  # created by an older backend, or with a loose umask
            directory.chmod(0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a leftover temporary file may have other permissions
            view = memoryview(text.encode("utf-8"))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.path.exists():
            # The previous copy: a hard link, so walls.json itself is never missing.
            self.backup.unlink(missing_ok=True)
            os.link(self.path, self.backup)
        os.replace(tmp, self.path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def close(self) -> None:
        """Finish the pending write, then stop the writer thread."""
        self._closed = True
        if self._task is not None:
            await self._task
        self._pool.shutdown(wait=True)
