"""Search on PostgreSQL against search on SQLite, on one mirror of real text.

Run: SYNCD_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
     .venv/bin/python bench/pg_search_bench.py [--sessions 1000]
(or `scripts/postgres-for-tests .venv/bin/python bench/pg_search_bench.py`)

Sessions cut from the real corpus (bench/realistic.py) are served by the devserver and
synced once into a SQLite index; a new database on the PostgreSQL server gets the same
index from the same files (`db rebuild`'s path). Then, side by side in this process:
- building the search index from every file, on each backend;
- the search index's size on each;
- per query class (words chosen from the corpus's own frequencies, as search_bench.py
  chooses them): p50/p95 of a search of 20 hits through the same call on both backends
  (snippets included), SQLite's standard-library path (what `syncd search` takes on a
  current SQLite file) beside them, the PostgreSQL/SQLite ratio, and how many of SQLite's
  20 hits PostgreSQL finds too.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from realistic import write_sessions
from search_bench import choose_queries, percentile
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syncd.app.searching import file_reader
from syncd.cloud.client import CloudClient
from syncd.devserver import DevServer
from syncd.index import search
from syncd.index.search_reader import find
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine
from syncd.sync.rebuild import rebuild_index
from syncd.sync.searching import rebuild_search_index

RUNS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=20)
    args = parser.parse_args()
    server_url = os.environ.get("SYNCD_TEST_POSTGRES_URL")
    if not server_url:
        sys.exit("set SYNCD_TEST_POSTGRES_URL (scripts/postgres-for-tests starts a server)")
    name = f"syncd_bench_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        database = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory(prefix="syncd-pgbench-") as scratch:
            run(Path(scratch), args.sessions, args.projects, database)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(scratch: Path, sessions: int, projects: int, postgres_url: str) -> None:
    written = write_sessions(scratch / "corpus", sessions, projects)
    root = scratch / "mirror"
    sqlite_url = f"sqlite:///{root / '.syncd' / 'index.db'}"
    with DevServer(api_key="k", port=0, rate_limit=None) as server:
        server.seed_from_folder(written.root)
        with Store.open(sqlite_url) as store, CloudClient(server.url, "k") as client:
            report = SyncEngine(client, store, Mirror(root)).run_once()
    mirror_bytes = sum(p.stat().st_size for p in root.rglob("*.md"))
    print(f"== {report.new} sessions, mirror {mirror_bytes / 1e6:.0f} MB")
    with Store.open(sqlite_url) as lite, Store.open(postgres_url) as pg:
        rebuild_index(Mirror(root), pg)
        for label, store in (("SQLite", lite), ("PostgreSQL", pg)):
            started = time.perf_counter()
            rebuild_search_index(store, Mirror(root))
            print(f"search index of every file, {label}: {time.perf_counter() - started:.1f} s")
        print(
            f"search index size: SQLite {_sqlite_bytes(root) / 1e6:.1f} MB, "
            f"PostgreSQL {_pg_bytes(pg) / 1e6:.1f} MB, "
            f"{_pg_bytes(pg, vacuum=True) / 1e6:.1f} MB once vacuumed"
        )
        read_file = file_reader(root)
        connection = sqlite3.connect(root / ".syncd" / "index.db")
        print(
            f"  {'class':7} {'query':28} {'SQLite p50':>10} {'p95':>7} {'stdlib p50':>10} "
            f"{'PG p50':>8} {'p95':>7} {'PG/SQLite':>9} {'same hits':>9}"
        )
        for label, query, _grep in choose_queries(connection, root):
            lite_times = _times(lambda q=query: search.search(lite.engine, q, read_file=read_file))
            stdlib = _times(lambda q=query: find(connection, q, read_file, limit=20))
            pg_times = _times(lambda q=query: search.search(pg.engine, q, read_file=read_file))
            pg_ids = [h.session_id for h in search.search(pg.engine, query, read_file=read_file)]
            lite_ids = [
                h.session_id for h in search.search(lite.engine, query, read_file=read_file)
            ]
            if not pg_ids:
                print(f"  (no PostgreSQL hits for {query!r})")
            same = len(set(pg_ids) & set(lite_ids))
            lite50, pg50 = percentile(lite_times, 0.5), percentile(pg_times, 0.5)
            print(
                f"  {label:7} {query:28} {lite50 * 1000:8.1f}ms "
                f"{percentile(lite_times, 0.95) * 1000:5.1f}ms "
                f"{percentile(stdlib, 0.5) * 1000:8.1f}ms {pg50 * 1000:6.1f}ms "
                f"{percentile(pg_times, 0.95) * 1000:5.1f}ms {pg50 / lite50:8.1f}x "
                f"{same:>4}/{len(lite_ids)}"
            )
        connection.close()


def _times(call: object) -> list[float]:
    assert callable(call)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _sqlite_bytes(root: Path) -> int:
    connection = sqlite3.connect(root / ".syncd" / "index.db")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (size,) = connection.execute(
        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'session_search%'"
    ).fetchone()
    connection.close()
    return int(size)


def _pg_bytes(store: Store, *, vacuum: bool = False) -> int:
    """The search tables with their indexes and TOAST; `vacuum`: after VACUUM, which
    also merges the GIN indexes' pending lists (autovacuum does both in time)."""
    if vacuum:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE session_search_docs, session_search_parts"))
    with store.engine.connect() as connection:
        size = connection.execute(
            text(
                "SELECT pg_total_relation_size('session_search_docs') "
                "+ pg_total_relation_size('session_search_parts')"
            )
        ).scalar()
    return int(size or 0)


if __name__ == "__main__":
    main()
