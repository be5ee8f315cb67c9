"""The daemon at rest: CPU per cycle and memory, row by row, over a long idle run.

Run: .venv/bin/python bench/idle_bench.py [--minutes 60 --interval 10 --push --git
     --log-level INFO]

A devserver holds a small mirror's worth of synthetic sessions; `syncd sync --once`
mirrors them; then `syncd run` syncs every --interval seconds with nothing to do. The
daemon's CPU time (utime + stime from /proc, every thread) and resident memory are
sampled once a second; CPU is divided by the cycles its index recorded. Prints one row
per --row minutes as it ends, then the first and the last --window seconds side by side
and their ratio: flat is ~1.0. SIGTERM or Ctrl-C ends the run early and reports what was
measured. Linux only (reads /proc).

--push starts the local PullStory server of the tests and gives the daemon its token, so
the push worker and the file watcher run (--push-names: the names rule; by default one no
session matches, so the rules are looked at and nothing is pushed). --git keeps the
mirror as a git archive. --log-level INFO has the daemon log each cycle into a file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))  # the local PullStory server lives with the tests
from sync_bench import SYNCD, devserver  # noqa: E402 - a sibling script, found by the path above

TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024
PULLSTORY_TOKEN = "ps_live_idle_bench"
NO_SESSION = "no session is named this"


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    cpu: float  # process CPU seconds
    cycles: int  # sync runs the index has finished
    rss_mb: float


@dataclass(frozen=True)
class Window:
    seconds: float
    cpu: float
    cycles: int
    rss_mb: float  # at the window's end

    @property
    def ms_per_cycle(self) -> float:
        return 1000 * self.cpu / self.cycles if self.cycles else float("nan")

    @property
    def core_share(self) -> float:
        return 100 * self.cpu / self.seconds if self.seconds else float("nan")


def process_cpu(pid: int) -> float:
    """utime + stime of every thread of `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of stat(5)


def resident_mb(pid: int) -> float:
    """Resident set size of `pid` in MB (statm's second field, in pages)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB / 1024


def finished_runs(root: Path) -> int:
    database = root / ".syncd" / "index.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT count(*) FROM sync_runs WHERE ended_at IS NOT NULL").fetchone()
    return int(row[0])


def window(samples: list[Sample], start: float, end: float) -> Window:
    inside = [s for s in samples if start <= s.at <= end]
    first, last = inside[0], inside[-1]
    return Window(last.at - first.at, last.cpu - first.cpu, last.cycles - first.cycles, last.rss_mb)


def daemon_env(
    url: str, root: Path, args: argparse.Namespace, pullstory: str | None
) -> dict[str, str]:
    env = os.environ | {
        "SYNCD_BASE_URL": url,
        "SYNCD_API_KEY": "dev-key",
        "SYNCD_ROOT": str(root),
        "SYNCD_LOG_LEVEL": args.log_level,
        "SYNCD_SCHEDULE__SYNC_SECONDS": str(args.interval),
        "SYNCD_SCHEDULE__JITTER_SECONDS": "0",
        "SYNCD_SCHEDULE__RECONCILE_SECONDS": str(args.reconcile),
        "SYNCD_GIT__ENABLED": "true" if args.git else "false",
    }
    if pullstory is not None:
        env |= {
            "SYNCD_PULLSTORY__BASE_URL": pullstory,
            "SYNCD_PULLSTORY__API_KEY": PULLSTORY_TOKEN,
            "SYNCD_PULLSTORY__NAMES": json.dumps([args.push_names]),
        }
    return env


@contextmanager
def pullstory_server(wanted: bool) -> Iterator[str | None]:
    """The tests' PullStory server in this process (its CPU is not the daemon's)."""
    if not wanted:
        yield None
        return
    from tests.fakes.pullstory import PullStoryServer

    with PullStoryServer(PULLSTORY_TOKEN, port=0, generation_seconds=30.0) as server:
        yield server.url


def first_sync(env: dict[str, str]) -> None:
    done = subprocess.run(
        [*SYNCD, "sync", "--once"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"sync failed ({done.returncode}): {done.stderr.strip()}")


def run_idle(env: dict[str, str], root: Path, log: Path, args: argparse.Namespace) -> list[Sample]:
    """Samples once a second; prints each --row minutes as it ends. SIGTERM or Ctrl-C ends
    the run early, with what was measured so far reported."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with log.open("ab") as stderr:
        daemon = subprocess.Popen([*SYNCD, "run"], env=env, stderr=stderr)
    samples: list[Sample] = []
    try:
        started = time.monotonic()
        end = started + args.warmup + 60 * args.minutes
        while time.monotonic() < end and not stop.wait(1.0):
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited ({daemon.returncode}); see {log}")
            now = time.monotonic()
            if now - started >= args.warmup:  # start-up and its reconciliation left out
                cpu, rss = process_cpu(daemon.pid), resident_mb(daemon.pid)
                samples.append(Sample(now, cpu, finished_runs(root), rss))
                print_row_if_ended(samples, 60 * args.row)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    return samples


def print_row_if_ended(samples: list[Sample], step: float) -> None:
    """The row of the --row minutes the newest sample ends, if it ends one."""
    begin, now = samples[0].at, samples[-1].at
    rows_done = int((now - begin) // step)
    if rows_done == 0 or len(samples) < 2 or int((samples[-2].at - begin) // step) == rows_done:
        return
    start = begin + (rows_done - 1) * step
    print(
        row(
            f"{(rows_done - 1) * step / 60:g}-{rows_done * step / 60:g} min",
            window(samples, start, now),
        ),
        flush=True,
    )


def row(name: str, part: Window) -> str:
    return (
        f"{name:>12} {part.seconds:5.0f} s: {part.cycles:4d} cycles, "
        f"{part.ms_per_cycle:7.1f} ms CPU per cycle, {part.core_share:5.2f}% of a core, "
        f"RSS {part.rss_mb:6.1f} MB"
    )


def header(args: argparse.Namespace) -> str:
    modes = [f"log {args.log_level}"]
    modes += ["push"] if args.push else []
    modes += ["git"] if args.git else []
    return (
        f"idle daemon: {args.sessions} sessions mirrored, sync every {args.interval:.0f} s, "
        f"{', '.join(modes)}; {args.minutes:g} min asked, one row per {args.row:g} min"
    )


def report(samples: list[Sample], args: argparse.Namespace, log_bytes: int) -> None:
    begin, finish = samples[0].at, samples[-1].at
    total = window(samples, begin, finish)
    span = min(args.window, (finish - begin) / 2)  # the two ends never overlap
    first = window(samples, begin, begin + span)
    last = window(samples, finish - span, finish)
    print(
        f"{total.seconds / 60:.1f} min measured, {total.cycles} cycles, "
        f"RSS {samples[0].rss_mb:.1f} MB at the start"
    )
    for name, part in (("first", first), ("last", last), ("whole", total)):
        print(row(name, part))
    print(
        f"ratio last/first: {last.ms_per_cycle / first.ms_per_cycle:.2f}x CPU per cycle, "
        f"{last.rss_mb / first.rss_mb:.2f}x RSS; the daemon's log: {log_bytes} bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="idle run after warm-up")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--projects", type=int, default=6)
    parser.add_argument("--interval", type=float, default=10.0, help="schedule.sync_seconds")
    parser.add_argument("--reconcile", type=float, default=3600.0, help="reconcile_seconds")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds not measured")
    parser.add_argument("--window", type=float, default=600.0, help="seconds per measured end")
    parser.add_argument("--row", type=float, default=10.0, help="minutes per printed row")
    parser.add_argument("--push", action="store_true", help="PullStory configured")
    parser.add_argument("--push-names", default=NO_SESSION, help="the names rule (a glob)")
    parser.add_argument("--git", action="store_true", help="the mirror is a git archive")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="syncd-idle-") as scratch, ExitStack() as stack:
        root, log = Path(scratch) / "mirror", Path(scratch) / "daemon.log"
        seeded = ("--synthetic", str(args.sessions), "--projects", str(args.projects))
        url = stack.enter_context(devserver(*seeded))
        pullstory = stack.enter_context(pullstory_server(args.push))
        env = daemon_env(url, root, args, pullstory)
        first_sync(env)
        print(header(args), flush=True)
        samples = run_idle(env, root, log, args)
        log_bytes = log.stat().st_size
    report(samples, args, log_bytes)


if __name__ == "__main__":
    main()
