"""Local search and the git archive at 10,000 sessions.

Run: .venv/bin/python bench/search_bench.py [--sessions 10000]

- the first sync (which builds the search index as it goes) and a rebuild of the index;
- search p50/p95 latency for 5 representative queries versus `grep -ril` over the tree
  (same words), and the ratio; plus what `syncd search` adds to check the index is current;
- the search index's size as a share of the mirror's bytes;
- the time a git commit of a 50-file change takes in the 10,000-file archive.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from syncd.archive.git import ChangeSummary, GitArchive
from syncd.cloud.client import CloudClient
from syncd.devserver import DevServer
from syncd.index.search import reindex_all, search
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from syncd.sync.searching import refresh_search_index

# Topic words of the synthetic sessions (each topic is in a few percent of them, as in the
# corpus); grep gets the same words, one pass per word it must find.
QUERIES = [
    ("flaky", ["flaky"]),
    ('"dark mode"', ["dark mode"]),
    ("migrat*", ["migrat"]),
    ("upload AND windows", ["upload", "windows"]),
    ("auth NOT test", ["auth"]),
]
RUNS = 20


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-search-") as scratch:
        root = Path(scratch) / "mirror"
        database = f"sqlite:///{root / '.syncd' / 'index.db'}"
        with DevServer(api_key="k", port=0, rate_limit=None) as server:
            server.seed_synthetic(args.sessions, 50)
            started = time.perf_counter()
            with Store.open(database) as store, CloudClient(server.url, "k") as client:
                engine = SyncEngine(client, store, Mirror(root))
                report = engine.run_once()
                engine.update_search_index()  # as `syncd sync --once` does
            print(
                f"mirrored and indexed {report.new} sessions in "
                f"{time.perf_counter() - started:.0f} s"
            )
        with Store.open(database) as store:
            started = time.perf_counter()
            refresh_search_index(store, Mirror(root))
            print(f"checking the index is current: {(time.perf_counter() - started) * 1000:.0f} ms")
            reindex_all(store.engine, [])
            started = time.perf_counter()
            refresh_search_index(store, Mirror(root))
            print(f"rebuilt the search index from nothing in {time.perf_counter() - started:.0f} s")
        mirror_bytes = sum(p.stat().st_size for p in root.rglob("*.md"))
        db = root / ".syncd" / "index.db"
        with Store.open(database) as store:
            store.engine.dispose()
            with store.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                pages = connection.exec_driver_sql(
                    "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'session_search%'"
                ).scalar()
            print(f"mirror: {mirror_bytes / 1e6:.0f} MB in {report.new} files")
            print(
                f"search index: {(pages or 0) / 1e6:.0f} MB = {(pages or 0) / mirror_bytes:.0%} "
                f"of the mirror (whole index.db {db.stat().st_size / 1e6:.0f} MB)"
            )
            for query, words in QUERIES:
                ours = []
                for _ in range(RUNS):
                    t = time.perf_counter()
                    hits = search(store.engine, query, limit=20)
                    ours.append(time.perf_counter() - t)
                greps = []
                for _ in range(3):
                    t = time.perf_counter()
                    for word in words:
                        subprocess.run(
                            ["grep", "-ril", "--include=*.md", word, str(root)],
                            capture_output=True,
                            check=False,
                        )
                    greps.append(time.perf_counter() - t)
                p50, p95 = percentile(ours, 0.5), percentile(ours, 0.95)
                grep_median = statistics.median(greps)
                print(
                    f"  {query:24} p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
                    f"grep -ril {grep_median * 1000:7.0f} ms  ratio {grep_median / p50:6.0f}x  "
                    f"({len(hits)} hits)"
                )
        git_commit(root)


def git_commit(root: Path) -> None:
    env_before = dict(os.environ)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    try:
        archive = GitArchive(root)
        archive.ensure_repository()
        files = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.md"))
        started = time.perf_counter()
        first = archive.commit(files, [], [], ChangeSummary(new={"bench": files}))
        print(f"initial commit of {first.files} files: {time.perf_counter() - started:.1f} s")
        changed = files[:50]
        for relative in changed:
            with (root / relative).open("a", encoding="utf-8") as handle:
                handle.write("\nedited\n")
        started = time.perf_counter()
        result = archive.commit(changed, [], [], ChangeSummary(updated={"bench": changed}))
        elapsed = time.perf_counter() - started
        print(
            f"git commit of a 50-file change in a {len(files)}-file archive: {elapsed:.2f} s "
            f"({result.files} files, {'ok' if result.committed else result.error})"
        )
    finally:
        os.environ.clear()
        os.environ.update(env_before)


if __name__ == "__main__":
    main()
