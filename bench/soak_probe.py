"""The in-process sampler of the soak harness, for the console and the backend: Python objects by
type (gc) and, when asked, tracemalloc's top growers since the warm-up. It appends one JSON line per
sample to the file named by $VIGIE_SOAK_STATS; bench/soak.py reads them.

Environment: VIGIE_SOAK_STATS (the file; nothing runs without it), VIGIE_SOAK_INTERVAL (seconds,
default 10), VIGIE_SOAK_WARMUP (seconds before the tracemalloc baseline, default 60),
VIGIE_SOAK_TRACEMALLOC=1 (off by default: it costs memory and CPU in the measured process; a snapshot
of the console's traces took 7-19 s on this machine, holding the GIL, so its GUI stalls meanwhile:
snapshots are taken every VIGIE_SOAK_TRACE_EVERY samples, 6 by default)."""

from __future__ import annotations

import ctypes
import ctypes.util
import faulthandler
import gc
import json
import os
import signal
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable

MIN_COUNT = 20  # types with fewer live objects are left out of a sample (they are not the leak)


def type_counts() -> Counter[str]:
    """Live objects tracked by the collector, by module.qualname of their type. Objects frozen by
    gc.freeze() (app/gc_policy.py) are not listed by gc.get_objects(); their count is apart."""
    counts: Counter[str] = Counter()
    for o in gc.get_objects():
        t = type(o)
        counts[f"{t.__module__}.{t.__qualname__}"] += 1
    return counts


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"
        )
    ]  # fmt: skip


def _mallinfo2() -> Callable[[], _MallInfo2] | None:
    name = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(name).mallinfo2 if name else None
    except (OSError, AttributeError):  # not glibc, or glibc before 2.33
        return None
    if fn is not None:
        fn.restype = _MallInfo2
        fn.argtypes = []
    return fn


_MALLINFO2 = _mallinfo2()


def native_memory() -> dict[str, float]:
    """What the C heap holds, by glibc's own count (every arena): bytes in use (`malloc_used_mb`,
    blocks of the heaps and those mmap-ed alone), free but kept on glibc's lists (`malloc_free_mb`;
    it includes pages a trim already gave back, which are no longer resident), and Python's own
    allocator's live blocks. Set against the RSS by kind (`smaps_split`), they say whether native
    growth is memory in use (a leak to find with heaptrack) or memory freed and kept. {} where
    glibc does not say."""
    if _MALLINFO2 is None:
        return {}
    m = _MALLINFO2()
    mb = 1024 * 1024
    return {
        "malloc_used_mb": round((m.uordblks + m.hblkhd) / mb, 2),
        "malloc_free_mb": round(m.fordblks / mb, 2),
        "malloc_mmap_mb": round(m.hblkhd / mb, 2),
        "py_blocks": sys.getallocatedblocks(),
    }


class Probe:
    """Samples every `interval` s on its own thread; `extra()` adds figures (the console's QObject
    counts, taken on its GUI thread and left here by it)."""

    def __init__(self, path: str, extra: Callable[[], dict] | None = None) -> None:
        self.path = path
        self.interval = float(os.environ.get("VIGIE_SOAK_INTERVAL", "10"))
        self.warmup = float(os.environ.get("VIGIE_SOAK_WARMUP", "60"))
        self.trace = os.environ.get("VIGIE_SOAK_TRACEMALLOC") == "1"
        self.trace_every = max(1, int(os.environ.get("VIGIE_SOAK_TRACE_EVERY", "6")))
        self.samples = 0
        self.extra = extra
        self.started = time.monotonic()
        self.baseline: tracemalloc.Snapshot | None = None
        self._stop = threading.Event()
        if self.trace:
            tracemalloc.start(1)

    def start(self) -> None:
        threading.Thread(target=self._run, name="soak-probe", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> dict:
        t0 = time.monotonic()
        self.samples += 1
        counts = type_counts()
        rec: dict = {
            "t": time.time(),
            "pid": os.getpid(),
            "gc_objects": sum(counts.values()),
            "gc_frozen": gc.get_freeze_count(),
            "threads_py": threading.active_count(),
            # Full collections so far, automatic or called (app/gc_policy.py runs them on a timer).
            "gc_full_collections": gc.get_stats()[2]["collections"],
            "types": {k: v for k, v in counts.items() if v >= MIN_COUNT},
        }
        rec.update(native_memory())
        if self.trace:
            rec.update(self._trace())
        if self.extra is not None:
            rec.update(self.extra())
        rec["probe_ms"] = round((time.monotonic() - t0) * 1000, 1)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        return rec

    def _trace(self) -> dict:
        current, _peak = tracemalloc.get_traced_memory()
        out: dict = {"tracemalloc_bytes": current}
        if time.monotonic() - self.started < self.warmup or (
            self.samples % self.trace_every and self.baseline
        ):
            return out
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
        )
        if self.baseline is None:
            self.baseline = snap
            return out
        stats = snap.compare_to(self.baseline, "lineno")
        out["tm_growers"] = [
            [f"{s.traceback[0].filename}:{s.traceback[0].lineno}", s.size_diff, s.count_diff]
            for s in stats[:12]
            if s.size_diff > 0
        ]
        return out


def install() -> Probe | None:
    # A process that does not stop gets SIGUSR1 first (bench/soak.py): every thread's stack to stderr.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    path = os.environ.get("VIGIE_SOAK_STATS")
    if not path:
        return None
    probe = Probe(path)
    probe.start()
    return probe
