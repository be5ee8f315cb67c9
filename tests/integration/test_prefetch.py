"""A first sync fetches new sessions' bodies a few steps ahead; each still lands, fails or
is retried as its own step, and every body is one budgeted request."""

from __future__ import annotations

import pytest

from syncd.devserver import DevServer, Fault
from syncd.index import search
from syncd.mirror import frontmatter
from syncd.sync import executor, prefetch
from tests.integration.conftest import Harness

SESSION = "{:08d}-0000-4000-8000-000000000000"


def seed(server: DevServer, count: int) -> dict[str, bytes]:
    """`count` sessions over two projects, more than the prefetcher holds ahead."""
    projects = [server.add_project(name, project_id=f"proj_{name}") for name in ("a", "b")]
    bodies = {}
    for n in range(count):
        sid = SESSION.format(n)
        bodies[sid] = f"# Session {n}\n\n_**User**_\n\n{'word ' * (n * 50)}\n".encode()
        server.put_session(projects[n % 2], session_id=sid, name=f"S {n}", markdown=bodies[sid])
    return bodies


def body_gets(server: DevServer) -> list[str]:
    return [r.path for r in server.requests if r.method == "GET" and r.path.count("/") == 6]


def landed_bodies(harness: Harness) -> dict[str, bytes]:
    found = {}
    for data in harness.session_files().values():
        mapping, body = frontmatter.split(data)
        found[str(mapping["id"])] = body
    return found


def test_every_body_is_fetched_once_and_lands_byte_identical(harness: Harness) -> None:
    count = prefetch.AHEAD * 4
    bodies = seed(harness.server, count)
    report = harness.sync()
    assert (report.new, report.failed) == (count, 0)
    assert landed_bodies(harness) == bodies
    gets = body_gets(harness.server)
    assert len(gets) == len(set(gets)) == count
    # Bodies too big to wait in memory wait in unnamed files: nothing is left behind.
    assert not [p for p in (harness.root / ".syncd").iterdir() if p.name.startswith("tmp")]


def test_a_body_that_fails_ahead_fails_only_its_own_step(harness: Harness) -> None:
    bodies = seed(harness.server, prefetch.AHEAD * 2)
    broken = SESSION.format(3)
    harness.server.inject(Fault(kind="status", status=500, path=f"{broken}$", times=-1))
    report = harness.sync()
    assert (report.new, report.failed) == (len(bodies) - 1, 1)
    assert set(landed_bodies(harness)) == set(bodies) - {broken}
    harness.server.clear_faults()
    again = harness.sync()
    assert (again.new, again.failed) == (1, 0)
    assert landed_bodies(harness) == bodies


def test_a_body_cut_short_ahead_is_fetched_again_by_its_step(harness: Harness) -> None:
    bodies = seed(harness.server, prefetch.AHEAD * 2)
    cut = SESSION.format(5)
    harness.server.inject(Fault(kind="truncate", path=f"{cut}$", times=1))
    report = harness.sync()
    assert (report.new, report.failed) == (len(bodies), 0)
    assert landed_bodies(harness) == bodies
    assert sum(path.endswith(cut) for path in body_gets(harness.server)) == 2


def test_search_catches_up_while_a_big_first_sync_lands(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.server, 12)
    calls: list[int] = []
    monkeypatch.setattr(executor, "SEARCH_EVERY_BYTES", 1000)
    real = executor.Executor._landed

    def counted(self: executor.Executor, size: int) -> None:
        calls.append(size)
        real(self, size)

    monkeypatch.setattr(executor.Executor, "_landed", counted)
    harness.sync()  # the sync alone, without the search refresh a full cycle ends with
    with harness.store() as store:
        stale, gone = search.out_of_date(store.engine)
    assert len(calls) == 12
    # Every session but those landed after the last catch-up is searchable already.
    assert len(stale) < 12
    assert gone == []
