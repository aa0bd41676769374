"""Owner-only files and directories for everything the backend keeps on disk.

Alarms, the audit trail and the users' password hashes are not for every local account: files are
0600 and directories 0700 whatever the process umask (created with that mode, then chmod-ed, since
the umask masks the mode given to open/mkdir), and existing ones are brought back to these modes at
startup. A new file's directory entry is fsync-ed so the file survives a power cut."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
# SQLite's companions of a database file: they hold the same data, so the same mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: str | os.PathLike[str]) -> None:
    """Create `path` and its missing parents with mode 0700, or make an existing `path` 0700."""
    target = Path(path)
    missing: list[Path] = []
    p = target
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, DIR_MODE)
        os.chmod(d, DIR_MODE)
        fsync_dir(d.parent)
    if target.stat().st_mode & stat.S_ISVTX:  # /tmp and the like: shared on purpose, never narrowed
        log.warning("%s is a shared (sticky) directory: use a directory of its own as --data-dir", target)
        return
    try:
        os.chmod(target, DIR_MODE)
    except PermissionError:  # a directory someone else owns: use it, but say so
        log.warning("cannot make %s private (mode 0700): not its owner", target)


def private_file(path: str | os.PathLike[str]) -> None:
    """Create `path` with mode 0600 (before SQLite opens it), or make an existing one (and its
    SQLite -wal, -shm and -journal files) 0600."""
    created = not os.path.exists(path)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    os.chmod(path, FILE_MODE)
    for suffix in SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{os.fspath(path)}{suffix}", FILE_MODE)
    if created:
        fsync_dir(Path(path).parent)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """`os.open(path, flags | O_CREAT)` with mode 0600 whatever the umask (a lock file, ...)."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the entries of directory `path` (a new file's name) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def claim_db(data_dir: str | None, file_name: str, what: str) -> tuple[str, int | None]:
    """The path of `<data_dir>/<file_name>` (0600 before SQLite opens it, so its -wal and -shm copy
    the mode) and the held lock's descriptor, to close at the end; ":memory:" and None with no
    directory, or when another backend holds the file's lock (logged: `what` are kept in memory
    only), rather than two backends mixing their sequences in one file."""
    if not data_dir:
        return ":memory:", None
    private_dir(data_dir)
    fd = open_private(os.path.join(data_dir, file_name + ".lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        log.warning("%s is used by another backend: %s are kept in memory only", data_dir, what)
        return ":memory:", None
    path = os.path.join(data_dir, file_name)
    private_file(path)
    return path, fd
