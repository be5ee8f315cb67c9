"""Partial failures never hide a change for good: the next clean cycle converges.

Each test reproduces a way an earlier cycle could leave state that made later cycles
skip work (a saved listing ETag, an index row ahead of git) and checks the next clean
cycle ends right.
"""

from __future__ import annotations

import resource
import signal

import pytest

from syncd.devserver import DevServer, Fault
from syncd.errors import CloudUnavailableError
from syncd.index.store import Store
from syncd.mirror import frontmatter
from tests.crashing import run_in_child
from tests.integration.conftest import Harness
from tests.integration.test_incremental_and_deletions import engine_run, seed_project

LISTING = r"^/api/v1/projects/{}/sessions$"


def two_projects(server: DevServer) -> list[str]:
    """Project 'Big' with eight sessions and project 'Other' with two."""
    ids = seed_project(server, 8)
    server.add_project("Other", project_id="proj_other")
    for n in range(2):
        server.put_session("proj_other", session_id=f"other-{n}", name=f"o{n}", markdown="# o\n")
    return ids


def trashed(harness: Harness) -> list[str]:
    return sorted(p.name for p in (harness.root / ".trash").rglob("*.md"))


def test_a_deletion_survives_another_projects_failed_listing(harness: Harness) -> None:
    ids = two_projects(harness.server)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    harness.server.inject(Fault(kind="status", path=LISTING.format("proj_other"), times=-1))
    failed = engine_run(harness)
    assert failed.failed
    assert not failed.deleted  # an incomplete listing deletes nothing
    harness.server.clear_faults()

    report = engine_run(harness)

    assert (report.deleted, report.failed) == (1, 0)
    assert [name for name in trashed(harness) if ids[0][:8] in name]


def test_another_projects_failed_download_does_not_hold_up_a_deletion(harness: Harness) -> None:
    ids = two_projects(harness.server)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    harness.server.put_session("proj_other", session_id="other-0", name="o0", markdown="# v2\n")
    harness.server.inject(Fault(kind="status", path="/sessions/other-0$", times=-1))
    # Every listing was read: the deletion is sure, whatever a download does.
    first = engine_run(harness)
    assert (first.deleted, first.failed) == (1, 1)
    harness.server.clear_faults()
    harness.server.clear_requests()

    report = engine_run(harness)

    assert (report.deleted, report.updated, report.failed) == (0, 1, 0)
    other = [r for r in harness.server.requests if r.path.endswith("proj_other/sessions")]
    assert [r.if_none_match for r in other] == [None]  # never settled on the failed listing


def test_an_incremental_listing_never_settles_a_project_with_a_missing_session(
    harness: Harness,
) -> None:
    ids = two_projects(harness.server)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    harness.server.add_project("New", project_id="proj_new")  # makes the cycle list all
    harness.server.put_session("proj_new", session_id="new-1", name="n", markdown="# n\n")
    assert engine_run(harness, incremental=True).new == 1  # lists, but never deletes

    assert engine_run(harness).deleted == 1


def test_a_session_that_still_answers_keeps_its_project_listed_in_full(
    harness: Harness,
) -> None:
    ids = two_projects(harness.server)
    engine_run(harness)
    hidden = Fault(
        kind="body",
        path=LISTING.format("proj_big"),
        body=b'{"success": true, "data": {"sessions": [], "total": 0}}',
    )
    harness.server.inject(hidden)  # a listing that forgets a session that still exists
    # The guard refuses to trash all eight; nothing is removed and nothing settles.
    assert engine_run(harness).deleted == 0
    harness.server.clear_requests()
    engine_run(harness)
    big = [r for r in harness.server.requests if r.path.endswith("proj_big/sessions")]
    assert [r.if_none_match for r in big] == [None]
    assert len(list((harness.root / "big").glob("*-aaaa*.md"))) == len(ids)


def test_a_reset_listing_costs_one_retry_not_a_failed_project(harness: Harness) -> None:
    two_projects(harness.server)
    harness.server.inject(Fault(kind="reset", path=LISTING.format("proj_other")))
    report = engine_run(harness)
    assert (report.new, report.failed) == (10, 0)
    lists = [r for r in harness.server.requests if r.path.endswith("proj_other/sessions")]
    assert len(lists) == 2


def test_a_truncated_or_malformed_listing_is_retried(harness: Harness) -> None:
    two_projects(harness.server)
    harness.server.inject(Fault(kind="truncate", path=LISTING.format("proj_other")))
    harness.server.inject(Fault(kind="body", path=LISTING.format("proj_big"), body=b'{"succ'))
    harness.server.inject(Fault(kind="reset", path=r"^/api/v1/projects$"))
    report = engine_run(harness)
    assert (report.new, report.failed) == (10, 0)


def test_a_reset_recent_page_is_retried(harness: Harness) -> None:
    two_projects(harness.server)
    engine_run(harness)
    harness.server.put_session("proj_other", session_id="other-1", name="o1", markdown="# 2\n")
    harness.server.inject(Fault(kind="reset", path=r"^/api/v1/sessions/recent$"))
    report = engine_run(harness, incremental=True)
    assert (report.updated, report.failed) == (1, 0)


def test_a_cycle_that_fails_as_a_whole_is_recorded_as_failed(harness: Harness) -> None:
    two_projects(harness.server)
    harness.server.inject(Fault(kind="status", path=r"^/api/v1/projects$", times=-1))
    with pytest.raises(CloudUnavailableError):  # the caller reports it; the run record too
        engine_run(harness)
    with Store.open(harness.database_url) as store:
        (run,) = store.runs()
    assert not run.succeeded
    assert run.outcome == "failed"
    assert run.failed == 0  # no session failed: the cycle did
    assert any("unavailable" in error for error in run.errors), run.errors


def test_a_full_disk_fails_the_write_in_hand_and_loses_nothing(harness: Harness) -> None:
    harness.server.add_project("Big", project_id="proj_big")
    big_v1 = ("Old paragraph about the login form and its token.\n" * 60_000).encode()
    harness.server.put_session("proj_big", session_id="big-1", name="big", markdown=big_v1)
    harness.server.put_session("proj_big", session_id="small-1", name="small", markdown="# a\n")
    harness.sync()
    (big_file,) = (harness.root / "big").glob("*-big-1*.md")
    before = big_file.read_bytes()
    big_v2 = big_v1 + b"And one more line.\n"
    harness.server.put_session("proj_big", session_id="big-1", name="big", markdown=big_v2)
    harness.server.put_session("proj_big", session_id="small-1", name="small", markdown="# b\n")

    def sync_on_a_nearly_full_disk() -> None:
        # Writing past 1 MB fails in this process as on a full disk (EFBIG for ENOSPC).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        harness.sync()

    child = run_in_child(sync_on_a_nearly_full_disk)

    assert child.error is None, child.error
    assert big_file.read_bytes() == before  # the old version, whole
    assert not list(harness.root.rglob("*.syncd-tmp"))
    with Store.open(harness.database_url) as store:
        run = store.runs()[0]
    assert (run.outcome, run.failed, run.updated) == ("failed", 1, 1)
    assert "big-1" in run.errors[0]
    report = harness.sync()  # space again: the next run lands it
    assert (report.updated, report.failed) == (1, 0)
    assert frontmatter.split(big_file.read_bytes())[1] == big_v2
