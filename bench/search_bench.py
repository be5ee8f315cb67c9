"""Local search on sessions cut from real text, at two sizes, against `grep -ril`.

Run: .venv/bin/python bench/search_bench.py [--sizes 2000 6000]

For each size: sessions made of real corpus paragraphs (bench/realistic.py) are served
by the devserver and synced once (which builds the search index); then
- one query per class, its words chosen from the index's own document frequencies (a
  word most sessions have, one about a tenth have, a rare one, a prefix, a two-word
  phrase found in the text, `a AND b`, `a NOT b`), with how many files grep lists;
- search p50/p95 in process (the read-only path `syncd search` takes), `grep -ril` over
  the mirror for the same query, and the ratio;
- `syncd search` end to end (a fresh process) against the same grep;
- the search index's bytes against the mirror's, and what checking it is current costs;
- at the last size, the time a git commit of a 50-file change takes in the archive.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from realistic import write_sessions

from syncd.app.searching import file_reader
from syncd.archive.git import ChangeSummary, GitArchive
from syncd.cloud.client import CloudClient
from syncd.devserver import DevServer
from syncd.index.reader import open_reader
from syncd.index.search_reader import find, is_current
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine

RUNS = 20
GREP_RUNS = 3
CLI_RUNS = 5
_WORD = re.compile(r"[a-z]{4,}")
_PAIR = re.compile(r"(?<![\w-])([a-z]{4,}) ([a-z]{4,})(?![\w-])")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 6000])
    parser.add_argument("--projects", type=int, default=20)
    args = parser.parse_args()
    for sessions in args.sizes:
        with tempfile.TemporaryDirectory(prefix="syncd-search-") as scratch:
            run_size(Path(scratch), sessions, args.projects)
            if sessions == args.sizes[-1]:
                git_commit(Path(scratch) / "mirror")


def run_size(scratch: Path, sessions: int, projects: int) -> None:
    written = write_sessions(scratch / "corpus", sessions, projects)
    root = scratch / "mirror"
    database = f"sqlite:///{root / '.syncd' / 'index.db'}"
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        server.seed_from_folder(written.root)
        started = time.perf_counter()
        with Store.open(database) as store, CloudClient(server.url, "k") as client:
            engine = SyncEngine(client, store, Mirror(root))
            report = engine.run_once()
            engine.update_search_index()  # as `syncd sync --once` does
        elapsed = time.perf_counter() - started
    mirror_bytes = sum(p.stat().st_size for p in root.rglob("*.md"))
    db = root / ".syncd" / "index.db"
    print(f"\n== {sessions} sessions ({report.new} mirrored and indexed in {elapsed:.0f} s)")
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index_bytes = connection.execute(
        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'session_search%'"
    ).fetchone()[0]
    print(
        f"mirror {mirror_bytes / 1e6:.0f} MB; search index {index_bytes / 1e6:.1f} MB = "
        f"{index_bytes / mirror_bytes:.1%} of the mirror (whole index.db "
        f"{db.stat().st_size / 1e6:.0f} MB)"
    )
    checks = []
    for _ in range(RUNS):
        t = time.perf_counter()
        reader = open_reader(database)
        current = reader is not None and is_current(reader)
        checks.append(time.perf_counter() - t)
        if reader is not None:
            reader.close()
        if not current:
            sys.exit("the search index is not current after the sync")
    check_ms = statistics.median(checks) * 1000
    print(f"opening the index and checking it is current: {check_ms:.1f} ms")
    read_file = file_reader(root)
    env = os.environ | {"SYNCD_ROOT": str(root)}
    syncd = str(Path(sys.executable).with_name("syncd"))
    print(
        f"  {'class':9} {'query':28} {'files':>5}  {'p50':>7} {'p95':>7}  {'grep -ril':>9}  "
        f"{'ratio':>6}  {'syncd search':>12}  {'vs grep':>7}"
    )
    for label, query, grep in choose_queries(connection, root):
        ours = []
        for _ in range(RUNS):
            t = time.perf_counter()
            find(connection, query, read_file, limit=20)
            ours.append(time.perf_counter() - t)
        greps, listed = [], 0
        for _ in range(GREP_RUNS):
            t = time.perf_counter()
            done = subprocess.run(grep, shell=True, capture_output=True, text=True, check=False)
            greps.append(time.perf_counter() - t)
            listed = len(done.stdout.splitlines())
        clis = []
        for _ in range(CLI_RUNS):
            t = time.perf_counter()
            subprocess.run([syncd, "search", query], env=env, capture_output=True, check=True)
            clis.append(time.perf_counter() - t)
        p50, p95 = percentile(ours, 0.5), percentile(ours, 0.95)
        grep_median, cli_median = statistics.median(greps), statistics.median(clis)
        print(
            f"  {label:9} {query:28} {listed:5}  {p50 * 1000:5.1f}ms {p95 * 1000:5.1f}ms  "
            f"{grep_median * 1000:7.0f}ms  {grep_median / p50:5.0f}x  "
            f"{cli_median * 1000:10.0f}ms  {grep_median / cli_median:6.1f}x"
        )
    connection.close()


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


def choose_queries(connection: sqlite3.Connection, root: Path) -> list[tuple[str, str, str]]:
    """(class, query, grep pipeline) per class, from the words the sessions really hold."""
    connection.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.words USING fts5vocab(main, session_search, row)"
    )
    total = connection.execute("SELECT count(*) FROM session_search_docs").fetchone()[0]
    frequencies = {
        term: docs
        for term, docs in connection.execute("SELECT term, doc FROM temp.words")
        if _WORD.fullmatch(term)
    }

    def nearest(share: float) -> str:
        return min(frequencies, key=lambda t: (abs(frequencies[t] - share * total), t))

    common = "error" if frequencies.get("error", 0) > total / 3 else nearest(0.6)
    mid = nearest(0.1)
    rare = nearest(8 / total)
    prefix = next((t[:6] for t in sorted(frequencies) if t.startswith("migrat")), mid[:5])
    phrase = common_phrase(root)
    quoted = f"{_grep(root)} -e {{}}"
    return [
        ("common", common, quoted.format(common)),
        ("mid", mid, quoted.format(mid)),
        ("rare", rare, quoted.format(rare)),
        ("prefix", f"{prefix}*", quoted.format(prefix)),
        ("phrase", f'"{phrase}"', quoted.format(f"'{phrase}'")),
        ("and", f"{common} AND {mid}", f"{quoted.format(common)} | xargs -r grep -il {mid}"),
        ("not", f"{common} NOT {mid}", f"{quoted.format(common)} | xargs -r grep -iL {mid}"),
    ]


def common_phrase(root: Path) -> str:
    """A two-word phrase of prose found in about a tenth of a sample of the sessions."""
    files = sorted(root.rglob("*.md"))[::10][:200]
    counts: Counter[str] = Counter()
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        counts.update({f"{a} {b}" for a, b in _PAIR.findall(text)})
    return min(counts, key=lambda p: (abs(counts[p] - len(files) / 10), p))


def _grep(root: Path) -> str:
    return f"grep -ril --include='*.md' --exclude-dir=.syncd {root}"


if __name__ == "__main__":
    main()
