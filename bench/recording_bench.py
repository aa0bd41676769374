"""Recording benchmark on a real backend process (simulated city, demo users):

1. Cost of recording simulated cameras' substreams (640x360 JPEG, --record-fps): a supervisor
   turns recording on for N cameras; the backend's CPU (the whole process, from /proc) over a
   window, minus the same window before, and the bytes the recordings grew by; per camera-hour,
   and what every simulated camera (269) would take. The simulated cameras' own drawing is part
   of the cost (a real camera draws its own pictures: then only the RTSP remux remains).
2. Seek latency: one Play stream, `--seeks` seeks to random recorded times; time from the seek
   to its first picture; p50/p95/max (goal: p95 < 500 ms, the bench fails past it).
3. Synced playback: 4 Play streams on one clock at 1x; every 50 ms, the picture each tile shows
   (the latest arrived); drift = spread of those 4 capture times, and each tile's lateness
   against the shared clock; p50/p95/max.

    .venv/bin/python bench/recording_bench.py [--cameras 8] [--fps 5] [--seconds 60] [--seeks 40]
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchError, process_cpu_seconds, require, run_main
from vigie.app.backend_process import BackendProcess
from vigie.v1 import auth_pb2, auth_pb2_grpc, playback_pb2, playback_pb2_grpc, video_pb2, video_pb2_grpc

RS = playback_pb2.RecordingSettings
SIMULATED_CAMERAS = 269
SEEK_GOAL_S = 0.5


def ts(t: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(t * 1e9))
    return out


def secs(t: Timestamp) -> float:
    return t.ToNanoseconds() / 1e9


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.mkv"))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


class Stream:
    """One Play stream; responses stamped on arrival by a reader thread."""

    def __init__(
        self, channel: grpc.Channel, token: str, camera: str, start: float, speed: float, origin: float | None
    ):
        self.controls: queue.Queue = queue.Queue()
        fields = {"clock_origin": ts(origin)} if origin else {}
        self.controls.put(
            playback_pb2.PlayControl(
                control_id=1,
                open=playback_pb2.PlayOpen(camera_id=camera, start=ts(start), speed=speed, **fields),
            )
        )
        self.out: queue.Queue = queue.Queue()
        self.call = playback_pb2_grpc.PlaybackServiceStub(channel).Play(
            iter(self.controls.get, None), metadata=[("authorization", f"Bearer {token}")], timeout=600
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for r in self.call:
                self.out.put((time.time(), r))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.out.put((time.time(), exc))

    def next(self, timeout: float = 30.0):
        t, r = self.out.get(timeout=timeout)
        if isinstance(r, Exception):
            raise BenchError(f"Play failed: {r}")
        return t, r

    def close(self) -> None:
        self.controls.put(None)
        self.call.cancel()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seeks", type=int, default=40)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="vigie-recording-bench-"))
    backend = BackendProcess(
        [
            "--demo-users",
            "--data-dir",
            str(data),
            "--record",
            "off",
            "--record-fps",
            str(args.fps),
            "--log-level",
            "WARNING",
        ]
    )
    backend.start()
    try:
        raw = grpc.insecure_channel(backend.address)
        token = (
            auth_pb2_grpc.AuthServiceStub(raw)
            .Login(
                auth_pb2.LoginRequest(user="supervisor", password="supervisor", console="bench"),
                timeout=60,
                wait_for_ready=True,
            )
            .token
        )
        md = [("authorization", f"Bearer {token}")]
        cams = [
            c.id
            for c in video_pb2_grpc.VideoServiceStub(raw)
            .ListCameras(video_pb2.ListCamerasRequest(), metadata=md, timeout=30)
            .cameras
        ]
        require(len(cams) >= args.cameras, f"{args.cameras} cameras")
        chosen = cams[: args.cameras]
        pid = backend.proc.pid
        rec = playback_pb2_grpc.RecordingServiceStub(raw)

        # 1. cost: a quiet window, then the same window recording.
        cpu0, w0 = process_cpu_seconds(pid), time.monotonic()
        time.sleep(args.seconds / 2)  # a measurement window (the bench measures, nothing to wait for)
        idle = (process_cpu_seconds(pid) - cpu0) / (time.monotonic() - w0)
        for c in chosen:
            rec.SetRecordingSettings(
                playback_pb2.SetRecordingSettingsRequest(
                    settings=RS(camera_id=c, mode=RS.CONTINUOUS), reason="bench"
                ),
                metadata=md,
                timeout=30,
            )
        time.sleep(5)  # warm-up: every camera's first segment open
        b0, cpu1, w1 = dir_bytes(data / "recordings"), process_cpu_seconds(pid), time.monotonic()
        time.sleep(args.seconds)  # the measured window
        wall = time.monotonic() - w1
        busy = (process_cpu_seconds(pid) - cpu1) / wall
        grown = dir_bytes(data / "recordings") - b0
        per_cam_cpu = (busy - idle) / args.cameras  # cores per camera
        per_cam_hour_mb = grown / args.cameras / wall * 3600 / 1e6
        print(f"recording {args.cameras} simulated cameras at {args.fps:g} fps (640x360 JPEG), {wall:.0f} s:")
        print(f"  backend CPU idle {idle * 100:.1f} % of a core, recording {busy * 100:.1f} %")
        print(
            f"  per camera: {per_cam_cpu * 100:.2f} % of a core = {per_cam_cpu * 3600:.0f} CPU-s per camera-hour;"
            f" disk {per_cam_hour_mb:.0f} MB per camera-hour"
        )
        print(
            f"  all {SIMULATED_CAMERAS} simulated cameras: {per_cam_cpu * SIMULATED_CAMERAS:.1f} cores,"
            f" {per_cam_hour_mb * SIMULATED_CAMERAS / 1000:.1f} GB per hour"
            f" ({os.cpu_count()} cores here)"
        )

        # 2. seek latency on one recorded camera.
        t_rec = time.time()
        lo = t_rec - args.seconds
        s = Stream(raw, token, chosen[0], lo, 1.0, None)
        latencies = []
        rng = random.Random(1)
        for i in range(args.seeks):
            target = rng.uniform(lo + 1, t_rec - 2)
            cid = i + 2
            sent = time.time()
            s.controls.put(
                playback_pb2.PlayControl(control_id=cid, seek=playback_pb2.PlaySeek(time=ts(target)))
            )
            while True:
                t, r = s.next()
                if r.control_id == cid and r.WhichOneof("event") == "frame":
                    latencies.append(t - sent)
                    break
        s.close()
        p95 = pct(latencies, 95)
        print(
            f"seek latency ({len(latencies)} seeks): p50 {pct(latencies, 50) * 1000:.0f} ms,"
            f" p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms (goal p95 < 500 ms)"
        )

        # 3. four streams on one clock.
        start = lo + 2
        origin = time.time() + 0.5
        streams = [Stream(raw, token, c, start, 1.0, origin) for c in chosen[:4]]
        shown: list[list[tuple[float, float]]] = [[] for _ in streams]

        def collect(i: int) -> None:
            end = origin + 12
            while time.time() < end:
                t, r = streams[i].next()
                if r.WhichOneof("event") == "frame":
                    shown[i].append((t, secs(r.frame.capture_time)))

        threads = [threading.Thread(target=collect, args=(i,)) for i in range(len(streams))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        for st in streams:
            st.close()
        # Each picture's error against the shared clock: when it arrived minus when the clock
        # reached its capture time. The drift between tiles: at each instant, the spread of the
        # four tiles' latest errors (the pictures shown are from one moment when it is small).
        errors = [[(t, t - (origin + (c - start))) for t, c in frames] for frames in shown]
        flat = [e for tile in errors for _, e in tile if _ >= origin + 1.0]
        drifts = []
        for k in np.arange(origin + 1.0, origin + 11.5, 0.05):
            latest = [[e for t, e in tile if t <= k] for tile in errors]
            if all(latest):
                now = [x[-1] for x in latest]
                drifts.append(max(now) - min(now))
        frame_s = 1 / args.fps
        require(drifts and flat, "pictures from all four streams")
        print(
            f"4 streams on one clock: each picture vs the clock p50 {pct(flat, 50) * 1000:.1f} ms,"
            f" p95 {pct(flat, 95) * 1000:.1f} ms, max {max(flat) * 1000:.1f} ms; drift between tiles"
            f" ({len(drifts)} instants) p50 {pct(drifts, 50) * 1000:.1f} ms, p95 {pct(drifts, 95) * 1000:.1f} ms,"
            f" max {max(drifts) * 1000:.1f} ms (one frame = {frame_s * 1000:.0f} ms)"
        )
        if p95 >= SEEK_GOAL_S:
            raise BenchError(f"seek latency p95 {p95 * 1000:.0f} ms >= 500 ms")
        if pct(drifts, 95) > frame_s:
            raise BenchError(f"synced drift p95 {pct(drifts, 95) * 1000:.0f} ms > one frame")
    finally:
        backend.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_main(main))
