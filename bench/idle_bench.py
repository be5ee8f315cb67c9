"""The daemon at rest: CPU per cycle at the start and at the end of a long idle run.

Run: .venv/bin/python bench/idle_bench.py [--minutes 10 --sessions 300 --interval 10]

A devserver holds a small mirror's worth of synthetic sessions; `syncd sync --once`
mirrors them; then `syncd run` syncs every --interval seconds with nothing to do. The
daemon's CPU time (utime + stime from /proc, every thread) is sampled once a second and
divided by the cycles its index recorded. Prints the first and the last minute's CPU per
cycle and share of a core, and their ratio: flat is ~1.0. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import SYNCD, devserver, sync  # a sibling script, found by the path above

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    cpu: float  # process CPU seconds
    cycles: int  # sync runs the index has finished


@dataclass(frozen=True)
class Window:
    seconds: float
    cpu: float
    cycles: int

    @property
    def ms_per_cycle(self) -> float:
        return 1000 * self.cpu / self.cycles if self.cycles else float("nan")

    @property
    def core_share(self) -> float:
        return 100 * self.cpu / self.seconds


def process_cpu(pid: int) -> float:
    """utime + stime of every thread of `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of stat(5)


def finished_runs(root: Path) -> int:
    database = root / ".syncd" / "index.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT count(*) FROM sync_runs WHERE ended_at IS NOT NULL").fetchone()
    return int(row[0])


def window(samples: list[Sample], start: float, end: float) -> Window:
    inside = [s for s in samples if start <= s.at <= end]
    first, last = inside[0], inside[-1]
    return Window(last.at - first.at, last.cpu - first.cpu, last.cycles - first.cycles)


def run_idle(url: str, root: Path, args: argparse.Namespace) -> list[Sample]:
    env = os.environ | {
        "SYNCD_BASE_URL": url,
        "SYNCD_API_KEY": "dev-key",
        "SYNCD_ROOT": str(root),
        "SYNCD_LOG_LEVEL": "WARNING",
        "SYNCD_SCHEDULE__SYNC_SECONDS": str(args.interval),
        "SYNCD_SCHEDULE__JITTER_SECONDS": "0",
        "SYNCD_SCHEDULE__RECONCILE_SECONDS": str(args.reconcile),
    }
    daemon = subprocess.Popen([*SYNCD, "run"], env=env, stderr=subprocess.DEVNULL)
    samples: list[Sample] = []
    try:
        started = time.monotonic()
        end = started + args.warmup + 60 * args.minutes
        while time.monotonic() < end:
            time.sleep(1.0)
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited ({daemon.returncode})")
            now = time.monotonic()
            if now - started >= args.warmup:  # start-up and its reconciliation left out
                samples.append(Sample(now, process_cpu(daemon.pid), finished_runs(root)))
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="idle run after warm-up")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--projects", type=int, default=6)
    parser.add_argument("--interval", type=float, default=10.0, help="schedule.sync_seconds")
    parser.add_argument("--reconcile", type=float, default=3600.0, help="reconcile_seconds")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds not measured")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per measured end")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="syncd-idle-") as scratch:
        root = Path(scratch) / "mirror"
        with devserver("--synthetic", str(args.sessions), "--projects", str(args.projects)) as url:
            sync(url, root)
            samples = run_idle(url, root, args)
    begin, finish = samples[0].at, samples[-1].at
    first = window(samples, begin, begin + args.window)
    last = window(samples, finish - args.window, finish)
    total = window(samples, begin, finish)
    print(
        f"idle daemon: {args.sessions} sessions mirrored, sync every {args.interval:.0f} s, "
        f"{total.seconds / 60:.1f} min measured, {total.cycles} cycles"
    )
    for name, part in (("first", first), ("last", last), ("whole", total)):
        print(
            f"{name:>5} {part.seconds:4.0f} s: {part.cycles:3d} cycles, "
            f"{part.ms_per_cycle:7.1f} ms CPU per cycle, {part.core_share:5.2f}% of a core"
        )
    print(f"ratio last/first: {last.ms_per_cycle / first.ms_per_cycle:.2f}x per cycle")


if __name__ == "__main__":
    main()
