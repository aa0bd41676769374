"""Saved mosaic views on disk: `<data dir>/views.json` (backend/domain/views.py).

Read once at start-up; each change is written before its RPC answers, off the event loop (one
writer thread, so writes keep their order): a temporary file 0600 in a 0700 directory, fsynced,
the current file kept as views.json.bak, the temporary renamed over views.json, the directory
fsynced. A crash leaves the old file or the new one; a file that cannot be read is logged as an
ERROR and the previous copy is read instead."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
from pathlib import Path
from typing import Any

from vigie.backend.domain.views import View, ViewBook
from vigie.backend.store.files import fsync_dir, open_private, private_dir

log = logging.getLogger(__name__)

FILE_NAME = "views.json"


def _view_json(v: View) -> dict[str, Any]:
    return {
        "name": v.name,
        "layout": v.layout,
        "camera_ids": list(v.camera_ids),
        "owner": v.owner,
        "updated_at": v.updated_at,
    }


def _view(d: dict[str, Any], shared: bool) -> View:
    return View(
        str(d["name"]),
        str(d["layout"]),
        tuple(str(c) for c in d["camera_ids"]),
        shared,
        str(d.get("owner", "")),
        float(d.get("updated_at", 0.0)),
    )


def book_to_json(book: ViewBook) -> str:
    return json.dumps(
        {
            "users": {u: [_view_json(v) for v in views.values()] for u, views in book.own.items() if views},
            "shared": [_view_json(v) for v in book.shared.values()],
        },
        indent=1,
        ensure_ascii=False,
    )


def book_from_json(text: str) -> ViewBook:
    d = json.loads(text)
    own = {u: {v["name"]: _view(v, False) for v in views} for u, views in d.get("users", {}).items()}
    shared = {v["name"]: _view(v, True) for v in d.get("shared", [])}
    return ViewBook(own, shared)


class ViewFile:
    """Loads and saves the views; with no data directory it does nothing (views live in memory)."""

    def __init__(self, data_dir: str | None) -> None:
        self.path = Path(data_dir) / FILE_NAME if data_dir else None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="views-file")

    @property
    def backup(self) -> Path | None:
        return self.path.with_name(self.path.name + ".bak") if self.path else None

    def load(self) -> ViewBook:
        if self.path is None:
            return ViewBook()
        for path in (self.path, self.backup):
            assert path is not None
            if not path.exists():
                continue
            try:
                return book_from_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("cannot read the views file %s: %s: %s", path, type(exc).__name__, exc)
        return ViewBook()

    async def save(self, book: ViewBook) -> None:
        """Write this state durably before returning (off the event loop)."""
        if self.path is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._write, book_to_json(book))

    def _write(self, text: str) -> None:
        assert self.path is not None and self.backup is not None
        private_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(text.encode("utf-8"))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.path.exists():
            self.backup.unlink(missing_ok=True)
            os.link(self.path, self.backup)  # a hard link: views.json itself is never missing
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
