"""Sync throughput, no-change cost and streaming memory, against the local devserver.

Run: .venv/bin/python bench/sync_bench.py [--sessions 2000 --projects 20 --huge-mb 200]

Prints figures and ratios; asserts nothing (benchmarks are read, not pass/fail), except
that the streaming run stays under the memory ceiling the design promises.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RSS_CEILING_MB = 150
SYNCD = [sys.executable, "-m", "syncd"]


@contextmanager
def devserver(*args: str) -> Iterator[str]:
    """A `syncd devserver` subprocess (so its memory is not ours); yields its URL."""
    process = subprocess.Popen(
        [*SYNCD, "devserver", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if not match:
            raise RuntimeError(f"devserver did not start: {line!r}")
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _env(url: str, root: Path) -> dict[str, str]:
    return os.environ | {
        "SYNCD_BASE_URL": url,
        "SYNCD_API_KEY": "dev-key",
        "SYNCD_ROOT": str(root),
        "SYNCD_LOG_LEVEL": "WARNING",
    }


def sync(url: str, root: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [*SYNCD, "sync", "--once"], env=_env(url, root), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sync failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout.splitlines()[0]


# A wrapper whose only child is the sync, so RUSAGE_CHILDREN is the sync's own peak.
_PEAK_RSS_WRAPPER = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True)
if done.returncode:
    sys.exit(done.stderr.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_of_sync_mb(url: str, root: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_WRAPPER, *SYNCD, "sync", "--once"],
        env=_env(url, root),
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux


def last_run_requests(root: Path) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(root / ".syncd" / "index.db") as db:
        row = db.execute(
            "SELECT requests, not_modified FROM sync_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return int(row[0]), int(row[1])


def session_sizes(root: Path) -> list[int]:
    return [p.stat().st_size for p in root.glob("*/*.md") if p.name != "INDEX.md"]


def plain_write_loop(sizes: list[int], folder: Path) -> float:
    """The floor: the same bytes written with write + fsync + rename per file."""
    block = secrets.token_bytes(1 << 20)
    started = time.perf_counter()
    for number, size in enumerate(sizes):
        target = folder / f"{number}.md"
        temp = folder / f".{number}.tmp"
        with temp.open("wb") as handle:
            remaining = size
            while remaining:
                piece = block[: min(remaining, len(block))]
                handle.write(piece)
                remaining -= len(piece)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(target)
    return time.perf_counter() - started


def search_index_rebuild(root: Path) -> float:
    """Seconds to build the mirror's search index from nothing (the first sync's share)."""
    from syncd.index.search import reindex_all
    from syncd.index.store import Store
    from syncd.mirror.writer import Mirror
    from syncd.sync.searching import refresh_search_index

    with Store.open(f"sqlite:///{root / '.syncd' / 'index.db'}") as store:
        reindex_all(store.engine, [])
        started = time.perf_counter()
        refresh_search_index(store, Mirror(root))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--huge-mb", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as scratch:
        work = Path(scratch)
        with devserver("--synthetic", str(args.sessions), "--projects", str(args.projects)) as url:
            root = work / "mirror"
            first, first_line = sync(url, root)
            sizes = session_sizes(root)
            total_mb = sum(sizes) / 1e6
            second, second_line = sync(url, root)
            requests, not_modified = last_run_requests(root)
        indexing = search_index_rebuild(root)
        plain_dir = work / "plain"
        plain_dir.mkdir()
        plain = plain_write_loop(sizes, plain_dir)

        print(f"sessions: {len(sizes)} in {args.projects} projects, {total_mb:.1f} MB of Markdown")
        print(f"first sync:   {first:7.2f} s  {len(sizes) / first:8.1f} sessions/s  ({first_line})")
        print(
            f"second sync:  {second:7.2f} s  {requests} requests ({not_modified} were 304)"
            f"  ({second_line})"
        )
        print(
            f"  of which building the search index: {indexing:.2f} s "
            f"(timed as a rebuild from nothing); without it {first - indexing:.2f} s"
        )
        print(f"plain write loop (write+fsync+rename per file): {plain:.2f} s")
        print(
            f"ratio first sync / plain write loop: {first / plain:.2f}x "
            f"({(first - indexing) / plain:.2f}x without search indexing)"
        )

        with devserver("--huge-session-mb", str(args.huge_mb), "--projects", "1") as url:
            peak = peak_rss_of_sync_mb(url, work / "huge")
        verdict = "OK" if peak < RSS_CEILING_MB else "OVER"
        print(
            f"peak RSS syncing one {args.huge_mb} MB session: {peak:.0f} MB "
            f"(ceiling {RSS_CEILING_MB} MB: {verdict})"
        )


if __name__ == "__main__":
    main()
