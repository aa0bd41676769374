"""Soak harness: an accelerated city, a console with a scripted operator, backend restarts, and a
sample of every process's memory and handles every 10 s; prints each figure's slope after the
warm-up, the top growers, and writes a CSV and a PNG plot of the run (docs/soak.md).

    make soak MINUTES=30
    python bench/soak.py --short            # 4 minutes, for `make bench`
    python bench/soak.py --minutes 10 --tracemalloc backend --out /tmp/soak

Exit status: 0 when the run completed, 1 when a process died unexpectedly or a sampler got
nothing (the figures are then still written), 2 for bad arguments."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.soak_devtools import page_memory  # noqa: E402
from bench.soak_tools import (  # noqa: E402
    life_means,
    linear_fit,
    roles,
    slope_after,
    smaps_split,
    top_growers,
    tree_stats,
    write_csv,
)

READY = "VIGIE_BACKEND_LISTENING"
WORKSPACE = "Operator 2 screens"  # map, alarms, assets, detail with its telemetry chart, a 3x3 mosaic
USER = "supervisor"  # may push to walls; the backend's --demo-users password is the name
MB = 1024 * 1024
LIFE = "backend.life"  # the number of the backend's restarts before the sample
LIFE_SETTLE_S = 60.0  # a restarted backend's rings and pools fill within its first minute
LIFE_FIGURES = ("backend.rss_mb", "backend.malloc_used_mb", "backend.py_blocks", "backend.gc_objects")
STOP_TIMEOUT_S = 30.0  # a backend or console that takes longer on SIGTERM is killed, and it is a failure


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="length of the run (default 30)")
    p.add_argument("--short", action="store_true", help="the 4-minute form `make bench` runs")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default 10)")
    p.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds left out of the fits (default: a third, at most 10 min: the renderer and the"
        " console settle in ~10 min, docs/soak.md)",
    )
    p.add_argument(
        "--restart-every",
        type=float,
        default=None,
        help="seconds between backend restarts (default: a third of the run, 45 s to 5 min; --short: 90; 0: never)",
    )
    p.add_argument("--out", default=None, help="output directory (default /tmp/vigie-soak-<time>)")
    p.add_argument(
        "--change-rate", type=float, default=300.0, help="backend --change-rate (status changes/s)"
    )
    p.add_argument("--alarm-rate", type=float, default=0.5, help="backend --alarm-rate (synthetic alarms/s)")
    p.add_argument(
        "--vehicles", type=int, default=300, help="backend --vehicles (default 300; the demo has 60)"
    )
    p.add_argument(
        "--history",
        type=int,
        default=None,
        help="backend --history (changes kept for resuming; default the backend's own, 200,000: a"
        " bounded ring that fills in minutes at these rates and counts as growth until then)",
    )
    p.add_argument(
        "--alarm-history",
        type=int,
        default=2000,
        help="backend --alarm-history (default 2,000: the backend's own 100,000 would take more than ten"
        " real hours to fill at these rates, reloaded at each restart, and count as growth until then)",
    )
    p.add_argument(
        "--speedup",
        type=float,
        default=12.0,
        help="simulated hours per real hour the rates above stand for (an estimate: the demo city's"
        " own alarm and change rates are far below them), for the per-simulated-hour slopes",
    )
    p.add_argument(
        "--tracemalloc",
        choices=["console", "backend", "both"],
        default=None,
        help="trace Python allocations in that process (costly: a snapshot of the console stalls its GUI"
        " for seconds; taken once a minute)",
    )
    p.add_argument("--no-operator", action="store_true", help="leave the console alone (an idle shift)")
    p.add_argument(
        "--only",
        default="",
        help="the operator's steps to keep, comma-separated (ack_alarm, mosaic_layout, camera_to_mosaic,"
        " open_command, close_command, push_to_wall, switch_workspace): one action's cost apart",
    )
    p.add_argument(
        "--no-page-gc",
        action="store_true",
        help="run the map page without its periodic gc() (the console adds --js-flags=--expose-gc;"
        " this turns it off to measure the page without it)",
    )
    p.add_argument(
        "--devtools-port", type=int, default=0, help="QtWebEngine remote debugging port (0: a free one)"
    )
    args = p.parse_args(argv)
    from bench.soak_operator import ROUND

    if unknown := set(filter(None, args.only.split(","))) - set(ROUND):
        p.error(
            f"--only: no such operator step {', '.join(sorted(unknown))} (steps: {', '.join(dict.fromkeys(ROUND))})"
        )
    if args.short:
        args.minutes = 4.0
        if args.restart_every is None:
            args.restart_every = 90.0
    if args.restart_every is None:  # at least two restarts in a run, at most one every 5 min
        args.restart_every = min(300.0, max(45.0, args.minutes * 60 / 3))
    if args.warmup is None:  # the map renderer's and the console's levels settle in ~10 minutes
        args.warmup = min(600.0, args.minutes * 60 / 3)
    if args.minutes <= 0 or args.interval <= 0:
        p.error("--minutes and --interval must be positive")
    if args.warmup + 3 * args.interval > args.minutes * 60:
        p.error("the run is too short for the warm-up and three samples")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Fail(Exception):
    """The soak cannot go on (a process died, a start failed): the figures so far are written."""


class Proc:
    """A child process whose output goes to a log file; `ready` is set by the line that starts
    with `ready_prefix` (the backend's READY line), or at once without one."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path, ready_prefix: str | None = None):
        self.name = name
        self.ready = threading.Event()
        self.log = open(log, "ab")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.prefix = ready_prefix
        if ready_prefix is None:
            self.ready.set()
        threading.Thread(target=self._pump, name=f"log-{name}", daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            if self.prefix and line.decode(errors="replace").startswith(self.prefix):
                self.ready.set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"soak: {self.name} ignored SIGTERM for {timeout:.0f} s; killed", file=sys.stderr)
                # bench/soak_probe.py has faulthandler dump every thread's stack on SIGUSR1.
                self.proc.send_signal(signal.SIGUSR1)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(2)
                self.proc.kill()
                self.proc.wait(10)
        # Its own children (QtWebEngine's zygote and renderers) share its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        return self.proc.returncode


def start_display(out: Path) -> tuple[dict, subprocess.Popen | None]:
    """DISPLAY (or the offscreen platform) for the console: the user's own display if there is
    one, else an Xvfb started here, else Qt's offscreen platform."""
    env: dict = {}
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return env, None
    if shutil.which("Xvfb") is None:
        print(
            "soak: no display and no Xvfb (apt install xvfb): the console renders offscreen", file=sys.stderr
        )
        env["QT_QPA_PLATFORM"] = "offscreen"
        return env, None
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    else:
        raise Fail("no free X display number between :90 and :199")
    log = open(out / "xvfb.log", "wb")  # noqa: SIM115  (lives as long as Xvfb)
    xvfb = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if xvfb.poll() is not None or time.monotonic() > deadline:
            raise Fail(f"Xvfb :{n} did not start (see {out / 'xvfb.log'})")
        time.sleep(0.1)  # waiting for another process's socket file: nothing to block on
    env["DISPLAY"] = f":{n}"
    env["QT_QPA_PLATFORM"] = "xcb"
    print(f"soak: console on Xvfb :{n}", flush=True)
    return env, xvfb


class Soak:
    def __init__(self, args: argparse.Namespace, out: Path) -> None:
        self.args = args
        self.out = out
        self.port = free_port()
        self.devtools = args.devtools_port or free_port()
        self.rows: list[dict] = []
        self.probe_offsets: dict[str, int] = {}
        self.probe_records: dict[str, list[dict]] = {"console": [], "backend": []}
        self.devtools_ok = 0
        self.devtools_errors: list[str] = []
        self.restarts = 0
        self.failure: str | None = None
        self.problems: list[str] = []  # failures found on the way (the run goes on)
        self.backend: Proc | None = None
        self.console: Proc | None = None
        self.xvfb: subprocess.Popen | None = None
        self.t0 = time.monotonic()
        self.wall_t0 = time.time()  # the probes' records carry wall-clock times

    # ---- processes -----------------------------------------------------------------------------

    def base_env(self) -> dict:
        env = dict(os.environ)
        home = self.out / "home"  # the console's settings, workspaces and views: this run's own
        for var, sub in (
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_CACHE_HOME", "cache"),
            ("XDG_STATE_HOME", "state"),  # the console's log, and the stacks of a crash (app/logfile.py)
        ):
            (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            env[var] = str(home / sub)
        env["VIGIE_SOAK_INTERVAL"] = str(self.args.interval)
        env["VIGIE_SOAK_WARMUP"] = str(self.args.warmup)
        env["VIGIE_SOAK_TRACE_EVERY"] = str(max(1, round(60 / self.args.interval)))
        return env

    def trace(self, env: dict, who: str) -> None:
        if self.args.tracemalloc in (who, "both"):
            env["VIGIE_SOAK_TRACEMALLOC"] = "1"

    def start_backend(self) -> None:
        users = ",".join(f"user:{u}" for u in ("viewer", "operator", "supervisor", "admin"))
        argv = [
            sys.executable,
            str(ROOT / "bench" / "soak_backend.py"),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.out / "backend-data"),
            "--demo-users",
            "--wall",
            f"wall-1={users}",
            "--wall",
            f"wall-2={users}",
            "--change-rate",
            str(self.args.change_rate),
            "--change-kind",
            "status",
            "--alarm-rate",
            str(self.args.alarm_rate),
            "--vehicles",
            str(self.args.vehicles),
            "--log-level",
            "INFO",
        ]
        if self.args.history is not None:
            argv += ["--history", str(self.args.history)]
        argv += ["--alarm-history", str(self.args.alarm_history)]
        env = self.base_env()
        env["VIGIE_SOAK_STATS"] = str(self.out / "backend-stats.jsonl")
        self.trace(env, "backend")
        self.backend = Proc("backend", argv, env, self.out / "backend.log", READY)
        if not self.backend.ready.wait(60):
            raise Fail(f"the backend did not listen within 60 s (see {self.out / 'backend.log'})")

    def restart_backend(self) -> None:
        assert self.backend is not None
        t0 = time.monotonic()
        code = self.backend.stop(STOP_TIMEOUT_S)
        took = time.monotonic() - t0
        print(f"soak: the backend stopped in {took:.1f} s (exit code {code})", flush=True)
        if code not in (0, -signal.SIGTERM):
            # Not fatal: the restart goes on, the run fails at the end.
            self.problems.append(
                f"the backend did not stop on SIGTERM (exit code {code} after {took:.0f} s;"
                f" its threads' stacks are in {self.out / 'backend.log'})"
            )
        self.restarts += 1
        self.start_backend()

    def start_console(self, display_env: dict) -> None:
        env = self.base_env()
        env.update(display_env)
        env["VIGIE_PASSWORD"] = USER
        env["VIGIE_SOAK_STATS"] = str(self.out / "console-stats.jsonl")
        self.trace(env, "console")
        env["VIGIE_SOAK_OPERATOR"] = "0" if self.args.no_operator else "1"
        env["VIGIE_SOAK_ONLY"] = self.args.only
        env["QTWEBENGINE_REMOTE_DEBUGGING"] = f"127.0.0.1:{self.devtools}"
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
        flags = env.get("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
        if self.args.no_page_gc:
            env["VIGIE_NO_PAGE_GC"] = "1"  # app/cli.py then leaves --expose-gc out
        env["QTWEBENGINE_CHROMIUM_FLAGS"] = flags.strip()
        argv = [
            sys.executable,
            str(ROOT / "bench" / "soak_console.py"),
            "--backend",
            f"127.0.0.1:{self.port}",
            "--workspace",
            WORKSPACE,
            "--user",
            USER,
        ]
        self.console = Proc("console", argv, env, self.out / "console.log")

    # ---- sampling ------------------------------------------------------------------------------

    def read_probe(self, who: str) -> dict | None:
        """New records of a probe file since the last read; the newest one, or None."""
        path = self.out / f"{who}-stats.jsonl"
        if not path.exists():
            return None
        with open(path, encoding="utf-8") as f:
            f.seek(self.probe_offsets.get(who, 0))
            data = f.read()
        complete = data[: data.rfind("\n") + 1]
        self.probe_offsets[who] = self.probe_offsets.get(who, 0) + len(complete.encode())
        recs = [json.loads(line) for line in complete.splitlines() if line.strip()]
        self.probe_records[who].extend(recs)
        return recs[-1] if recs else None

    def sample(self) -> dict:
        t = time.monotonic() - self.t0
        row: dict = {"t": round(t, 1)}
        if self.backend is not None:
            row[LIFE] = self.restarts  # which of the backend's lives this sample saw
        total = 0
        for who, proc in (("console", self.console), ("backend", self.backend)):
            if proc is None:
                continue
            for role, s in roles(who, tree_stats(proc.pid)):
                row[f"{role}.rss_mb"] = round(s.rss_bytes / MB, 2)
                row[f"{role}.fds"] = s.fds
                row[f"{role}.threads"] = s.threads
                total += s.rss_bytes
        row["all.rss_mb"] = round(total / MB, 2)
        # The console's and the backend's resident memory by kind of mapping: native growth is
        # then told apart (glibc's heaps, other anonymous memory, X shared images, files).
        for who, proc in (("console", self.console), ("backend", self.backend)):
            if proc is not None:
                for kind, size in smaps_split(proc.pid).items():
                    row[f"{who}.smaps_{kind}_mb"] = round(size / MB, 2)
        for who in ("console", "backend"):
            rec = self.read_probe(who)
            if rec is None:
                continue
            for k, v in rec.items():
                if isinstance(v, (int, float)) and k not in ("t", "pid"):
                    row[f"{who}.{k}"] = v
        try:
            mem = page_memory(self.devtools, "map/index.html")
        except (OSError, ValueError, RuntimeError, ConnectionError) as exc:
            mem = {}
            self.devtools_errors.append(f"{t:.0f}s: {exc}")
        if mem:
            self.devtools_ok += 1
            for k, v in mem.items():
                row[f"map.{k}"] = round(v / MB, 3) if "heap" in k or "store" in k else v
        return row

    # ---- run -----------------------------------------------------------------------------------

    def run(self) -> None:
        display_env, self.xvfb = start_display(self.out)
        self.start_backend()
        self.start_console(display_env)
        end = self.t0 + self.args.minutes * 60
        next_restart = self.t0 + self.args.restart_every if self.args.restart_every > 0 else float("inf")
        next_sample = time.monotonic() + self.args.interval
        while True:
            now = time.monotonic()
            if now >= end:
                break
            for p in (self.console, self.backend):
                if p is not None and not p.alive():
                    raise Fail(
                        f"the {p.name} died (exit code {p.proc.returncode}); see {self.out / (p.name + '.log')}"
                    )
            if now >= next_restart:
                print(f"soak: restarting the backend at {now - self.t0:.0f} s", flush=True)
                self.restart_backend()
                next_restart = time.monotonic() + self.args.restart_every
            if now >= next_sample:
                row = self.sample()
                self.rows.append(row)
                next_sample += self.args.interval
                print(
                    f"soak: t={row['t']:>6.0f}s  all {row['all.rss_mb']:.0f} MB  console"
                    f" {row.get('console.rss_mb', 0):.0f}  backend {row.get('backend.rss_mb', 0):.0f}"
                    f"  renderer {row.get('webengine:renderer.rss_mb', 0):.0f}  js heap"
                    f" {row.get('map.js_heap_used', 0):.1f}  ops {row.get('console.op_done', 0):.0f}",
                    flush=True,
                )
            time.sleep(
                min(0.5, max(0.0, min(next_sample, end) - time.monotonic()))
            )  # the harness's own pacing

    def stop(self) -> None:
        for p in (self.console, self.backend):
            if p is not None and p.alive():
                t0 = time.monotonic()
                code = p.stop(STOP_TIMEOUT_S)
                print(
                    f"soak: the {p.name} stopped in {time.monotonic() - t0:.1f} s (exit code {code})",
                    flush=True,
                )
                if code not in (0, -signal.SIGTERM):
                    self.problems.append(f"the {p.name} did not stop cleanly on SIGTERM (exit code {code})")
        if self.xvfb is not None:
            self.xvfb.terminate()
            try:
                self.xvfb.wait(10)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()

    # ---- report --------------------------------------------------------------------------------

    def checks(self) -> list[str]:
        """What makes the run fail although it completed: a sampler that got nothing."""
        problems = list(self.problems)
        if not any("console.rss_mb" in r for r in self.rows):
            problems.append("no RSS sample of the console")
        if not any("backend.rss_mb" in r for r in self.rows):
            problems.append("no RSS sample of the backend")
        if not any(k.startswith("webengine:renderer") for r in self.rows for k in r):
            problems.append("no QtWebEngine renderer found under the console")
        for who in ("console", "backend"):
            if not self.probe_records[who]:
                problems.append(f"the {who}'s in-process probe wrote nothing")
        if not any("console.qobjects" in r for r in self.rows):
            problems.append("no QObject count from the console")
        if self.devtools_ok == 0:
            last = self.devtools_errors[-1] if self.devtools_errors else "the map page was never listed"
            problems.append(f"no JS heap sample from the map page over DevTools ({last})")
        if not self.args.no_operator and not any(r.get("console.op_done", 0) > 0 for r in self.rows):
            problems.append("the scripted operator did nothing")
        return problems

    def report(self) -> None:
        a = self.args
        cols = sorted({k for r in self.rows for k in r} - {"t"})
        print(
            f"\nsoak: {len(self.rows)} samples over {a.minutes:g} min, warm-up {a.warmup:.0f} s, "
            f"{self.restarts} backend restarts, speed-up {a.speedup:g} (simulated h per real h)"
        )
        print(f"{'figure':<44}{'last':>10}{'/real h':>12}{'/sim h':>12}{'± se':>9}")
        for c in cols:
            fit = slope_after(self.rows, c, a.warmup)
            if fit is None or c == LIFE:
                continue
            last = next((r[c] for r in reversed(self.rows) if c in r), 0)
            per_h = fit.slope * 3600
            sim = a.speedup
            print(f"{c:<44}{last:>10.1f}{per_h:>12.2f}{per_h / sim:>12.2f}{fit.se * 3600 / sim:>9.2f}")
        print("(rss/heap figures in MB; fds, threads, objects in counts)")
        self.report_lives()
        for who in ("console", "backend"):
            recs = self.probe_records[who]
            pid_last = recs[-1].get("pid") if recs else None
            life = [r for r in recs if r.get("pid") == pid_last and r["t"] - self.wall_t0 >= a.warmup] or recs
            if len(life) >= 2:
                grown = top_growers(life[0]["types"], life[-1]["types"], 12)
                span = (life[-1]["t"] - life[0]["t"]) / 60
                print(f"\ntop growing Python types in the {who} over its last {span:.1f} min:")
                for name, first, last in grown:
                    print(f"  {last - first:>+8}  {name}  ({first} -> {last})")
            tm = next((r["tm_growers"] for r in reversed(recs) if r.get("tm_growers")), None)
            if tm:
                print(f"tracemalloc top growers in the {who} since the warm-up:")
                for where, size, count in tm:
                    print(f"  {size / 1024:>+10.0f} KiB {count:>+8}  {where}")
        tops = [
            r["top_level_by_class"]
            for r in self.probe_records["console"]
            if "top_level_by_class" in r and r["t"] - self.wall_t0 >= a.warmup
        ]
        if len(tops) >= 2:
            grown = top_growers(tops[0], tops[-1], 8)
            if grown:
                print("top-level widgets that grew in number (closed but not deleted?):")
                for name, first, last in grown:
                    print(f"  {last - first:>+8}  {name}  ({first} -> {last})")
        ops = next((r for r in reversed(self.probe_records["console"]) if "op_by_step" in r), None)
        if ops:
            print(
                f"\noperator: {ops['op_done']} actions, {ops['op_skipped']} skipped, {ops['op_errors']} errors; "
                f"per step [done, skipped]: {ops['op_by_step']}"
            )
        if self.devtools_errors:
            print(
                f"DevTools samples failed {len(self.devtools_errors)} times (last: {self.devtools_errors[-1]})"
            )

    def report_lives(self) -> None:
        """The backend's figures life by life: the mean of each life after its first LIFE_SETTLE_S,
        and the slope through those means (docs/soak.md, "Reading it")."""
        a = self.args
        for c in LIFE_FIGURES:
            means = life_means(self.rows, c, LIFE, a.warmup, LIFE_SETTLE_S)
            if len(means) < 2:
                continue
            line = " ".join(f"{m:.1f}" if m < 1000 else f"{m:.0f}" for _, m, _ in means)
            fit = linear_fit([t for t, _, _ in means], [m for _, m, _ in means])
            trend = ""
            if fit is not None:
                per_h = fit.slope * 3600
                trend = f"; slope {per_h:+.2f} /real h, {per_h / a.speedup:+.2f} ± {fit.se * 3600 / a.speedup:.2f} /sim h"
            print(f"{c} by backend life (after each life's first {LIFE_SETTLE_S:.0f} s): {line}{trend}")

    def write(self) -> None:
        write_csv(self.out / "soak.csv", self.rows)
        print(f"soak: wrote {self.out / 'soak.csv'}")
        try:
            from bench.soak_plot import plot

            plot(self.rows, self.out / "soak.png", self.args.warmup)
            print(f"soak: wrote {self.out / 'soak.png'}")
        except Exception as exc:  # the CSV holds the run; a plot that cannot be drawn is reported
            print(f"soak: no plot: {exc!r}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out or f"/tmp/vigie-soak-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"soak: {args.minutes:g} min, output in {out}", flush=True)
    soak = Soak(args, out)
    code = 0
    try:
        soak.run()
    except Fail as exc:
        soak.failure = str(exc)
    except KeyboardInterrupt:
        soak.failure = "interrupted"
    finally:
        soak.stop()
    soak.read_probe("console")
    soak.read_probe("backend")
    if soak.rows:
        soak.write()
        soak.report()
    problems = ([soak.failure] if soak.failure else []) + soak.checks()
    for p in problems:
        print(f"soak: FAILED: {p}", file=sys.stderr)
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
