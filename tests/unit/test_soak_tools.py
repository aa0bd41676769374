"""The soak harness's pure parts (bench/soak_tools.py): the slope fit, the walk of a real process
tree through /proc, the naming of QtWebEngine's helpers, and the CSV of a run."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak_tools import (
    ProcStats,
    label,
    life_means,
    linear_fit,
    read_csv,
    roles,
    slope_after,
    smaps_split,
    top_growers,
    tree_stats,
    write_csv,
)


def test_linear_fit_recovers_a_known_line() -> None:
    ts = [0.0, 10.0, 20.0, 30.0, 40.0]
    fit = linear_fit(ts, [5.0 + 2.0 * t for t in ts])
    assert fit is not None
    assert fit.slope == pytest.approx(2.0)
    assert fit.intercept == pytest.approx(5.0)
    assert fit.n == 5


def test_linear_fit_of_symmetric_noise_is_the_trend() -> None:
    # Noise +1, -1, -1, +1 around y = 3 - 0.5 t is orthogonal to (t - mean t) = -1.5, -0.5, 0.5,
    # 1.5, so the least-squares slope is the trend's, -0.5, and the intercept 3 + mean noise = 3.
    ts = [0.0, 1.0, 2.0, 3.0]
    ys = [3.0 + 1, 2.5 - 1, 2.0 - 1, 1.5 + 1]
    fit = linear_fit(ts, ys)
    assert fit is not None
    assert fit.slope == pytest.approx(-0.5)
    assert fit.intercept == pytest.approx(3.0)
    assert linear_fit([0.0, 1.0], [1.0, 2.0]) is None  # too few points
    assert linear_fit([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) is None  # no spread in time


def test_the_slope_s_standard_error_grows_with_the_scatter() -> None:
    ts = [0.0, 1.0, 2.0, 3.0]
    assert linear_fit(ts, [1.0, 2.0, 3.0, 4.0]).se == pytest.approx(0.0)  # type: ignore[union-attr]
    # Residuals +1, -1, -1, +1 (above): s^2 = 4 / (4 - 2) = 2, sum (t - mean t)^2 = 5, se = sqrt(2/5).
    fit = linear_fit(ts, [3.0 + 1, 2.5 - 1, 2.0 - 1, 1.5 + 1])
    assert fit is not None and fit.se == pytest.approx((2 / 5) ** 0.5)


def test_life_means_average_each_life_after_it_settles() -> None:
    # Two lives of a restarted process, each starting small and filling up within 20 s.
    rows: list[dict[str, float | str]] = [
        {"t": 0.0, "life": 0, "rss": 50.0},  # the run's warm-up
        {"t": 10.0, "life": 0, "rss": 90.0},
        {"t": 40.0, "life": 0, "rss": 100.0},
        {"t": 50.0, "life": 0, "rss": 102.0},
        {"t": 60.0, "life": 1, "rss": 20.0},  # restarted: settling
        {"t": 70.0, "life": 1, "rss": 80.0},
        {"t": 80.0, "life": 1, "rss": 110.0},
        {"t": 90.0},  # no backend in this sample
        {"t": 100.0, "life": 1, "rss": 112.0},
    ]
    assert life_means(rows, "rss", "life", warmup_s=30.0, settle_s=20.0) == [
        (45.0, 101.0, 2),
        (90.0, 111.0, 2),
    ]


def test_slope_after_leaves_out_the_warm_up_and_missing_figures() -> None:
    rows: list[dict[str, float | str]] = [
        {"t": 0.0, "rss": 500.0},  # warm-up: a steep start that must not count
        {"t": 10.0, "rss": 900.0},
        {"t": 20.0, "rss": 100.0},
        {"t": 30.0},  # the process was restarting: no figure
        {"t": 40.0, "rss": 104.0},
        {"t": 60.0, "rss": 108.0},
    ]
    fit = slope_after(rows, "rss", warmup_s=15.0)
    assert fit is not None
    assert fit.n == 3
    assert fit.slope == pytest.approx(0.2)
    assert slope_after(rows, "absent", 0.0) is None


@pytest.fixture
def family():
    """A child python that starts a grandchild; both wait on their stdin (no sleeps). Yields
    (child pid, grandchild pid)."""
    code = (
        "import subprocess, sys\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'], stdin=subprocess.PIPE)\n"
        "print(g.pid, flush=True)\n"
        "sys.stdin.read()\n"
        "g.stdin.close()\n"
        "g.wait()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdin is not None
    grandchild = int(child.stdout.readline())
    try:
        yield child.pid, grandchild
    finally:
        child.stdin.close()
        assert child.wait(30) == 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_tree_stats_walks_children_and_grandchildren(family) -> None:
    child, grandchild = family
    procs = tree_stats(child)
    assert [p.pid for p in procs] == [child, grandchild]  # the root first, then below it
    for p in procs:
        assert p.rss_bytes > 1024 * 1024  # a python interpreter holds more than 1 MB
        assert p.fds >= 3  # stdin, stdout, stderr at least
        assert p.threads >= 1
    assert tree_stats(grandchild)[0].pid == grandchild
    assert [p.pid for p in tree_stats(grandchild)] == [grandchild]  # a leaf has nothing below


def test_a_renderer_is_told_from_its_zygote_by_its_parent() -> None:
    exe = "/x/libexec/QtWebEngineProcess"
    sandboxed = [exe, "--type=zygote", "--no-sandbox"]
    unsandboxed = [exe, "--type=zygote", "--no-zygote-sandbox", "--no-sandbox"]
    console = ["/usr/bin/python3", "bench/soak_console.py", "--backend", "x"]
    assert label(sandboxed, console) == "QtWebEngineProcess:zygote"
    assert label(sandboxed, sandboxed) == "QtWebEngineProcess:renderer"
    assert label(sandboxed, unsandboxed) == "QtWebEngineProcess:utility"
    assert label([exe, "--type=gpu-process"], console) == "QtWebEngineProcess:gpu-process"
    assert label(console) == "soak_console.py"
    assert label(["/usr/bin/Xvfb", ":90"]) == "Xvfb"


def test_roles_number_repeated_labels_and_name_the_root() -> None:
    def s(pid: int, name: str) -> ProcStats:
        return ProcStats(pid, name, 0, 0, 0)

    procs = [
        s(1, "soak_console.py"),
        s(2, "QtWebEngineProcess:zygote"),
        s(3, "QtWebEngineProcess:zygote"),
        s(4, "QtWebEngineProcess:renderer"),
    ]
    assert [r for r, _ in roles("console", procs)] == [
        "console",
        "webengine:zygote",
        "webengine:zygote#2",
        "webengine:renderer",
    ]


def test_csv_has_every_figure_of_the_run_and_reads_back(tmp_path: Path) -> None:
    rows: list[dict[str, float | str]] = [
        {"t": 0.0, "console.rss_mb": 500.5},
        {"t": 10.0, "console.rss_mb": 501.0, "backend.rss_mb": 150.0},  # the backend's first sample
    ]
    path = tmp_path / "soak.csv"
    write_csv(path, rows)
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    assert table == [
        ["t", "backend.rss_mb", "console.rss_mb"],
        ["0.0", "", "500.5"],
        ["10.0", "150.0", "501.0"],
    ]
    assert read_csv(path) == rows


def test_top_growers_are_sorted_by_growth_and_only_growth() -> None:
    first = {"list": 100, "dict": 50, "Alarm": 10}
    last = {"list": 90, "dict": 80, "Alarm": 110, "NewThing": 5}
    assert top_growers(first, last) == [("Alarm", 10, 110), ("dict", 50, 80), ("NewThing", 0, 5)]
    assert top_growers(first, last, n=1) == [("Alarm", 10, 110)]


CHILD = """
import mmap, os, sys
print("up", flush=True)
sys.stdin.readline()
anon = bytearray(b"x" * (48 << 20))  # private: malloc maps a block this large on its own
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(fd, 16 << 20)
shared = mmap.mmap(fd, 16 << 20)
shared.write(b"y" * (16 << 20))
print("ready", flush=True)
sys.stdin.readline()
"""


def test_smaps_split_puts_anonymous_and_shared_memory_in_their_own_kinds() -> None:
    """A real child allocates 48 MiB (private anonymous memory) and maps 16 MiB of a /dev/shm file and touches
    every page: its split grows by them in `anon` and `shm`, and not in `heap` or `file`."""
    shm = Path(f"/dev/shm/vigie-test-smaps-{os.getpid()}")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(shm)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "up"
        before = smaps_split(child.pid)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ready"
        after = smaps_split(child.pid)
        mib = 1 << 20
        assert 47 * mib <= after["anon"] - before["anon"] <= 52 * mib, (before, after)
        assert 16 * mib <= after["shm"] - before["shm"] <= 17 * mib, (before, after)
        assert abs(after["heap"] - before["heap"]) < 2 * mib, (before, after)
        assert abs(after["file"] - before["file"]) < 2 * mib, (before, after)
        child.stdin.write("end\n")
        child.stdin.flush()
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()
        shm.unlink(missing_ok=True)
    assert smaps_split(child.pid) == {}  # an ended process has no split
