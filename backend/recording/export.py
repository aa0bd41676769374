"""Evidence export: one Matroska file per camera with the recorded packets of a time range (never
re-encoded), and manifest.json naming the cameras, the range, who exported and why, and the
SHA-256 of each file. Written under <data dir>/exports/<export id>/ (0700, files 0600, fsync-ed);
`vigie verify-export DIR` (app/verify_export.py) checks it after a download.

Jobs run one at a time on a worker thread; their progress is published to waiting watchers on
the asyncio loop. Jobs are kept in memory (an export's folder stays on disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from vigie.backend.recording.segments import SegmentWriter, copy_packets
from vigie.backend.store.files import FILE_MODE, fsync_dir, private_dir
from vigie.backend.store.recordings_sqlite import RecordingIndex

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "vigie-export/1"
MAX_JOBS = 200  # finished jobs remembered


@dataclass(frozen=True, slots=True)
class ExportedFile:
    camera_id: str
    name: str
    size: int
    sha256: str
    start: float
    end: float
    frames: int


@dataclass(frozen=True, slots=True)
class ExportJob:
    export_id: str
    camera_ids: tuple[str, ...]
    start: float
    end: float
    reason: str
    requested_by: str
    created: float
    state: str = "running"  # "running", "done", "failed"
    progress: float = 0.0
    files: tuple[ExportedFile, ...] = ()
    error: str = ""
    manifest_sha256: str = ""
    version: int = 0


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def write_durably(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class Exporter:
    def __init__(self, index: RecordingIndex, recordings_root: str, exports_root: str) -> None:
        self.index = index
        self.recordings_root = recordings_root
        self.root = exports_root
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="export")
        self.jobs: dict[str, ExportJob] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_finished: Callable[[ExportJob], None] | None = None  # on the loop, once per job

    def folder(self, export_id: str) -> str:
        return os.path.join(self.root, export_id)

    def start(
        self, camera_ids: list[str], start: float, end: float, reason: str, user: str, key: str
    ) -> ExportJob:
        """Start a job (on the loop); the same idempotency key of the same user gives the same job."""
        if key and (user, key) in self._by_key:
            return self.jobs[self._by_key[(user, key)]]
        self._loop = asyncio.get_running_loop()
        job = ExportJob(uuid.uuid4().hex[:16], tuple(camera_ids), start, end, reason, user, time.time())
        self.jobs[job.export_id] = job
        self._changed[job.export_id] = asyncio.Event()
        if key:
            self._by_key[(user, key)] = job.export_id
        self._forget_old()
        self._loop.run_in_executor(self.pool, self._run, job)
        return job

    def _forget_old(self) -> None:
        done = [j for j in self.jobs.values() if j.state != "running"]
        for j in sorted(done, key=lambda j: j.created)[: max(0, len(self.jobs) - MAX_JOBS)]:
            self.jobs.pop(j.export_id, None)
            self._changed.pop(j.export_id, None)

    async def wait_change(self, export_id: str, version: int, timeout: float) -> ExportJob | None:
        """The job once its version passed `version` (or as it is after `timeout`)."""
        job = self.jobs.get(export_id)
        if job is None or job.version > version:
            return job
        ev = self._changed.get(export_id)
        if ev is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await ev.wait()
        return self.jobs.get(export_id)

    def _publish(self, job: ExportJob) -> None:
        def apply() -> None:
            self.jobs[job.export_id] = job
            ev = self._changed.get(job.export_id)
            if ev is not None:
                ev.set()
                self._changed[job.export_id] = asyncio.Event()
            if job.state != "running" and self.on_finished is not None:
                self.on_finished(job)

        assert self._loop is not None
        self._loop.call_soon_threadsafe(apply)

    def _run(self, job: ExportJob) -> None:
        version = 0
        try:
            folder = self.folder(job.export_id)
            private_dir(folder)
            files: list[ExportedFile] = []
            n = len(job.camera_ids)
            for i, camera_id in enumerate(job.camera_ids):
                f = self._export_camera(folder, camera_id, job.start, job.end)
                if f is not None:
                    files.append(f)
                version += 1
                self._publish(replace(job, progress=(i + 1) / (n + 1), files=tuple(files), version=version))
            manifest = {
                "format": MANIFEST_FORMAT,
                "export_id": job.export_id,
                "created": _iso(job.created),
                "requested_by": job.requested_by,
                "reason": job.reason,
                "range": {
                    "start": _iso(job.start),
                    "end": _iso(job.end),
                    "start_unix": job.start,
                    "end_unix": job.end,
                },
                "cameras": list(job.camera_ids),
                "files": [
                    {
                        "camera_id": f.camera_id,
                        "name": f.name,
                        "size": f.size,
                        "sha256": f.sha256,
                        "start": _iso(f.start),
                        "end": _iso(f.end),
                        "frames": f.frames,
                    }
                    for f in files
                ],
            }
            data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
            write_durably(os.path.join(folder, MANIFEST), data)
            fsync_dir(folder)
            done = replace(
                job,
                state="done",
                progress=1.0,
                files=tuple(files),
                manifest_sha256=hashlib.sha256(data).hexdigest(),
                version=version + 1,
            )
            self._publish(done)
        except Exception as exc:
            log.exception("export %s failed", job.export_id)
            self._publish(
                replace(job, state="failed", error=f"{type(exc).__name__}: {exc}"[:300], version=version + 1)
            )

    def _export_camera(self, folder: str, camera_id: str, start: float, end: float) -> ExportedFile | None:
        segments = self.index.segments(camera_id, start, end, time.time())
        name = f"{camera_id}.mkv"
        path = os.path.join(folder, name)
        holder: list[SegmentWriter] = []

        def writer_for(stream: Any, t: float) -> SegmentWriter:
            if not holder:
                holder.append(SegmentWriter(path, t, template=stream))
            return holder[0]

        for seg in segments:
            copy_packets(os.path.join(self.recordings_root, seg.path), seg.start, start, end, writer_for)
        if not holder:
            return None
        w = holder[0]
        size = w.close()
        return ExportedFile(camera_id, name, size, sha256_of(path), w.start, w.end, w.frames)
