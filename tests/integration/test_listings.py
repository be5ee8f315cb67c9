"""Listings that are incomplete are never taken as complete, and odd-but-legal answers
(pages, repeated ids, a bare recent array, lone surrogates) are handled item by item."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from syncd.cli import run
from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.devserver import DevServer, ListingShape
from syncd.index.store import Store
from syncd.mirror import frontmatter
from syncd.mirror.writer import Mirror
from syncd.push.pullstory import PullStoryClient
from syncd.push.queue import PushQueue
from syncd.push.selection import enqueue, resolve_session
from syncd.sync.engine import SyncEngine
from syncd.sync.report import CycleReport
from tests.fakes.pullstory import PullStoryServer
from tests.integration.conftest import NO_WAIT, FakeClock, Harness
from tests.integration.test_push import session_markdown

ALREADY_GENERATING = "Another request is already generating this story"


def seed(server: DevServer, projects: int, per_project: int) -> dict[str, list[str]]:
    """`projects` projects (proj_0...) of `per_project` sessions each; project -> ids."""
    seeded: dict[str, list[str]] = {}
    for p in range(projects):
        project_id = server.add_project(f"Project {p}", project_id=f"proj_{p}")
        seeded[project_id] = [
            server.put_session(
                project_id,
                session_id=f"{p:02d}{n:06d}-0000-4000-8000-000000000000",
                name=f"session {p}.{n}",
                markdown=f"# session {p}.{n}\n",
                created_at="2026-01-10T10:00:00.000Z",
            )
            for n in range(per_project)
        ]
    return seeded


def engine_run(
    harness: Harness, *, incremental: bool = False, max_pages: int | None = None
) -> CycleReport:
    client = CloudClient(
        harness.server.url,
        harness.server.api_key,
        retry=NO_WAIT,
        sleep=harness.sleep,
        budget=RateBudget(interactive=False),
    )
    if max_pages is not None:
        client.max_pages = max_pages
    with client, Store.open(harness.database_url) as store:
        engine = SyncEngine(client, store, Mirror(harness.root))
        return engine.run_incremental() if incremental else engine.run_once()


def mirrored_ids(harness: Harness) -> set[str]:
    return {str(frontmatter.split(data)[0]["id"]) for data in harness.session_files().values()}


def body_gets(server: DevServer) -> list[str]:
    return [r.path for r in server.requests if r.method == "GET" and r.path.count("/") == 6]


def trashed(harness: Harness) -> list[Path]:
    return sorted((harness.root / ".trash").rglob("*.md"))


# Pages linked by a cursor


@pytest.mark.parametrize("place", ["data", "top"])
def test_a_paginated_account_is_mirrored_whole(
    server: DevServer, cli_root: Path, place: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed(server, 5, 15)
    server.shape_listings(ListingShape(page_size=10, cursor_in=place))  # type: ignore[arg-type]
    assert run(["sync", "--once"]) == 0
    assert "75 new, 0 updated, 0 unchanged, 0 failed" in capsys.readouterr().out
    files = [p for p in cli_root.rglob("*.md") if p.parent != cli_root and p.name != "INDEX.md"]
    assert len(files) == 75
    assert {r.query.get("cursor") for r in server.requests} >= {None, "page-10"}
    ids = {str(frontmatter.split(p.read_bytes())[0]["id"]) for p in files}
    assert ids == {sid for project in seeded.values() for sid in project}


def test_a_second_sync_of_a_paginated_account_reads_the_pages_and_downloads_nothing(
    harness: Harness,
) -> None:
    seed(harness.server, 5, 15)
    harness.server.shape_listings(ListingShape(page_size=10))
    assert harness.sync().new == 75
    harness.server.clear_requests()
    report = harness.sync()
    assert (report.new, report.updated, report.unchanged, report.failed) == (0, 0, 75, 0)
    requests = harness.server.requests
    assert body_gets(harness.server) == []
    # /projects fits one page; each project's 15 sessions take two pages. A listing that
    # came in pages is not skipped on a 304 of its first page: one ETag cannot vouch for
    # pages it does not cover, so every page is read again.
    assert len(requests) == 1 + 5 * 2
    assert all(r.if_none_match is None for r in requests)


def test_a_cursor_that_repeats_fails_the_listing_and_deletes_nothing(
    harness: Harness, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(harness.server, 2, 5)
    assert run(["sync", "--once"]) == 0
    harness.server.shape_listings(ListingShape(page_size=3, looping_cursor=True))
    assert run(["sync", "--once"]) == 1
    err = capsys.readouterr().err
    assert "listing projects" in err
    assert "cursor" in err
    assert not list((cli_root / ".trash").rglob("*.md"))
    assert len([p for p in cli_root.rglob("*.md") if p.name.startswith("2026")]) == 10


def test_a_listing_longer_than_the_page_bound_fails_that_project_only(harness: Harness) -> None:
    seed(harness.server, 1, 2)
    harness.server.add_project("Long", project_id="proj_long")
    for n in range(7):  # four pages of two
        harness.server.put_session("proj_long", session_id=f"long-{n}", name="l", markdown="# l\n")
    harness.server.shape_listings(ListingShape(page_size=2))
    report = engine_run(harness, max_pages=3)
    assert report.failed == 1
    assert "proj_long" in report.errors[0]
    assert "more than 3 pages" in report.errors[0]
    assert report.new == 2  # proj_0's two sessions: one page each side of the bound


# A `total` larger than what arrived


def test_a_short_session_listing_deletes_nothing_fails_loudly_and_heals(
    harness: Harness, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed(harness.server, 2, 10)
    assert run(["sync", "--once"]) == 0
    gone = seeded["proj_0"][:2]
    for sid in gone:  # really deleted: a HEAD would confirm it, only the total says wait
        harness.server.delete_session("proj_0", sid)
    path = "/projects/proj_0/sessions"
    harness.server.shape_listings(ListingShape(extra_total={path: 2}))
    capsys.readouterr()
    assert run(["sync", "--once"]) == 1
    err = capsys.readouterr().err
    assert "project proj_0" in err
    assert "incomplete" in err
    assert "10 sessions" in err
    assert "8 arrived" in err
    assert not list((cli_root / ".trash").rglob("*.md"))
    assert len([p for p in cli_root.rglob("*.md") if p.name.startswith("2026")]) == 20
    with Store.open(harness.database_url) as store:
        assert store.projects()["proj_0"].list_etag is None  # listed in full next time
        assert store.projects()["proj_1"].list_etag is not None
        assert set(gone) <= set(store.sessions())
    assert run(["status"]) == 0
    assert "incomplete" in capsys.readouterr().out
    harness.server.shape_listings(ListingShape())
    assert run(["sync", "--once"]) == 0
    assert "2 deleted" in capsys.readouterr().out
    assert len(list((cli_root / ".trash").rglob("*.md"))) == 2
    assert run(["sync", "--once"]) == 0
    assert "0 new, 0 updated, 18 unchanged, 0 failed" in capsys.readouterr().out


def test_hidden_sessions_keep_their_files_while_the_listing_is_short(harness: Harness) -> None:
    seeded = seed(harness.server, 1, 6)
    harness.sync()
    harness.server.put_session(
        "proj_0", session_id=seeded["proj_0"][5], name="renamed", markdown="# new body\n"
    )
    harness.server.shape_listings(ListingShape(hidden=frozenset(seeded["proj_0"][:1])))
    report = harness.sync()
    assert report.failed == 1
    assert report.updated == 1  # what did arrive still syncs
    assert report.deleted == 0
    assert mirrored_ids(harness) == set(seeded["proj_0"])


def test_a_total_smaller_than_what_arrived_is_fine(harness: Harness) -> None:
    seed(harness.server, 1, 4)
    path = "/projects/proj_0/sessions"
    harness.server.shape_listings(ListingShape(extra_total={path: -3, "/projects": -1}))
    report = harness.sync()
    assert (report.new, report.failed) == (4, 0)


def test_a_short_project_list_drops_no_project(
    harness: Harness, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(harness.server, 1, 3)
    harness.server.add_project("Doomed", project_id="proj_doomed")
    harness.server.put_session("proj_doomed", session_id="doomed-1", name="d", markdown="# d\n")
    assert run(["sync", "--once"]) == 0
    httpx.delete(
        f"{harness.server.url}/api/v1/projects/proj_doomed",
        headers={"Authorization": f"Bearer {harness.server.api_key}"},
    ).raise_for_status()
    harness.server.shape_listings(ListingShape(extra_total={"/projects": 1}))
    capsys.readouterr()
    assert run(["sync", "--once"]) == 1
    err = capsys.readouterr().err
    assert "listing projects" in err
    assert "2 projects" in err
    assert "1 arrived" in err
    with Store.open(harness.database_url) as store:
        assert "proj_doomed" in store.projects()
        assert "doomed-1" in store.sessions()
    assert not list((cli_root / ".trash").rglob("*.md"))
    harness.server.shape_listings(ListingShape())
    assert run(["sync", "--once"]) == 0
    with Store.open(harness.database_url) as store:
        assert "proj_doomed" not in store.projects()


# The same id twice


def test_an_identical_duplicate_project_collapses_to_one(harness: Harness) -> None:
    seed(harness.server, 2, 2)
    harness.server.shape_listings(ListingShape(duplicated={"proj_0": "identical"}))
    report = harness.sync()
    assert (report.new, report.failed) == (4, 0)
    assert harness.sync().failed == 0


def test_a_conflicting_duplicate_project_is_skipped_and_the_rest_syncs(
    harness: Harness, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed(harness.server, 3, 2)
    assert run(["sync", "--once"]) == 0
    harness.server.put_session("proj_2", session_id="new-in-2", name="n", markdown="# n\n")
    harness.server.shape_listings(ListingShape(duplicated={"proj_0": "conflicting"}))
    capsys.readouterr()
    assert run(["sync", "--once"]) == 1  # an item error, never a unique-constraint crash
    captured = capsys.readouterr()
    assert "1 new" in captured.out
    assert "proj_0" in captured.err
    assert "listed 2 times" in captured.err
    assert mirrored_ids(harness) == {*(sid for ids in seeded.values() for sid in ids), "new-in-2"}
    assert not list((cli_root / ".trash").rglob("*.md"))


def test_an_identical_duplicate_session_collapses_to_one(harness: Harness) -> None:
    seeded = seed(harness.server, 1, 3)
    harness.server.shape_listings(ListingShape(duplicated={seeded["proj_0"][1]: "identical"}))
    report = harness.sync()
    assert (report.new, report.failed) == (3, 0)
    report = harness.sync()
    assert (report.unchanged, report.failed) == (3, 0)


def test_a_conflicting_duplicate_session_is_skipped_never_trashed(harness: Harness) -> None:
    seeded = seed(harness.server, 2, 3)
    harness.sync()
    twice = seeded["proj_0"][1]
    harness.server.rename_session("proj_0", twice, "renamed in the cloud")
    harness.server.put_session("proj_1", session_id="new-in-1", name="n", markdown="# n\n")
    harness.server.shape_listings(ListingShape(duplicated={twice: "conflicting"}))
    report = harness.sync()
    assert (report.new, report.failed, report.deleted) == (1, 1, 0)
    assert twice in report.errors[0]
    with Store.open(harness.database_url) as store:
        record = store.session(twice)
    assert record is not None
    assert record.name == "session 0.1"  # left as it was: which copy is right is unknown
    assert twice in mirrored_ids(harness)
    harness.server.shape_listings(ListingShape())
    report = harness.sync()
    assert (report.updated, report.failed) == (1, 0)


def test_a_session_listed_under_two_projects_is_skipped_never_trashed(harness: Harness) -> None:
    seeded = seed(harness.server, 2, 3)
    harness.sync()
    both = seeded["proj_0"][0]
    harness.server.shape_listings(ListingShape(also_listed_under={both: "proj_1"}))
    report = harness.sync()
    assert (report.failed, report.deleted) == (1, 0)
    assert both in report.errors[0]
    assert "proj_0" in report.errors[0]
    assert "proj_1" in report.errors[0]
    assert len(mirrored_ids(harness)) == 6
    with Store.open(harness.database_url) as store:
        record = store.session(both)
    assert record is not None
    assert record.project_id == "proj_0"


# /sessions/recent as a bare array


@pytest.mark.parametrize("shape", ["data-array", "bare-array"])
def test_recent_as_a_bare_array_drives_the_incremental_cycle(harness: Harness, shape: str) -> None:
    seeded = seed(harness.server, 2, 3)
    engine_run(harness)
    harness.server.shape_listings(ListingShape(recent=shape))  # type: ignore[arg-type]
    changed = seeded["proj_1"][2]
    harness.server.put_session("proj_1", session_id=changed, name="edited", markdown="# v2\n")
    harness.server.clear_requests()
    report = engine_run(harness, incremental=True)
    assert (report.updated, report.failed) == (1, 0)
    assert [r.path for r in harness.server.requests] == [
        "/api/v1/sessions/recent",
        f"/api/v1/projects/proj_1/sessions/{changed}",
    ]
    harness.server.clear_requests()
    assert engine_run(harness, incremental=True).failed == 0
    assert len(harness.server.requests) == 1


# Names and ids that UTF-8 cannot carry


def test_a_lone_surrogate_in_a_name_is_replaced_and_the_session_syncs(
    harness: Harness, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.server.add_project("Broken \ud800 project", project_id="proj_s")
    harness.server.put_session(
        "proj_s",
        session_id="11111111-0000-4000-8000-000000000000",
        name="half a \udfff pair",
        markdown="# ok\n",
        metadata={"tags": ["t\ud83d"], "clientName": "c\udc00"},
    )
    assert run(["sync", "--once"]) == 0
    assert "1 new" in capsys.readouterr().out
    (data,) = harness.session_files().values()
    mapping, body = frontmatter.split(data)
    assert mapping["name"] == "half a \ufffd pair"
    assert mapping["project"] == "Broken \ufffd project"
    assert mapping["tags"] == ["t\ufffd"]
    assert body == b"# ok\n"
    assert run(["sync", "--once"]) == 0
    assert "0 new, 0 updated, 1 unchanged, 0 failed" in capsys.readouterr().out


def test_a_lone_surrogate_in_an_id_is_an_item_error_and_the_rest_syncs(
    harness: Harness, cli_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(harness.server, 1, 2)
    harness.server.put_session("proj_0", session_id="bad-\ud800-id", name="b", markdown="# b\n")
    harness.server.add_project("Bad project", project_id="proj_\udfff")
    harness.server.put_session("proj_\udfff", session_id="in-bad", name="b", markdown="# b\n")
    assert run(["sync", "--once"]) == 1  # not 70: an item error, not a crash
    captured = capsys.readouterr()
    assert "2 new" in captured.out
    assert "bad-\\ud800-id" in captured.err
    assert "proj_\\udfff" in captured.err
    assert len(mirrored_ids(harness)) == 2
    assert run(["status"]) == 0


# PullStory: the same brief while it is generating


def test_a_brief_already_generating_answers_202_and_its_story_is_followed(
    harness: Harness,
) -> None:
    harness.server.add_project("Tools", project_id="proj_tools")
    harness.server.put_session(
        "proj_tools",
        session_id="00000000-aaaa",
        name="Fix the parser",
        markdown=session_markdown("parser"),
        created_at="2026-01-16T16:46:41.000Z",
    )
    harness.sync()
    clock = FakeClock()
    with (
        PullStoryServer("ps_live_test", port=0, clock=clock) as stories,
        PullStoryClient(stories.url, "ps_live_test") as client,
        harness.store() as store,
    ):
        mirror = Mirror(harness.root)
        story = enqueue(store, mirror, resolve_session(store, mirror, "00000000"), "push", clock())
        other = httpx.post(
            f"{stories.url}/stories",
            json=story.brief,
            headers={"Authorization": "Bearer ps_live_test"},
        )
        queue = PushQueue(store, client, on_ready=lambda _: None, clock=clock, sleep=clock.sleep)
        queue.drain(max_seconds=3600, until_final=story.brief_hash)
        (final,) = store.stories()
    posts = [r for r in stories.requests if r.method == "POST"]
    assert [r.status for r in posts] == [202, 202]
    assert final.status == "ready"
    assert final.story_id == other.json()["id"]
    gets = [r.path for r in stories.requests if r.method == "GET"]
    assert gets
    assert all(path.endswith(final.story_id) for path in gets)
