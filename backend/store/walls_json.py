"""Walls on disk: `<data dir>/walls.json`, so a restarted backend still knows every wall and what
it showed (displays attach again by themselves).

Reading happens once at start-up. Writes never run on the event loop: the latest state is written
on a thread (to a temporary file, then renamed, so a crash leaves the old file or the new one), and
a burst of changes while a write is running ends in one more write of the newest state.
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

from backend.domain.walls import (
    AlarmShot,
    CameraShot,
    ClearShot,
    Content,
    MapShot,
    MosaicShot,
    Shot,
    Wall,
)

log = logging.getLogger(__name__)

FILE_NAME = "walls.json"
SHOT_KINDS: dict[str, type] = {
    "camera": CameraShot,
    "mosaic": MosaicShot,
    "map": MapShot,
    "alarm": AlarmShot,
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
        walls.append(Wall(w["name"], content=content, display=w["display"], last_seen=w["last_seen"]))
    return walls


class WallFile:
    """Loads and saves the walls; with no data directory it does nothing (walls live in memory)."""

    def __init__(self, data_dir: str | None) -> None:
        self.path = Path(data_dir) / FILE_NAME if data_dir else None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="walls-file")
        self._latest: list[Wall] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def load(self) -> list[Wall]:
        """The walls saved last time ([] when there is no file; a damaged file is logged and ignored)."""
        if self.path is None or not self.path.exists():
            return []
        try:
            return walls_from_json(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s: %s", self.path, exc)
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
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    async def close(self) -> None:
        """Finish the pending write, then stop the writer thread."""
        self._closed = True
        if self._task is not None:
            await self._task
        self._pool.shutdown(wait=True)
