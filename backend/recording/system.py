"""Everything recording, built once by the backend: the index, the recorder, the city history,
exports, and the loop-side tasks (alarm protection, retention), with start and stop.

Recordings live under <data dir>/recordings (segments and recordings.sqlite3), the city history
in <data dir>/history.sqlite3, exports under <data dir>/exports. Without a data dir everything is
in a private temporary directory removed at stop (tests, demos).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from vigie.backend.adapters.base import DeviceNetwork
from vigie.backend.domain.alarms import AlarmEngine
from vigie.backend.domain.assets import Kind
from vigie.backend.domain.changelog import HistoryExpired
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.recording.export import Exporter
from vigie.backend.recording.history import CityHistory
from vigie.backend.recording.recorder import Recorder, RetentionPolicy
from vigie.backend.store.files import private_dir
from vigie.backend.store.history_sqlite import HistoryStore
from vigie.backend.store.recordings_sqlite import RecordingIndex

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 10.0
SUB_SIZE = (640, 360)


@dataclass(slots=True)
class RecordingConfig:
    mode: str = "off"  # default mode of a camera without settings of its own
    fps: float = 5.0  # pictures per second recorded from decoded sources (simulated cameras)
    segment_s: float = 10.0
    max_age_days: float = 7.0
    protected_days: float = 30.0
    quota_mb: float = 10240.0
    pre_s: float = 10.0
    post_s: float = 30.0
    history_days: float = 7.0
    snapshot_every_s: float = 300.0


class Recordings:
    def __init__(
        self,
        data_dir: str | None,
        network: DeviceNetwork,
        assets: AssetStore,
        alarms: AlarmEngine,
        config: RecordingConfig,
    ) -> None:
        self._temp = None if data_dir else tempfile.mkdtemp(prefix="vigie-rec-")
        base = data_dir or self._temp
        assert base is not None
        private_dir(base)
        self.root = f"{base}/recordings"
        self.config = config
        self.network = network
        self.assets = assets
        self.alarms = alarms
        self.index = RecordingIndex(self.root)
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="playback")
        self.recorder = Recorder(
            self.root,
            self.index,
            self.camera_ids,
            network.recording_url,
            lambda cid: network.open_video(cid, *SUB_SIZE, config.fps),
            default_mode=config.mode,
            policy=RetentionPolicy(
                config.max_age_days, config.protected_days, int(config.quota_mb * 1024 * 1024)
            ),
            segment_s=config.segment_s,
            pre_s=config.pre_s,
            post_s=config.post_s,
        )
        self.history = CityHistory(
            HistoryStore(base),
            assets,
            alarms,
            retention_days=config.history_days,
            snapshot_every_s=config.snapshot_every_s,
        )
        self.exporter = Exporter(self.index, self.root, f"{base}/exports")
        self._tasks: list[asyncio.Task[None]] = []
        self.play_streams: Counter[str] = Counter()  # open Play streams per user

    def camera_ids(self) -> list[str]:
        return [a.id for a in self.assets.assets() if a.kind is Kind.CAMERA]

    def is_camera(self, camera_id: str) -> bool:
        a = self.assets.get(camera_id)
        return a is not None and a.kind is Kind.CAMERA

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.pool, self.recorder.start)
        await self.history.start()
        self._tasks = [
            loop.create_task(self._protect_on_alarms(), name="recording-alarms"),
            loop.create_task(self._retention(), name="recording-retention"),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
            except Exception:  # it died earlier: say so, and stop the rest anyway
                log.exception("recording task %s had failed", t.get_name())
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.recorder.stop)
        await self.history.stop()
        self.exporter.pool.shutdown(wait=False, cancel_futures=True)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.index.close()
        if self._temp:
            shutil.rmtree(self._temp, ignore_errors=True)

    async def _protect_on_alarms(self) -> None:
        """Each new alarm protects its cameras' recordings around it (and starts the post-buffer)."""
        seq = self.alarms.sequence
        seen: set[str] = set()
        loop = asyncio.get_running_loop()
        while True:
            await self.alarms.wait_for_change(seq, 5.0)
            try:
                changes = self.alarms.changes_after(seq)
            except HistoryExpired:
                seq = self.alarms.sequence
                continue
            if changes:
                seq = changes[-1].sequence
            for a in changes:
                if a.id in seen:
                    continue
                seen.add(a.id)
                if len(seen) > 100_000:
                    seen.clear()
                cams = list(a.camera_ids)
                if a.asset_kind is Kind.CAMERA and a.asset_id not in cams:
                    cams.append(a.asset_id)
                if cams:
                    try:
                        await loop.run_in_executor(
                            self.pool,
                            self.recorder.on_alarm,
                            cams,
                            a.raised_at or time.time(),
                            f"alarm {a.id}",
                        )
                    except (
                        Exception
                    ):  # a full disk, a locked index: this alarm unprotected, not the next ones
                        log.exception("could not protect the recordings around alarm %s", a.id)

    async def _retention(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(RETENTION_EVERY_S)
            try:
                await loop.run_in_executor(self.pool, self.recorder.enforce)
            except Exception:
                log.exception("recording retention failed")
