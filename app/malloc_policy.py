"""glibc heap policy for the console process: few arenas, and free pages handed back.

The console runs ~50 threads (gRPC, asyncio, one decoder per mosaic tile, Qt's pools). glibc gives
threads that allocate at the same time their own arenas, up to 8 per core, and memory freed in an
arena stays in that arena: over a shift the heap fragments across arenas and the resident size
creeps up although Python's own objects are flat (the soak, docs/soak.md). Two standard remedies:
- `M_ARENA_MAX` (what the `MALLOC_ARENA_MAX` variable sets) caps the arenas; set first thing in
  `main`, before any thread allocates, so every later thread shares them;
- `malloc_trim(0)` returns the free pages inside the heaps to the system (glibc >= 2.8 releases the
  middle of a heap too, not only its top). It runs in a thread of its own every few minutes: the
  call holds only glibc's arena locks (ctypes releases the GIL), never the GUI.

On a C library other than glibc (musl, macOS) both are skipped: `available()` says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2
TRIM_EVERY_S = 300.0


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not all(hasattr(libc, fn) for fn in ("mallopt", "malloc_trim", "gnu_get_libc_version")):
        return None  # not glibc
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


_LIBC = _libc()


def available() -> bool:
    """True on glibc, where the policy applies."""
    return _LIBC is not None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas for the threads started after this call; True if it took effect."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


def trim() -> bool:
    """Hand the heaps' free pages back to the system now; True if some memory was released."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))


class Trimmer:
    """Calls `trim()` every `every_s` seconds in a daemon thread until `stop()`."""

    def __init__(self, every_s: float = TRIM_EVERY_S) -> None:
        self.every_s = every_s
        self.trims = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)

    def start(self) -> Trimmer:
        if available():
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            trim()
            self.trims += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def install(every_s: float = TRIM_EVERY_S) -> Trimmer:
    """The console's policy: call first thing in `main`, before other threads start."""
    if not limit_arenas():
        log.info("not glibc: the heap policy (arena cap, periodic trim) does not apply")
    return Trimmer(every_s).start()
