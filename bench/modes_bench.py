"""City modes benchmark on a real backend process (demo users, quiet city, default city size:
5,000 street lights): whole-city Health emergency, from Activate to every device fully confirmed
(or failed), then Return to normal; devices and commands per second, with the seeded default
share of device failures (3 %) and without (--no-failures).

Prints figures, not pass/fail."""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import open_channel
from vigie.app.backend_process import BackendProcess
from vigie.v1 import assets_pb2, modes_pb2, modes_pb2_grpc

R = modes_pb2.ModeRun


def until_done(stream, run_id: str, busy: int) -> tuple[float, modes_pb2.ModeRun, int]:
    """Seconds until the run leaves `busy`, its final state, and the progress messages seen
    (`stream` is opened before the call it follows)."""
    t0 = time.perf_counter()
    seen = 0
    for msg in stream:
        for run in [c.run for c in msg.changes.changes] + list(msg.snapshot.runs):
            if run.run_id == run_id:
                seen += 1
                if run.state != busy:
                    return time.perf_counter() - t0, run, seen
    raise RuntimeError("stream ended")


def main() -> int:
    failures = "0" if "--no-failures" in sys.argv else "0.03"
    backend = BackendProcess(
        [
            "--demo-users",
            "--quiet-city",
            "--badge-rate",
            "0",
            "--command-failure-rate",
            failures,
            "--data-dir",
            tempfile.mkdtemp(prefix="vigie-modes-bench-"),
            "--log-level",
            "WARNING",
        ]
    )
    backend.start()
    try:
        ch = open_channel(backend.address, "supervisor")
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        scope = modes_pb2.ModeScope(whole_city=True)
        t0 = time.perf_counter()
        preview = stub.Preview(modes_pb2.PreviewRequest(mode_id="health_emergency", scope=scope), timeout=60)
        t_preview = time.perf_counter() - t0
        stream = stub.WatchModes(modes_pb2.WatchModesRequest(), timeout=300)
        t0 = time.perf_counter()
        run = stub.Activate(
            modes_pb2.ActivateRequest(
                idempotency_key=uuid.uuid4().hex,
                mode_id="health_emergency",
                scope=scope,
                reason="bench",
                confirmed=True,
            ),
            timeout=60,
        ).run
        t_answer = time.perf_counter() - t0
        took, done, updates = until_done(stream, run.run_id, R.ACTIVATING)
        took += t_answer
        sent = done.total - (sum(c.unchanged for c in preview.counts))
        commands = -(-sent // 500)
        print(f"Health emergency, whole city ({failures} seeded device failures), loopback:")
        print(
            f"  preview: {preview.total_changes} changes, {len(preview.refusals)} refusals in {t_preview * 1000:.0f} ms"
        )
        by_kind = ", ".join(
            f"{c.changes} {assets_pb2.Asset.Kind.Name(c.kind).lower()}" for c in preview.counts
        )
        print(f"  per kind: {by_kind}")
        print(f"  Activate answer: {t_answer * 1000:.0f} ms")
        print(
            f"  fully confirmed in {took:.1f} s: {done.confirmed} confirmed, {done.failed} failed, {done.refused} refused"
            f" -> {R.State.Name(done.state)}; {sent / took:.0f} devices/s in {commands} commands"
            f" ({commands / took:.1f} commands/s, {updates} progress updates streamed)"
        )
        t0 = time.perf_counter()
        stub.ReturnToNormal(
            modes_pb2.ReturnToNormalRequest(
                idempotency_key=uuid.uuid4().hex, run_id=run.run_id, reason="bench", confirmed=True
            ),
            timeout=60,
        )
        _, back, _ = until_done(stream, run.run_id, R.RETURNING)
        stream.cancel()
        took = time.perf_counter() - t0
        print(
            f"  return to normal in {took:.1f} s: {back.confirmed} back, {back.failed} failed -> {R.State.Name(back.state)}"
        )
    finally:
        backend.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
