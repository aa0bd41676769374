"""The soak harness's pure parts: the process tree and its figures from /proc, the linear fit that
turns samples into a slope, and the CSV of a run. No Qt, no gRPC: unit-tested on their own
(tests/unit/test_soak_tools.py)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class ProcStats:
    pid: int
    name: str  # a short label: the executable's name, with QtWebEngine's --type (renderer, zygote...)
    rss_bytes: int
    fds: int
    threads: int


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def children_map(proc: str = "/proc") -> dict[int, list[int]]:
    """parent pid -> child pids, for every process this user can see."""
    out: dict[int, list[int]] = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            stat = _read(f"{proc}/{entry}/stat")
        except OSError:  # it ended meanwhile
            continue
        # The name is in parentheses and may hold spaces or ')': the fields after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        out.setdefault(int(fields[1]), []).append(int(entry))
    return out


def argv_of(pid: int, proc: str = "/proc") -> list[str]:
    try:
        return _read(f"{proc}/{pid}/cmdline").rstrip("\0").split("\0")
    except OSError:
        return []


def label(argv: list[str], parent_argv: list[str] | None = None) -> str:
    """A short name for a process from its command line: the executable's base name; for
    Chromium helpers, their --type. A renderer keeps the command line of the zygote it was forked
    from, so a "zygote" whose parent is the sandboxed zygote is a renderer, and one under the
    unsandboxed zygote (--no-zygote-sandbox) a utility process (network service and the like)."""
    exe = os.path.basename(argv[0]) if argv and argv[0] else "?"
    kind = next((a[7:] for a in argv[1:] if a.startswith("--type=")), None)
    if kind is not None:
        parent_kind = next((a[7:] for a in (parent_argv or [])[1:] if a.startswith("--type=")), None)
        if kind == "zygote" and parent_kind == "zygote":
            kind = "utility" if "--no-zygote-sandbox" in (parent_argv or []) else "renderer"
        return f"{exe}:{kind}"
    if exe.startswith("python"):
        # The script or module run: soak_console.py, soak_backend.py...
        for arg in argv[1:]:
            if not arg.startswith("-"):
                return os.path.basename(arg)
    return exe


def stats(pid: int, name: str, proc: str = "/proc") -> ProcStats | None:
    """RSS, open fds and threads of `pid`; None if it has ended."""
    try:
        status = _read(f"{proc}/{pid}/status")
        fds = len(os.listdir(f"{proc}/{pid}/fd"))
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_kb = int(fields.get("VmRSS", "0 kB").split()[0])
    threads = int(fields.get("Threads", "0").strip())
    return ProcStats(pid, name, rss_kb * 1024, fds, threads)


def tree_stats(root: int, proc: str = "/proc") -> list[ProcStats]:
    """The figures of `root` and of every process below it, root first."""
    kids = children_map(proc)
    out: list[ProcStats] = []
    queue: list[tuple[int, list[str] | None]] = [(root, None)]
    while queue:
        pid, parent_argv = queue.pop(0)
        argv = argv_of(pid, proc)
        s = stats(pid, label(argv, parent_argv), proc)
        if s is not None:
            out.append(s)
        queue.extend((k, argv) for k in sorted(kids.get(pid, [])))
    return out


def roles(root_role: str, procs: list[ProcStats]) -> list[tuple[str, ProcStats]]:
    """A column name per process: `root_role` for the first, the label for the others
    (QtWebEngineProcess shortened to webengine), numbered #2, #3... when a label repeats."""
    seen: dict[str, int] = {}
    out = []
    for i, s in enumerate(procs):
        role = root_role if i == 0 else s.name.replace("QtWebEngineProcess", "webengine")
        seen[role] = seen.get(role, 0) + 1
        out.append((role if seen[role] == 1 else f"{role}#{seen[role]}", s))
    return out


def smaps_kind(name: str) -> str:
    """What a mapping of /proc/PID/smaps holds, by its name: `heap` (glibc's main heap, brk),
    `anon` (anonymous: glibc's other arenas and large blocks, Python's arenas, thread stacks
    other than the main one, JIT code), `shm` (shared memory: the X server's images of the
    windows, Chromium's buffers), `stack` (the main thread's), `file` (libraries, fonts, files)."""
    if name == "[heap]":
        return "heap"
    if not name or name.startswith("[anon"):
        return "anon"
    if name == "[stack]":
        return "stack"
    if name.startswith(("/SYSV", "/dev/shm", "/memfd:", "/dev/dri")) or "(deleted)" in name:
        return "shm"
    if name.startswith("["):
        return "anon"  # [vdso], [vvar]: a few kB
    return "file"


def smaps_split(pid: int, proc: str = "/proc") -> dict[str, int]:
    """Resident bytes of `pid` by the kind of mapping (`smaps_kind`); {} if it has ended. Read
    from outside the process, so sampling it costs the process nothing."""
    try:
        text = _read(f"{proc}/{pid}/smaps")
    except OSError:
        return {}
    out = {k: 0 for k in ("heap", "anon", "shm", "stack", "file")}
    kind = "anon"
    for line in text.splitlines():
        head = line.split(None, 1)[0] if line else ""
        if "-" in head and not head.endswith(":"):  # a mapping's first line: range perms off dev inode [name]
            parts = line.split(None, 5)
            kind = smaps_kind(parts[5].strip() if len(parts) > 5 else "")
        elif head == "Rss:":
            out[kind] += int(line.split()[1]) * 1024
    return out


@dataclass(frozen=True)
class Fit:
    slope: float  # units per second
    intercept: float
    n: int
    se: float = 0.0  # the slope's standard error (0 with 3 points on a line)


def linear_fit(ts: Sequence[float], ys: Sequence[float]) -> Fit | None:
    """Least-squares line through (t, y); None with fewer than 3 points or no spread in t."""
    n = len(ts)
    if n != len(ys) or n < 3:
        return None
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return None
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var
    intercept = my - slope * mt
    residuals = sum((y - intercept - slope * t) ** 2 for t, y in zip(ts, ys, strict=True))
    return Fit(slope, intercept, n, math.sqrt(residuals / (n - 2) / var))


def slope_after(rows: Iterable[dict[str, float | str]], column: str, warmup_s: float) -> Fit | None:
    """The fit of `column` against the row's "t" (seconds from start), after `warmup_s`; rows where
    the figure is missing (a process between restarts, a failed sample) are left out."""
    ts, ys = [], []
    for r in rows:
        t, y = r.get("t"), r.get(column)
        if isinstance(t, (int, float)) and t >= warmup_s and isinstance(y, (int, float)):
            ts.append(float(t))
            ys.append(float(y))
    return linear_fit(ts, ys)


def life_means(
    rows: Iterable[dict[str, float | str]], column: str, life_column: str, warmup_s: float, settle_s: float
) -> list[tuple[float, float, int]]:
    """(mid time, mean, samples) of `column` in each life of a restarted process (`life_column`
    numbers them), leaving out each life's first `settle_s` and the run's warm-up. A restarted
    backend saw-tooths: it starts small and fills its rings again, so a fit through every sample
    weighs where the restarts fell; a fit through the lives' means asks whether each life sits
    higher than the one before."""
    lives: dict[float, list[tuple[float, float]]] = {}
    for r in rows:
        t, y, life = r.get("t"), r.get(column), r.get(life_column)
        if isinstance(t, (int, float)) and isinstance(y, (int, float)) and isinstance(life, (int, float)):
            lives.setdefault(float(life), []).append((float(t), float(y)))
    out = []
    for samples in lives.values():
        born = samples[0][0]
        kept = [(t, y) for t, y in samples if t - born >= settle_s and t >= warmup_s]
        if kept:
            out.append(((kept[0][0] + kept[-1][0]) / 2, sum(y for _, y in kept) / len(kept), len(kept)))
    return out


def write_csv(path: Path, rows: Sequence[dict[str, float | str]]) -> list[str]:
    """One row per sample, one column per figure (the union over the run, "t" first, then sorted);
    a figure missing from a sample is an empty cell. Returns the columns."""
    cols = sorted({k for r in rows for k in r} - {"t"})
    columns = ["t", *cols]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, columns, restval="")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return columns


def read_csv(path: Path) -> list[dict[str, float | str]]:
    """The rows of write_csv, numbers back as floats, empty cells dropped."""
    out: list[dict[str, float | str]] = []
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            row: dict[str, float | str] = {}
            for k, v in raw.items():
                if v == "" or v is None:
                    continue
                try:
                    row[k] = float(v)
                except ValueError:
                    row[k] = v
            out.append(row)
    return out


def top_growers(first: dict[str, int], last: dict[str, int], n: int = 10) -> list[tuple[str, int, int]]:
    """(name, first, last) of the `n` names that grew most between two counts, growth > 0 only."""
    grown = [(k, first.get(k, 0), v) for k, v in last.items() if v > first.get(k, 0)]
    grown.sort(key=lambda x: x[2] - x[1], reverse=True)
    return grown[:n]
