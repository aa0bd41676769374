"""The soak probe's native figures (bench/soak_probe.py `native_memory`): glibc's count of the C
heap moves with what the process allocates and frees, so a soak can tell memory in use from memory
freed and kept."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest

from bench.soak_probe import native_memory

BLOCKS, SIZE = 20_000, 1024  # small blocks: from the heaps, not mmap-ed one by one


def test_native_memory_counts_blocks_while_in_use_and_not_once_freed() -> None:
    if not native_memory():
        pytest.skip("not glibc >= 2.33: mallinfo2 is not there, the probe reports no native figures")
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    mib = 1024 * 1024
    before = native_memory()
    blocks = [libc.malloc(SIZE) for _ in range(BLOCKS)]
    try:
        held = native_memory()
    finally:
        for b in blocks:
            libc.free(b)
    after = native_memory()
    grown = held["malloc_used_mb"] - before["malloc_used_mb"]
    assert BLOCKS * SIZE / mib <= grown <= BLOCKS * SIZE / mib + 3, (before, held)
    # Freed: no longer in use (the list of addresses itself stays, a fraction of a MiB).
    assert after["malloc_used_mb"] - before["malloc_used_mb"] < 1.5, (before, after)
