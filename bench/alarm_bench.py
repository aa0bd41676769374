"""Alarm benchmark: time from an alarm raised in the backend (its raised_at) to its row in a
console's live list, at a steady rate and during a flood of 1,000 alarms in 10 s. Prints p50/p99
and how many raised alarms never reached the list. Exits non-zero when one never reached the
console, or when nothing could be measured."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.common import (  # noqa: E402
    check_alive,
    demo_session,
    end_session,
    open_channel,
    require,
    run_main,
    spin,
    wait_for,
)
from vigie.app.backend_process import BackendProcess  # noqa: E402
from vigie.app.controllers.alarms import AlarmController  # noqa: E402
from vigie.v1 import alarms_pb2, alarms_pb2_grpc  # noqa: E402


def raised_since(address: str, since: float) -> list[alarms_pb2.Alarm]:
    """Every alarm raised after `since` (the journal, all pages)."""
    from google.protobuf.timestamp_pb2 import Timestamp

    start = Timestamp()
    start.FromNanoseconds(int(since * 1e9))
    out, token = [], ""
    with open_channel(address) as ch:
        stub = alarms_pb2_grpc.AlarmServiceStub(ch)
        while True:
            resp = stub.ListAlarms(
                alarms_pb2.ListAlarmsRequest(start=start, page_size=5000, page_token=token), timeout=30
            )
            out.extend(resp.alarms)
            token = resp.next_page_token
            if not token:
                return out


def run(rate: float, seconds: float) -> dict[str, float]:
    data = tempfile.mkdtemp(prefix="vigie-bench-")
    backend = BackendProcess(
        ["--demo-users", "--alarm-rate", str(rate), "--data-dir", data, "--log-level", "WARNING"]
    )
    backend.start()
    session = demo_session(backend.address)
    ctl = AlarmController(session, operator="bench")
    ctl.panel.resize(1400, 600)
    ctl.panel.show()
    session.start()
    try:
        wait_for(60, lambda: ctl.store.sequence > 0, "the alarm snapshot")
        start = time.time()
        spin(seconds)
        end = time.time()
        spin(5.0)  # let the tail arrive (the backend goes on raising: those are not counted)
        check_alive(backend)
        alarms = [
            a
            for a in raised_since(backend.address, start)
            if a.occurrences <= 1 and a.raised_at.seconds + a.raised_at.nanos * 1e-9 <= end
        ]
        listed = ctl.active.first_listed
        lat = []
        missing = 0
        for a in alarms:
            raised = a.raised_at.seconds + a.raised_at.nanos * 1e-9
            t = listed.get(a.id)
            if t is None:
                # Shelved or suppressed at once, or raised and closed between two updates: it
                # still reached the console if the console's sequence passed it.
                if ctl.store.sequence < a.sequence:
                    missing += 1
                continue
            lat.append(t - raised)
        lat.sort()
        require(lat, f"no alarm raised at {rate}/s reached the list ({len(alarms)} raised)")
        return {
            "raised": len(alarms),
            "p50": 1000 * lat[len(lat) // 2] if lat else 0.0,
            "p99": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else 0.0,
            "missing": missing,
        }
    finally:
        end_session(session)
        backend.stop()


def main() -> int:
    app = QApplication([])  # noqa: F841

    def body() -> None:
        print("alarms: raised in the backend -> row in the console's live list (ms)")
        lost = 0
        for label, rate, seconds in (("steady 2/s", 2.0, 20.0), ("flood 100/s", 100.0, 10.0)):
            r = run(rate, seconds)
            lost += r["missing"]
            print(
                f"  {label:>12}: {r['raised']:>5} raised   p50 {r['p50']:6.0f}   p99 {r['p99']:6.0f}   "
                f"never reached the console: {r['missing']}",
                flush=True,
            )
        require(lost == 0, f"{lost} alarms never reached the console")

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
