"""`vigie-backend backup DEST` and `vigie-backend restore SRC` (docs/deployment.md, "Backups").

Backup runs beside a serving backend: each SQLite store is copied with SQLite's online backup API
(a consistent snapshot of that database, taken under a read transaction that never blocks the
backend's writers in WAL mode), checked with `PRAGMA integrity_check`; each JSON store is read,
parsed and written whole. Every file goes to a temporary name, is fsynced, then renamed, and
DEST gets a manifest (sizes and SHA-256) written last: a backup without one is incomplete.
Stores are snapshotted one after the other, so two stores may be a few milliseconds apart.

Restore checks the manifest, refuses a data dir in use by a backend (its lock is held) and a
data dir that already holds stores (unless --force, which moves them to `pre-restore-<time>/`),
then copies each file the same durable way. Files are 0600, directories 0700."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from vigie.backend.store.files import FILE_MODE, fsync_dir, private_dir

SQLITE_STORES = ("alarms.sqlite3", "audit.sqlite3", "users.sqlite3", "incidents.sqlite3", "modes.sqlite3")
JSON_STORES = ("walls.json",)
LOCKS = ("alarms.sqlite3.lock", "incidents.sqlite3.lock")  # held by a serving backend
MANIFEST = "vigie-backup.json"
FORMAT = 1


class BackupError(Exception):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _durable_rename(tmp: Path, final: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    _durable_rename(tmp, path)


def copy_sqlite(src: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API), integrity-checked."""
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)  # one step: the whole database under one read transaction
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        problem = target.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        target.close()
        source.close()
    if problem != "ok":
        raise BackupError(f"{src.name}: the copy fails its integrity check: {problem}")
    _durable_rename(tmp, dest)


def copy_json(src: Path, dest: Path) -> None:
    """A JSON store copied whole (the backend replaces it by rename: a read sees one version)."""
    data = src.read_bytes()
    try:
        json.loads(data)
    except ValueError as exc:
        raise BackupError(f"{src.name} is not valid JSON ({exc}): fix or remove it first") from None
    _write_bytes(dest, data)


def backup(data_dir: Path, dest: Path) -> dict:
    """Copies every store of `data_dir` into the new or empty directory `dest`; returns the manifest."""
    if not data_dir.is_dir():
        raise BackupError(f"no data dir at {data_dir}")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new directory")
    private_dir(dest)
    files: dict[str, dict] = {}
    for name in (*SQLITE_STORES, *JSON_STORES):
        src = data_dir / name
        if not src.exists():
            continue
        (copy_sqlite if name.endswith(".sqlite3") else copy_json)(src, dest / name)
        files[name] = {"bytes": (dest / name).stat().st_size, "sha256": _sha256(dest / name)}
    if "users.sqlite3" not in files:
        raise BackupError(f"{data_dir} holds no users.sqlite3: is it a Vigie data dir?")
    manifest = {"format": FORMAT, "taken_at": time.time(), "data_dir": str(data_dir), "files": files}
    _write_bytes(dest / MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def _in_use(data_dir: Path) -> bool:
    """Does a backend hold this data dir (its lock files are locked)?"""
    for name in LOCKS:
        path = data_dir / name
        if not path.exists():
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            return True
        finally:
            os.close(fd)
    return False


def restore(src: Path, data_dir: Path, force: bool = False) -> dict:
    """Restores the backup `src` into `data_dir` (stop the backend first). Returns the manifest."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} is not a complete Vigie backup ({MANIFEST}: {exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: backup format {manifest.get('format')!r}, this version reads {FORMAT}")
    for name, meta in manifest["files"].items():
        if name not in (*SQLITE_STORES, *JSON_STORES) or _sha256(src / name) != meta["sha256"]:
            raise BackupError(f"{src / name} does not match the backup's manifest: damaged or changed")
    if data_dir.exists() and _in_use(data_dir):
        raise BackupError(f"a backend is running on {data_dir}: stop it before restoring")
    private_dir(data_dir)
    present = [p for p in data_dir.iterdir() if p.name.split("-", 1)[0] in (*SQLITE_STORES, *JSON_STORES)]
    present += [
        p for p in data_dir.iterdir() if p.name.endswith((".sqlite3-wal", ".sqlite3-shm", ".json.bak"))
    ]
    if present and not force:
        raise BackupError(f"{data_dir} already holds stores: restore into a fresh data dir, or give --force")
    if present:
        aside = data_dir / time.strftime("pre-restore-%Y%m%dT%H%M%S")
        private_dir(aside)
        for p in set(present):
            os.replace(p, aside / p.name)
        fsync_dir(data_dir)
    for name in manifest["files"]:
        tmp = data_dir / (name + ".tmp")
        shutil.copyfile(src / name, tmp)
        _durable_rename(tmp, data_dir / name)
    return manifest


def default_data_dir() -> str:
    import platformdirs

    return os.environ.get("VIGIE_BACKEND_DATA_DIR") or platformdirs.user_data_dir("vigie")


def main(argv: list[str]) -> int:
    """`backup DEST [--data-dir DIR]` or `restore SRC [--data-dir DIR] [--force]`."""
    p = argparse.ArgumentParser(prog=f"vigie-backend {argv[0]}", description=__doc__.split("\n\n")[0])
    p.add_argument("path", metavar="DEST" if argv[0] == "backup" else "SRC")
    p.add_argument(
        "--data-dir",
        default=None,
        help="the backend's data dir (default: VIGIE_BACKEND_DATA_DIR, else the user data dir)",
    )
    if argv[0] == "restore":
        p.add_argument(
            "--force",
            action="store_true",
            help="move the data dir's current stores to pre-restore-<time>/ first",
        )
    args = p.parse_args(argv[1:])
    data_dir = Path(args.data_dir or default_data_dir())
    try:
        if argv[0] == "backup":
            m = backup(data_dir, Path(args.path))
            print(f"backed up {', '.join(m['files'])} from {data_dir} to {args.path}")
        else:
            m = restore(Path(args.path), data_dir, force=args.force)
            print(f"restored {', '.join(m['files'])} from {args.path} into {data_dir}")
    except (BackupError, OSError, sqlite3.Error) as exc:
        print(f"vigie-backend {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0
