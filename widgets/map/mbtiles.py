"""Raster tiles from a local MBTiles file, served to the map page through `vigie-mbtiles://`.

For air-gapped consoles: the page asks for `vigie-mbtiles://tiles/{z}/{x}/{y}`; the tile is read
from SQLite in a worker thread (MBTiles rows are TMS: y is flipped) and the reply is made back on
the GUI thread. The scheme must be registered before the QApplication exists:
call `register_url_schemes()` first thing.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QObject, Signal
from PySide6.QtWebEngineCore import QWebEngineUrlRequestJob, QWebEngineUrlScheme, QWebEngineUrlSchemeHandler

SCHEME = b"vigie-mbtiles"
TILE_URL = "vigie-mbtiles://tiles/{z}/{x}/{y}"
MIME = {"png": b"image/png", "jpg": b"image/jpeg", "jpeg": b"image/jpeg", "webp": b"image/webp"}


def register_url_schemes() -> None:
    """Declare the scheme to QtWebEngine (before QApplication; calling twice is harmless)."""
    if QWebEngineUrlScheme.schemeByName(SCHEME).name() == SCHEME:
        return
    scheme = QWebEngineUrlScheme(SCHEME)
    scheme.setSyntax(QWebEngineUrlScheme.Syntax.Host)
    scheme.setFlags(
        QWebEngineUrlScheme.Flag.SecureScheme
        | QWebEngineUrlScheme.Flag.LocalScheme
        | QWebEngineUrlScheme.Flag.LocalAccessAllowed
        | QWebEngineUrlScheme.Flag.CorsEnabled
    )
    QWebEngineUrlScheme.registerScheme(scheme)


class MBTilesReader:
    """Reads tiles from one MBTiles file (thread-safe: one read-only connection per thread)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no MBTiles file at {self.path}")
        self._local = threading.local()
        meta = dict(self._db().execute("SELECT name, value FROM metadata").fetchall())
        self.metadata: dict[str, str] = meta
        self.mime = MIME.get(meta.get("format", "png").lower(), b"image/png")
        self.max_zoom = int(meta.get("maxzoom", 19))
        self.min_zoom = int(meta.get("minzoom", 0))

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        row = (
            self._db()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, (1 << z) - 1 - y),
            )
            .fetchone()
        )
        return bytes(row[0]) if row else None


def parse_tile_path(path: str) -> tuple[int, int, int] | None:
    """'/z/x/y' or '/z/x/y.png' -> (z, x, y), None when malformed."""
    parts = path.strip("/").split("/")
    if len(parts) != 3:
        return None
    try:
        z, x, y = int(parts[0]), int(parts[1]), int(parts[2].split(".")[0])
    except ValueError:
        return None
    if not (0 <= z <= 24 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        return None
    return z, x, y


class MBTilesSchemeHandler(QWebEngineUrlSchemeHandler):
    _sig_done = Signal(int, QByteArray)  # job key, tile bytes (empty: not found) — back on the GUI thread

    def __init__(self, reader: MBTilesReader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reader = reader  # set later by the owner; until then every tile is "not found"
        self.served = 0
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mbtiles")
        self._jobs: dict[int, QWebEngineUrlRequestJob] = {}
        self._next = 0
        self._sig_done.connect(self._finish)

    def requestStarted(self, job: QWebEngineUrlRequestJob) -> None:
        url = job.requestUrl()
        if self.reader is None:
            job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            return
        zxy = parse_tile_path(url.path()) if url.host() == "tiles" else None
        if zxy is None:
            job.fail(QWebEngineUrlRequestJob.Error.UrlInvalid)
            return
        self._next += 1
        key = self._next
        self._jobs[key] = job
        job.destroyed.connect(lambda *_: self._jobs.pop(key, None))  # the engine may drop it first
        self._pool.submit(self._read, key, *zxy)

    def _read(self, key: int, z: int, x: int, y: int) -> None:
        assert self.reader is not None
        try:
            data = self.reader.tile(z, x, y) or b""
        except Exception:  # a broken file must not leave the page's request unanswered
            data = b""
        self._sig_done.emit(key, QByteArray(data))

    def _finish(self, key: int, data: QByteArray) -> None:
        job = self._jobs.pop(key, None)
        if job is None:
            return
        if data.isEmpty():
            job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            return
        buf = QBuffer(job)  # lives as long as the job
        buf.setData(data)
        self.served += 1
        job.reply(self.reader.mime if self.reader else b"image/png", buf)
