"""The console's glibc heap policy (app/malloc_policy.py): arenas capped, free pages returned.

Each case runs in a fresh interpreter: arenas are process-wide and only threads started after the
cap share them. glibc's `malloc_info` (XML, one <heap> per arena) is the count's source."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vigie.app import malloc_policy

pytestmark = pytest.mark.skipif(not malloc_policy.available(), reason="not glibc: the policy does not apply")

ARENA_PROGRAM = textwrap.dedent(
    """
    import ctypes, ctypes.util, os, sys, tempfile, threading
    from vigie.app import malloc_policy
    if sys.argv[1] == "policy":
        malloc_policy.install(every_s=3600)
    barrier = threading.Barrier(12)
    def work():
        barrier.wait()  # all at once: contention is what makes glibc open new arenas
        keep = [bytearray(4096) for _ in range(2000)]
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    path = os.path.join(tempfile.mkdtemp(), "info.xml")
    f = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    print(open(path).read().count("<heap nr="))
    """
)

TRIM_PROGRAM = textwrap.dedent(
    """
    import sys
    from vigie.app import malloc_policy
    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    blocks = [bytes(2048) for _ in range(100_000)]  # ~200 MB of glibc chunks (past pymalloc's 512 B)
    survivors = blocks[::200]  # a few kept all over the heap: it cannot shrink from its top
    del blocks
    before = rss_mb()
    trimmer = malloc_policy.Trimmer(every_s=0.05).start()
    import time
    deadline = time.monotonic() + 10
    while trimmer.trims == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    trimmer.stop()
    print(trimmer.trims, before, rss_mb(), len(survivors))
    """
)


def run(program: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_threads_share_at_most_two_arenas_under_the_policy():
    without = int(run(ARENA_PROGRAM, "none"))
    with_policy = int(run(ARENA_PROGRAM, "policy"))
    assert without > 2, f"12 contending threads opened only {without} arenas: the test shows nothing"
    assert with_policy <= 2


def test_the_trimmer_gives_free_heap_pages_back():
    trims, before, after, _ = run(TRIM_PROGRAM).split()
    assert int(trims) >= 1, "the trimmer never ran"
    assert float(before) > 150, f"the freed blocks were not resident ({before} MB): the test shows nothing"
    assert float(before) - float(after) > 100, f"RSS {before} -> {after} MB after a trim"
