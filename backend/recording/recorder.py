"""The recorder: one thread per recorded camera writing segment files, the quota that is never
passed, and retention.

Modes (per camera, set by a supervisor, kept in the index): "continuous"; "on_alarm", which
writes segments all the time but keeps only those within [alarm - pre, alarm + post] of one of the
camera's alarms (the pre-buffer is the last `pre` seconds on disk, dropped as they age); "off".
An outage (the source closes, is silent, or cannot be opened) closes the current segment: what
follows is a gap, never a frozen picture. Before each picture is written the quota is checked:
closed segments are deleted, unprotected and oldest first, until the picture fits; when only
protected recordings are left the picture is not written (the evidence stays, a gap appears).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from vigie.backend.recording.capture import Item, Outage, PictureInput, StreamInput
from vigie.backend.recording.segments import SegmentWriter
from vigie.backend.store.files import private_dir
from vigie.backend.store.recordings_sqlite import CameraSettings, RecordingIndex, Segment

log = logging.getLogger(__name__)

MODES = ("continuous", "on_alarm", "off")
GAP_S = 1.0  # pictures further apart than this are two spans
BACKOFF_START_S = 0.5
BACKOFF_CAP_S = 10.0
PACKET_OVERHEAD = 64  # bytes Matroska adds around a packet, at most (block header, cues)
INDEX_EVERY_S = 1.0  # an open segment's end and size are written to the index this often


@dataclass(slots=True)
class RetentionPolicy:
    max_age_days: float = 7.0
    protected_age_days: float = 30.0
    quota_bytes: int = 10 * 1024**3


class Quota:
    """Bytes on disk (closed + open segments) against the quota; frees space before a write."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.lock = threading.Lock()
        self.used = 0

    def reserve(self, size: int) -> bool:
        """Make room for `size` more bytes: False when only protected or open recordings are left."""
        with self.lock:
            quota = self.recorder.policy.quota_bytes
            while self.used + size > quota:
                if not self.recorder.delete_oldest():
                    return False
            self.used += size
            return True

    def release(self, size: int) -> None:
        with self.lock:
            self.used = max(0, self.used - size)


class CameraThread:
    """Records one camera until stopped; reopens its source after an outage."""

    def __init__(self, recorder: Recorder, camera_id: str) -> None:
        self.recorder = recorder
        self.camera_id = camera_id
        self.stop_event = threading.Event()
        self.recording = False  # pictures are being written now
        self.writer: SegmentWriter | None = None
        self.seg_id = 0
        self._indexed_at = 0.0
        self._written = 0  # bytes reserved for the open segment
        self._last_t = 0.0
        self.thread = threading.Thread(target=self._run, name=f"record-{camera_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def _stopped(self) -> bool:
        return self.stop_event.is_set() or self.recorder.mode(self.camera_id) == "off"

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        while not self.stop_event.is_set():
            if self.recorder.mode(self.camera_id) == "off":
                self.stop_event.wait(0.5)
                continue
            source: StreamInput | PictureInput | None = None
            try:
                source = self.recorder.open_input(self.camera_id)
                for item in source.items(self._stopped):
                    self._write(item, source)
                    backoff = BACKOFF_START_S
            except Outage as exc:
                log.info("recording of %s: %s", self.camera_id, exc)
            except Exception:
                log.exception("recording of %s failed", self.camera_id)
            finally:
                self._close_segment()
                if source is not None:
                    source.close()
            self.stop_event.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_CAP_S)
        self._close_segment()

    def _write(self, item: Item, source: StreamInput | PictureInput) -> None:
        r = self.recorder
        w = self.writer
        if w is not None and (
            item.t - self._last_t > GAP_S or (item.key and item.t - w.start >= r.segment_s)
        ):
            self._close_segment()
            w = None
        if w is None:
            if not item.key:
                return
            w = self._open_segment(item, source)
        size = (item.packet.size if item.packet is not None else len(item.jpeg)) + PACKET_OVERHEAD
        if not r.quota.reserve(size):
            if self.recording:
                log.warning(
                    "recording of %s paused: the quota holds only protected recordings", self.camera_id
                )
            self._close_segment()
            return
        self._written += size
        if item.packet is not None:
            w.write_packet(item.t, item.packet)
        else:
            w.write_jpeg(item.t, item.jpeg)
        self._last_t = item.t
        self.recording = True
        if item.t - self._indexed_at >= INDEX_EVERY_S:
            self._indexed_at = item.t
            r.index.update_segment(self.seg_id, w.end, w.frames, self._written, closed=False)

    def _open_segment(self, item: Item, source: StreamInput | PictureInput) -> SegmentWriter:
        r = self.recorder
        day = time.strftime("%Y%m%d", time.gmtime(item.t))
        rel = os.path.join(self.camera_id, day, f"{int(item.t * 1000)}.mkv")
        path = os.path.join(r.root, rel)
        private_dir(os.path.dirname(path))
        if isinstance(source, StreamInput):
            w = SegmentWriter(path, item.t, template=source.stream)
        else:
            w = SegmentWriter(path, item.t, width=item.width, height=item.height)
        self.writer = w
        self._written = 0
        self._indexed_at = item.t
        self.seg_id = r.index.add_segment(self.camera_id, rel, w.codec, item.t)
        return w

    def _close_segment(self) -> None:
        w, self.writer = self.writer, None
        self.recording = False
        if w is None:
            return
        try:
            size = w.close()
        except Exception:
            log.exception("closing a segment of %s failed", self.camera_id)
            size = w.size()
        r = self.recorder
        extra = size - self._written  # the container's own bytes (headers, cues) beyond the packets
        if extra > 0:
            r.quota.reserve(extra)
        else:
            r.quota.release(-extra)
        if w.frames == 0:
            r.index.remove_segments([self.seg_id])
            r.quota.release(size)
            _unlink(w.path)
        else:
            r.index.update_segment(self.seg_id, w.end, w.frames, size, closed=True)
        self._written = 0


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class Recorder:
    """Every camera's recording. `open_picture_source(camera_id)` gives a VideoSource for
    cameras without a stream URL; `stream_url(camera_id)` the URL of those with one."""

    def __init__(
        self,
        root: str,
        index: RecordingIndex,
        cameras: Callable[[], list[str]],
        stream_url: Callable[[str], str | None],
        open_picture_source: Callable[[str], object],
        default_mode: str = "off",
        policy: RetentionPolicy | None = None,
        segment_s: float = 10.0,
        pre_s: float = 10.0,
        post_s: float = 30.0,
    ) -> None:
        if default_mode not in MODES:
            raise ValueError(f"unknown recording mode {default_mode!r}")
        private_dir(root)
        self.root = root
        self.index = index
        self.cameras = cameras
        self.stream_url = stream_url
        self.open_picture_source = open_picture_source
        self.default_mode = default_mode
        self.policy = policy or RetentionPolicy()
        self.segment_s = segment_s
        self.default_pre_s = pre_s
        self.default_post_s = post_s
        self.quota = Quota(self)
        self._settings = index.settings()
        self._threads: dict[str, CameraThread] = {}
        self._delete_lock = threading.Lock()
        self._alarm_windows: dict[str, list[tuple[float, float]]] = {}

    # --- settings ---------------------------------------------------------------------------------

    def settings(self, camera_id: str) -> CameraSettings:
        return self._settings.get(camera_id) or CameraSettings(
            camera_id, self.default_mode, self.default_pre_s, self.default_post_s
        )

    def mode(self, camera_id: str) -> str:
        return self.settings(camera_id).mode

    def set_settings(self, s: CameraSettings) -> None:
        self.index.save_settings(s)
        self._settings[s.camera_id] = s
        self._ensure_thread(s.camera_id)

    def is_recording(self, camera_id: str) -> bool:
        t = self._threads.get(camera_id)
        return t is not None and t.recording

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Close what a previous process left open, count the bytes, start the cameras."""
        for seg in self.index.close_open_segments():
            path = os.path.join(self.root, seg.path)
            if seg.frames == 0 or not os.path.exists(path):
                self.index.remove_segments([seg.id])
                _unlink(path)
            else:  # a killed process: keep what the index knew (the file may lack its last cues)
                self.index.update_segment(seg.id, seg.end, seg.frames, os.path.getsize(path), closed=True)
        self.quota.used = self.index.totals(time.time())[0]
        for camera_id in self.cameras():
            self._ensure_thread(camera_id)

    def stop(self, timeout: float = 5.0) -> None:
        for t in self._threads.values():
            t.stop()
        deadline = time.monotonic() + timeout
        for t in self._threads.values():
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def _ensure_thread(self, camera_id: str) -> None:
        if self.mode(camera_id) != "off" and camera_id not in self._threads:
            t = CameraThread(self, camera_id)
            self._threads[camera_id] = t
            t.start()

    def open_input(self, camera_id: str) -> StreamInput | PictureInput:
        url = self.stream_url(camera_id)
        if url:
            return StreamInput(url)
        source = self.open_picture_source(camera_id)
        if source is None:
            raise Outage("the camera has no video")
        return PictureInput(source, silence_s=GAP_S)  # type: ignore[arg-type]

    # --- alarms and protection --------------------------------------------------------------------

    def on_alarm(self, camera_ids: list[str], raised_at: float, reason: str) -> None:
        """An alarm covering these cameras: protect [raised - pre, raised + post] of each."""
        until = raised_at + self.policy.protected_age_days * 86400
        for cid in camera_ids:
            s = self.settings(cid)
            pre, post = max(s.pre_s, 1.0), max(s.post_s, 1.0)
            self.index.protect(cid, raised_at - pre, raised_at + post, until, reason)
            self._alarm_windows.setdefault(cid, []).append((raised_at - pre, raised_at + post))

    # --- retention --------------------------------------------------------------------------------

    def _delete(self, segs: list[Segment]) -> int:
        freed = 0
        for seg in segs:
            _unlink(os.path.join(self.root, seg.path))
            freed += seg.bytes
        self.index.remove_segments([s.id for s in segs])
        return freed

    def delete_oldest(self) -> bool:
        """Delete the oldest closed unprotected segment (called with the quota's lock held)."""
        now = time.time()
        with self._delete_lock:
            for seg in self.index.deletable(now, limit=1):
                if seg.protected:
                    return False
                self.quota.used = max(0, self.quota.used - self._delete([seg]))
                return True
        return False

    def enforce(self, now: float | None = None) -> int:
        """Age limits and on-alarm pruning (the quota is kept at each write). Returns deleted count."""
        now = time.time() if now is None else now
        p = self.policy
        self.index.drop_expired_protections(now)
        doomed = [
            s for s in self.index.older_than(None, now - p.max_age_days * 86400, now) if not s.protected
        ]
        doomed += [
            s for s in self.index.older_than(None, now - p.protected_age_days * 86400, now) if s.protected
        ]
        for camera_id in set(self.cameras()) | set(self._settings):
            s = self.settings(camera_id)
            if s.mode == "on_alarm":
                doomed += [
                    seg for seg in self.index.older_than(camera_id, now - s.pre_s, now) if not seg.protected
                ]
        unique = list({s.id: s for s in doomed}.values())
        if unique:
            with self.quota.lock, self._delete_lock:
                self.quota.used = max(0, self.quota.used - self._delete(unique))
        return len(unique)
