"""How long a `syncd` command takes end to end, process start included, next to Python's own.

Run: .venv/bin/python bench/startup_bench.py [--runs 20] [--sessions 2000]

Syncs a mirror (synthetic sessions from the local server) into a temp root first, then
times each command N times in a fresh process, round after round of every command, and
prints the median wall time and the median CPU time (user + system, which a busy machine
inflates less), each with its ratio to `python -c pass`. `status`, `ls` and `show` are
timed twice: as they run (a current SQLite index, read with the standard library) and
through SQLAlchemy (the path an older index or another database takes, forced by a
database URL with an option). Each command runs once unmeasured first, with bytecode
caching on, as an installed package has it. The figures are only as quiet as the
machine: run it idle.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from syncd.devserver import DevServer

WORD = "flaky"  # a topic word of the synthetic sessions: a search with a few hits


def syncd_command() -> list[str]:
    """The installed `syncd` script beside this Python, else `python -m syncd`."""
    script = Path(sys.executable).with_name("syncd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "syncd"]


@dataclass
class Timings:
    """Wall and CPU (user + system) seconds of each run of one command."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def time_once(argv: list[str], env: dict[str, str], into: Timings) -> None:
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    into.wall.append(time.perf_counter() - started)
    into.cpu.append(_children_cpu() - cpu_before)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr!r}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
        timings = {label: Timings() for label in commands}
        for argv, command_env in commands.values():  # warm-up: bytecode written, files cached
            subprocess.run(argv, env=command_env, capture_output=True, check=False)
        # Round after round of every command, so a busy spell slows them all alike.
        for _ in range(args.runs):
            for label, (argv, command_env) in commands.items():
                time_once(argv, command_env, timings[label])
        print(f"{args.sessions} sessions mirrored; median of {args.runs} runs each", end="")
        print(f" (load average {os.getloadavg()[0]:.1f} at the end)")
        print(f"{'command':<28} {'wall':>8} {'x pass':>7} {'cpu':>8} {'x pass':>7}")
        floor = timings["python -c pass"]
        wall_floor, cpu_floor = statistics.median(floor.wall), statistics.median(floor.cpu)
        for label, timing in timings.items():
            wall, cpu = statistics.median(timing.wall), statistics.median(timing.cpu)
            print(
                f"{label:<28} {wall * 1000:>5.0f} ms {wall / wall_floor:>6.1f}x"
                f" {cpu * 1000:>5.0f} ms {cpu / cpu_floor:>6.1f}x"
            )


if __name__ == "__main__":
    main()
