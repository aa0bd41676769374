"""The console's own log file: a rotating file under the user log dir (5 files of 2 MiB), which
also receives native crash stacks (faulthandler), so a crash in Qt leaves its trace where Help >
Diagnostics says the log is."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
from pathlib import Path

MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 4
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_path: Path | None = None
_crash_file = None  # kept open for faulthandler, which writes to its descriptor


def log_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir("vigie", appauthor=False))


def install(level: str = "WARNING", directory: Path | None = None) -> Path:
    """Logs to the console's rotating file (besides standard error) and points faulthandler
    at the crash file beside it. Returns the log file's path."""
    global _path
    where = directory or log_dir()
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = where / "vigie.log"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, logging.getLevelName(level.upper())))
    _crash_to(path)
    _path = path
    return path


def _crash_to(path: Path) -> None:
    """Native crashes: faulthandler writes through a raw descriptor (no Python logging at that
    point), appended to the current log file so one place holds the story."""
    global _crash_file
    old, _crash_file = _crash_file, open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
    faulthandler.enable(file=_crash_file, all_threads=True)
    if old is not None:
        old.close()


class _Rotating(logging.handlers.RotatingFileHandler):
    """Rotates, then points faulthandler at the new file (its descriptor would follow the old)."""

    def doRollover(self) -> None:
        super().doRollover()
        _crash_to(Path(self.baseFilename))


def current() -> Path | None:
    """The log file in use (None: install() not called)."""
    return _path
