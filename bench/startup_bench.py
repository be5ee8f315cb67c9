"""How long a `syncd` command takes end to end, process start included, next to Python's own.

Run: .venv/bin/python bench/startup_bench.py [--runs 20] [--sessions 60]

Syncs a small mirror (synthetic sessions from the local server) into a temp root first,
then times each command N times in a fresh process and prints the median wall time and
its ratio to `python -c pass`. The figures are only as quiet as the machine: run it idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from syncd.devserver import DevServer

WORD = "flaky"  # a topic word of the synthetic sessions: a search with a few hits


def syncd_command() -> list[str]:
    """The installed `syncd` script beside this Python, else `python -m syncd`."""
    script = Path(sys.executable).with_name("syncd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "syncd"]


def median_seconds(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr!r}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=60)
    args = parser.parse_args()
    syncd = syncd_command()
    with tempfile.TemporaryDirectory(prefix="syncd-startup-") as scratch:
        env = {
            **os.environ,
            "SYNCD_API_KEY": "k",
            "SYNCD_ROOT": str(Path(scratch) / "mirror"),
            "XDG_CONFIG_HOME": str(Path(scratch) / "config"),  # no user config file
        }
        with DevServer(api_key="k", port=0, rate_limit=None) as server:
            server.seed_synthetic(args.sessions, 4)
            env["SYNCD_BASE_URL"] = server.url
            subprocess.run([*syncd, "sync", "--once"], env=env, capture_output=True, check=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "syncd --version": [*syncd, "--version"],
            "syncd --help": [*syncd, "--help"],
            "syncd status": [*syncd, "status"],
            "syncd ls": [*syncd, "ls"],
            f"syncd search {WORD}": [*syncd, "search", WORD],
        }
        print(f"{args.sessions} sessions mirrored; median of {args.runs} runs each")
        print(f"{'command':<22} {'median':>9}  {'x python -c pass':>16}")
        floor = None
        for label, argv in commands.items():
            seconds = median_seconds(argv, env, args.runs)
            floor = floor or seconds
            print(f"{label:<22} {seconds * 1000:>6.0f} ms  {seconds / floor:>15.1f}x")


if __name__ == "__main__":
    main()
