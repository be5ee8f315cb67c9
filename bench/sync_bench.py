"""First-sync throughput against the disk and the server it reads from, side by side.

Run: .venv/bin/python bench/sync_bench.py [--sizes 500 2000 --projects 20 --huge-mb 200]
     [--baseline OTHER_CHECKOUT]  (its first sync too, beside this one's)

Sessions are cut from the real SpecStory corpus (bench/realistic.py) and served by
`syncd devserver --corpus` in its own process. For each size, in this one script:

  (a) disk floor: each body written to a temp file, fsync, rename into a project folder,
      then each folder fsynced once;
  (b) server floor: a keep-alive stdlib http.client fetching the same listings and bodies
      from the same server, one at a time, writing nothing;
  (c) `syncd sync --once` into an empty root, in a fresh process: wall time and peak RSS
      (RUSAGE_CHILDREN of a wrapper whose only child is the sync), and the run's own
      record of when its files and index rows were done (before search indexing);
  (d) `syncd sync --once` again with nothing changed: requests and wall time.

Prints figures and ratios; asserts nothing (benchmarks are read, not pass/fail), except
that a one-huge-session run stays under the memory ceiling the design promises.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from realistic import write_sessions  # bench/ is on the path when run as a script

RSS_CEILING_MB = 150
SYNCD = [sys.executable, "-m", "syncd"]
API = "/api/v1"
KEY = "dev-key"


@dataclass(frozen=True)
class SyncRun:
    seconds: float  # the process, start to exit (search indexing included)
    # User + system of the sync process: steadier than wall time on a shared machine.
    cpu_seconds: float
    peak_rss_mb: float
    requests: int
    not_modified: int


@contextmanager
def devserver(*args: str) -> Iterator[str]:
    """A `syncd devserver` subprocess (so its CPU and memory are not ours); yields its URL
    once it answers."""
    process = subprocess.Popen(
        [*SYNCD, "devserver", "--port", "0", "--api-key", KEY, *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if not match:
            raise RuntimeError(f"devserver did not start: {line!r}")
        _get(match.group(1), f"{API}/projects")  # seeded and answering
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str, path: str) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    connection.request("GET", path, headers={"Authorization": f"Bearer {KEY}"})
    return connection.getresponse().read()


def _env(url: str, root: Path) -> dict[str, str]:
    return os.environ | {
        "SYNCD_BASE_URL": url,
        "SYNCD_API_KEY": KEY,
        "SYNCD_ROOT": str(root),
        "SYNCD_LOG_LEVEL": "WARNING",
    }


# A wrapper whose only child is the sync, so RUSAGE_CHILDREN is the sync's own peak.
_PEAK_RSS_WRAPPER = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True)
if done.returncode:
    sys.exit(done.stderr.decode())
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print(used.ru_maxrss, used.ru_utime + used.ru_stime)
"""


def sync(url: str, root: Path, checkout: Path | None = None) -> SyncRun:
    """`syncd sync --once` in a fresh process: this checkout's syncd, or `checkout`'s
    (`python -m` imports from the folder it runs in)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_WRAPPER, *SYNCD, "sync", "--once"],
        env=_env(url, root),
        cwd=checkout or Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sync failed ({done.returncode}): {done.stderr.strip()}")
    with sqlite3.connect(root / ".syncd" / "index.db") as db:
        requests, not_modified = db.execute(
            "SELECT requests, not_modified FROM sync_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    peak_kib, cpu = done.stdout.split()[-2:]  # ru_maxrss is in KiB on Linux
    return SyncRun(seconds, float(cpu), int(peak_kib) / 1024, int(requests), int(not_modified))


def plain_write_loop(files: list[Path], source: Path, dest: Path) -> float:
    """The disk floor: the same bodies, write + fsync + rename each, each folder fsynced."""
    bodies = [(path.relative_to(source), path.read_bytes()) for path in files]
    started = time.perf_counter()
    folders: set[Path] = set()
    for number, (relative, data) in enumerate(bodies):
        target = dest / relative
        if target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        temp = target.parent / f".{number}.tmp"
        with temp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(target)
    for folder in folders:
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    return time.perf_counter() - started


def plain_fetch_loop(url: str) -> tuple[float, int, int]:
    """The server floor: every listing and body over one keep-alive connection, in turn.
    Returns (seconds, requests, body bytes)."""
    host, port = url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {KEY}", "Accept-Encoding": "identity"}
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port))
    requests = received = 0

    def get(path: str) -> bytes:
        nonlocal requests
        requests += 1
        connection.request("GET", API + path, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {answer.status}")
        return data

    projects = json.loads(get("/projects"))["data"]["projects"]
    for project in projects:
        listing = json.loads(get(f"/projects/{project['id']}/sessions"))["data"]["sessions"]
        for session in listing:
            received += len(get(f"/projects/{project['id']}/sessions/{session['id']}"))
    connection.close()
    return time.perf_counter() - started, requests, received


def fts_index_loop(files: list[Path], dest: Path) -> float:
    """The search floor: the same bodies into a table shaped like syncd's search index
    (contentless FTS5 with positions, migration 0010), in one transaction."""
    bodies = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    connection = sqlite3.connect(dest)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE VIRTUAL TABLE search USING fts5(name, project, tags, models, body, "
        "content = '', tokenize = 'unicode61 remove_diacritics 2')"
    )
    started = time.perf_counter()
    with connection:
        connection.executemany(
            "INSERT INTO search(rowid, name, project, tags, models, body) "
            "VALUES (?, '', '', '', '', ?)",
            enumerate(bodies, start=1),
        )
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def huge_session_rss(work: Path, megabytes: int) -> float:
    with devserver("--huge-session-mb", str(megabytes), "--projects", "1") as url:
        return sync(url, work / "huge").peak_rss_mb


def bench_size(work: Path, sessions: int, projects: int, baseline: Path | None) -> None:
    corpus = work / f"corpus-{sessions}"
    written = write_sessions(corpus, sessions, projects)
    megabytes = written.total_bytes / 1e6
    disk = plain_write_loop(written.files, corpus, work / f"plain-{sessions}")
    indexing = fts_index_loop(written.files, work / f"fts-{sessions}.db")
    with devserver("--corpus", str(corpus)) as url:
        server, requests, received = plain_fetch_loop(url)
        root = work / f"mirror-{sessions}"
        first = sync(url, root)
        second = sync(url, root)
        before = sync(url, work / f"baseline-{sessions}", baseline) if baseline else None
    print(f"\n{sessions} sessions in {projects} projects, {megabytes:.1f} MB of Markdown")
    rows = [
        ("(a) write+fsync+rename loop", disk, ""),
        (
            "(b) stdlib keep-alive fetch loop",
            server,
            f"{requests} requests, {received / 1e6:.1f} MB",
        ),
        (
            "(c) syncd sync --once, first",
            first.seconds,
            f"{first.requests} requests, CPU {first.cpu_seconds:.1f} s, "
            f"peak RSS {first.peak_rss_mb:.0f} MB",
        ),
        ("(e) FTS5 indexing alone, same text", indexing, "one transaction, no files"),
    ]
    if before is not None:
        rows += [
            (
                "(c0) the same, baseline checkout",
                before.seconds,
                f"{before.requests} requests, CPU {before.cpu_seconds:.1f} s, "
                f"peak RSS {before.peak_rss_mb:.0f} MB",
            ),
        ]
    for label, seconds, note in rows:
        print(f"  {label:36s} {seconds:7.2f} s  {megabytes / seconds:7.1f} MB/s  {note}")
    print(
        f"  (d) second sync, nothing changed     {second.seconds:7.2f} s  "
        f"{second.requests} requests ({second.not_modified} were 304), "
        f"CPU {second.cpu_seconds:.1f} s, peak RSS {second.peak_rss_mb:.0f} MB"
    )
    print(
        f"  ratios: c/a {first.seconds / disk:.2f}x, c/b {first.seconds / server:.2f}x, "
        f"b/a {server / disk:.2f}x, e/a {indexing / disk:.2f}x, "
        f"c/e {first.seconds / indexing:.2f}x"
    )
    if before is not None:
        print(
            f"  baseline: c0/a {before.seconds / disk:.2f}x, "
            f"c0/c {before.seconds / first.seconds:.2f}x, "
            f"CPU c0/c {before.cpu_seconds / first.cpu_seconds:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--huge-mb", type=int, default=200, help="0 skips the streaming run")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout whose first sync runs beside this one's"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as scratch:
        work = Path(scratch)
        for sessions in args.sizes:
            bench_size(work, sessions, args.projects, args.baseline)
        if args.huge_mb:
            peak = huge_session_rss(work, args.huge_mb)
            verdict = "OK" if peak < RSS_CEILING_MB else "OVER"
            print(
                f"\npeak RSS syncing one {args.huge_mb} MB session: {peak:.0f} MB "
                f"(ceiling {RSS_CEILING_MB} MB: {verdict})"
            )


if __name__ == "__main__":
    main()
