"""How long a `syncd` command takes end to end, process start included, next to Python's own.

Run: .venv/bin/python bench/startup_bench.py [--runs 20] [--sessions 2000]

Syncs a mirror (synthetic sessions from the local server) into a temp root first, then
times each command N times in a fresh process and prints the median wall time and its
ratio to `python -c pass`. `status`, `ls` and `show` are timed twice: as they run (a
current SQLite index, read with the standard library) and through SQLAlchemy (the path an
older index or another database takes, forced by a database URL with an option). Each
command runs once unmeasured first, with bytecode caching on, as an installed package
has it. The figures are only as quiet as the machine: run it idle.
"""

from __future__ import annotations

import argparse
import json
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
    subprocess.run(argv, env=env, capture_output=True, check=False)  # warm-up: bytecode, cache
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
    parser.add_argument("--sessions", type=int, default=2000)
    args = parser.parse_args()
    syncd = syncd_command()
    with tempfile.TemporaryDirectory(prefix="syncd-startup-") as scratch:
        root = Path(scratch) / "mirror"
        env = {
            **os.environ,
            "SYNCD_API_KEY": "k",
            "SYNCD_ROOT": str(root),
            "XDG_CONFIG_HOME": str(Path(scratch) / "config"),  # no user config file
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        with DevServer(api_key="k", port=0, rate_limit=None) as server:
            server.seed_synthetic(args.sessions, max(4, args.sessions // 100))
            env["SYNCD_BASE_URL"] = server.url
            subprocess.run([*syncd, "sync", "--once"], env=env, capture_output=True, check=True)
        # The SQLAlchemy path: the stdlib reader declines a URL with options.
        slow = env | {"SYNCD_DATABASE_URL": f"sqlite:///{root / '.syncd' / 'index.db'}?timeout=5"}
        newest = subprocess.run(
            [*syncd, "ls", "--limit", "1", "--json"], env=env, capture_output=True, check=True
        )
        prefix = json.loads(newest.stdout)["id"][:8]
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            "syncd --version": ([*syncd, "--version"], env),
            "syncd --help": ([*syncd, "--help"], env),
        }
        for label, argv in (("status", ["status"]), ("ls", ["ls"]), ("show", ["show", prefix])):
            commands[f"syncd {label}"] = ([*syncd, *argv], env)
            commands[f"syncd {label} (SQLAlchemy)"] = ([*syncd, *argv], slow)
        commands[f"syncd search {WORD}"] = ([*syncd, "search", WORD], env)
        print(f"{args.sessions} sessions mirrored; median of {args.runs} runs each")
        print(f"{'command':<28} {'median':>9}  {'x python -c pass':>16}")
        floor = None
        for label, (argv, command_env) in commands.items():
            seconds = median_seconds(argv, command_env, args.runs)
            floor = floor or seconds
            print(f"{label:<28} {seconds * 1000:>6.0f} ms  {seconds / floor:>15.1f}x")


if __name__ == "__main__":
    main()
