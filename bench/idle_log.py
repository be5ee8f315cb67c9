"""What an idle daemon writes to its log: every line, and how many that makes an hour.

Run: .venv/bin/python bench/idle_log.py [--minutes 10 --interval 60 --log-level INFO
     --compare ../main/.venv/bin/python]

A devserver holds a small mirror's worth of synthetic sessions; `syncd sync --once`
mirrors them; then `syncd run` syncs every --interval seconds with nothing to do, logging
at --log-level. Its stderr is captured as it is (the root is given relative to the
daemon's working folder, so no path of this machine shows), then printed line by line
with the count: start-up lines, lines while idle (per hour), and the lines of stopping.
--compare PYTHON runs the same at the same time with another interpreter (another
checkout's .venv/bin/python runs that checkout's syncd), each against its own devserver.
Nothing is asserted beyond sanity.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import KEY, devserver

STARTUP_SECONDS = 5.0  # lines in the first seconds are start-up and its reconciliation


def daemon_env(url: str, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "NOTIFY_"))}
    env.pop("JOURNAL_STREAM", None)  # the plain format, whatever ran this script
    return env | {
        "SYNCD_BASE_URL": url,
        "SYNCD_API_KEY": KEY,
        "SYNCD_ROOT": "mirror",  # relative to the daemon's working folder
        "SYNCD_LOG_LEVEL": args.log_level,
        "SYNCD_SCHEDULE__SYNC_SECONDS": str(args.interval),
        "SYNCD_SCHEDULE__JITTER_SECONDS": "0",
        "SYNCD_SCHEDULE__RECONCILE_SECONDS": str(args.reconcile),
    }


def cycles_by_kind(root: Path) -> dict[str, int]:
    """The daemon's finished runs by kind (the first sync, `once`, left out)."""
    database = root / ".syncd" / "index.db"
    query = "SELECT kind, count(*) FROM sync_runs WHERE ended_at IS NOT NULL GROUP BY kind"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return {str(kind): int(n) for kind, n in db.execute(query) if kind != "once"}


Result = tuple[list[tuple[float, str]], float, dict[str, int]]


def run(args: argparse.Namespace, python: str, stop: threading.Event) -> Result:
    """The daemon's lines, each with the seconds since it started; the seconds it ran; its
    cycles by kind. `python` runs syncd (another checkout's interpreter runs its syncd)."""
    syncd = [python, "-m", "syncd"]
    seeded = ("--synthetic", str(args.sessions), "--projects", str(args.projects))
    lines: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory(prefix="syncd-log-") as scratch, devserver(*seeded) as url:
        env = daemon_env(url, args)
        done = subprocess.run(
            [*syncd, "sync", "--once"], env=env, cwd=scratch, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"the first sync failed: {done.stderr.decode().strip()}")
        started = time.monotonic()
        daemon = subprocess.Popen(
            [*syncd, "run"], env=env, cwd=scratch, stderr=subprocess.PIPE, text=True
        )
        assert daemon.stderr is not None
        reader = threading.Thread(
            target=lambda: lines.extend(
                (time.monotonic() - started, line.rstrip("\n")) for line in daemon.stderr or ()
            ),
            daemon=True,
        )
        reader.start()
        end = started + 60 * args.minutes
        while not stop.wait(1.0) and time.monotonic() < end:
            if daemon.poll() is not None:
                break
        ran = time.monotonic() - started
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        reader.join(timeout=10)
        cycles = cycles_by_kind(Path(scratch) / "mirror")
    return lines, ran, cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the daemon runs")
    parser.add_argument("--interval", type=float, default=60.0, help="schedule.sync_seconds")
    parser.add_argument("--reconcile", type=float, default=3600.0, help="reconcile_seconds")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--projects", type=int, default=6)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.add_argument(
        "--compare", metavar="PYTHON", help="also run another checkout's syncd beside it"
    )
    args = parser.parse_args()

    print(
        f"idle daemon at {args.log_level}: {args.sessions} sessions mirrored, sync every "
        f"{args.interval:g} s, {args.minutes:g} min",
        flush=True,
    )
    stop = threading.Event()  # SIGTERM or Ctrl-C ends the runs early, reported as they are
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    results: dict[str, Result] = {}
    runs = [("this syncd", sys.executable)] + (
        [("--compare", args.compare)] if args.compare else []
    )
    threads = [
        threading.Thread(target=lambda n=name, p=python: results.update({n: run(args, p, stop)}))
        for name, python in runs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, _ in runs:
        print(f"=== {name} ===")
        report(args, *results[name])
    if len(results) == 2:
        ours, theirs = (idle_per_hour(*results[name]) for name, _ in runs)
        print(f"idle lines per hour, side by side: {ours:.1f} here, {theirs:.1f} --compare")


def idle_per_hour(lines: list[tuple[float, str]], ran: float, _: object) -> float:
    idle = sum(1 for at, _ in lines if STARTUP_SECONDS <= at < ran)
    return idle * 3600 / max(ran - STARTUP_SECONDS, 1.0)


def report(
    args: argparse.Namespace, lines: list[tuple[float, str]], ran: float, cycles: dict[str, int]
) -> None:
    print("--- the daemon's log, as written ---")
    for _, line in lines:
        print(line)
    print("---")
    startup = sum(1 for at, _ in lines if at < STARTUP_SECONDS)
    idle = sum(1 for at, _ in lines if STARTUP_SECONDS <= at < ran)
    stopping = len(lines) - startup - idle
    idle_seconds = max(ran - STARTUP_SECONDS, 1.0)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(cycles.items()))
    print(
        f"{len(lines)} lines in {ran / 60:.1f} min: {startup} at start-up (first "
        f"{STARTUP_SECONDS:g} s), {idle} while idle, {stopping} when stopped; "
        f"{sum(cycles.values())} cycles ran ({kinds})"
    )
    print(f"lines per hour while idle: {idle * 3600 / idle_seconds:.1f}")


if __name__ == "__main__":
    main()
