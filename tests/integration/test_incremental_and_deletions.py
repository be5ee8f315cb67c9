"""The cheap incremental cycle, and deletions that only a complete listing can cause."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from syncd.cloud.budget import RateBudget
from syncd.cloud.client import CloudClient
from syncd.devserver import DevServer, Fault
from syncd.index.store import Store
from syncd.mirror.writer import Mirror
from syncd.sync.engine import SyncEngine, SyncOptions
from syncd.sync.rebuild import rebuild_index
from syncd.sync.report import CycleReport
from tests.integration.conftest import NO_WAIT, Harness
from tests.integration.test_sync import seed_two_projects

FIX_LOGIN_ID = "550e8400-0000-0000-0000-000000000001"


def engine_run(harness: Harness, *, incremental: bool = False, **options: object) -> CycleReport:
    client = CloudClient(
        harness.server.url,
        harness.server.api_key,
        retry=NO_WAIT,
        sleep=harness.sleep,
        budget=RateBudget(interactive=False),
    )
    with client, Store.open(harness.database_url) as store:
        engine = SyncEngine(client, store, Mirror(harness.root), options=SyncOptions(**options))  # type: ignore[arg-type]
        return engine.run_incremental() if incremental else engine.run_once()


def seed_project(server: DevServer, sessions: int, project_id: str = "proj_big") -> list[str]:
    server.add_project("Big", project_id=project_id)
    ids = [f"{n:08d}-aaaa" for n in range(sessions)]
    for sid in ids:
        server.put_session(project_id, session_id=sid, name=f"s{sid}", markdown=f"# {sid}\n")
    return ids


def test_incremental_cycle_with_nothing_changed_costs_one_request(harness: Harness) -> None:
    seed_two_projects(harness.server)
    engine_run(harness)
    harness.server.clear_requests()
    report = engine_run(harness, incremental=True)
    assert report.unchanged == 3
    assert [r.path for r in harness.server.requests] == ["/api/v1/sessions/recent"]


def test_incremental_cycle_with_k_changes_costs_k_plus_one(harness: Harness) -> None:
    ids = seed_project(harness.server, 20)
    engine_run(harness)
    for sid in ids[:3]:
        harness.server.put_session("proj_big", session_id=sid, name=f"s{sid}", markdown="# v2\n")
    harness.server.clear_requests()
    report = engine_run(harness, incremental=True)
    assert (report.updated, report.unchanged, report.failed) == (3, 17, 0)
    assert len(harness.server.requests) == 3 + 1


def test_incremental_cycle_picks_up_a_new_session(harness: Harness) -> None:
    seed_two_projects(harness.server)
    engine_run(harness)
    harness.server.put_session("proj_docs", session_id="new-one", name="Fresh", markdown="# n\n")
    harness.server.clear_requests()
    report = engine_run(harness, incremental=True)
    assert report.new == 1
    assert len(harness.server.requests) == 2


def test_incremental_cycle_falls_back_to_listing_for_a_new_project(harness: Harness) -> None:
    seed_two_projects(harness.server)
    engine_run(harness)
    harness.server.add_project("Brand new", project_id="proj_new")
    harness.server.put_session("proj_new", session_id="new-one", name="Fresh", markdown="# n\n")
    report = engine_run(harness, incremental=True)
    assert (report.new, report.failed) == (1, 0)
    assert (harness.root / "brand-new" / "INDEX.md").is_file()


def test_deleted_session_is_confirmed_by_404_and_archived(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    harness.server.clear_requests()
    report = engine_run(harness)
    assert report.deleted == 1
    heads = [r for r in harness.server.requests if r.method == "HEAD"]
    assert [(r.path.rsplit("/", 1)[1], r.status) for r in heads] == [(ids[0], 404)]
    trashed = list((harness.root / ".trash").rglob("*.md"))
    assert len(trashed) == 1
    assert ids[0][:8] in trashed[0].name
    with Store.open(harness.database_url) as store:
        assert ids[0] not in store.sessions()
    assert "s" + ids[0] not in (harness.root / "big" / "INDEX.md").read_text()


def test_deletion_mode_delete_removes_the_file(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    assert engine_run(harness, deletion_mode="delete").deleted == 1
    assert not (harness.root / ".trash").exists()
    assert len(list((harness.root / "big").glob("*-aaaa*.md"))) == 7


def test_keep_mode_keeps_a_deleted_session_marked_in_index_file_and_pages(
    harness: Harness,
) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    assert engine_run(harness, deletion_mode="keep").deleted == 1

    assert len(list((harness.root / "big").glob("*-aaaa*.md"))) == 8
    with Store.open(harness.database_url) as store:
        record = store.session(ids[0])
    assert record is not None
    assert record.cloud_deleted_at is not None
    text = (harness.root / record.path).read_text()
    assert f"deleted_in_cloud: '{record.cloud_deleted_at}'" in text
    index_page = (harness.root / "big" / "INDEX.md").read_text()
    assert "(deleted in the cloud)" in index_page
    assert "8 sessions." in index_page

    for _ in range(2):  # the project's listing now answers 304: the mark must hold
        harness.server.clear_requests()
        again = engine_run(harness, deletion_mode="keep")
        assert (again.deleted, again.updated, again.failed) == (0, 0, 0)
        assert not [r for r in harness.server.requests if r.method == "HEAD"]  # settled
    with Store.open(harness.database_url) as store:
        assert store.session(ids[0]) == record
    assert (harness.root / record.path).read_text() == text


def test_an_edited_kept_file_is_left_alone_and_costs_nothing(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    engine_run(harness, deletion_mode="keep")
    with Store.open(harness.database_url) as store:
        record = store.session(ids[0])
    assert record is not None
    edited = harness.root / record.path
    edited.write_text(edited.read_text() + "my own notes\n")
    mine = edited.read_text()

    harness.server.put_session("proj_big", session_id=ids[1], name="renamed", markdown="# x\n")
    for _ in range(2):
        harness.server.clear_requests()
        report = engine_run(harness, deletion_mode="keep")
        assert report.failed == 0
        assert not [r for r in harness.server.requests if ids[0] in r.path]
    assert edited.read_text() == mine
    assert not list(edited.parent.glob("*.local-*"))


def test_kept_sessions_move_with_their_renamed_project(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    engine_run(harness, deletion_mode="keep")
    harness.server.add_project("Huge", project_id="proj_big")  # same id, new name

    report = engine_run(harness, deletion_mode="keep")

    assert report.failed == 0
    with Store.open(harness.database_url) as store:
        record = store.session(ids[0])
    assert record is not None
    assert record.path.startswith("huge/")
    assert record.cloud_deleted_at is not None
    assert "deleted_in_cloud" in (harness.root / record.path).read_text()
    assert not (harness.root / "big").exists()


def test_kept_sessions_survive_a_rebuild_without_tripping_the_guard(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    for sid in ids[:4]:  # half the project: the guard allows one per cycle
        harness.server.delete_session("proj_big", sid)
        engine_run(harness, deletion_mode="keep")

    with Store.open(harness.database_url) as store:
        rebuild_index(Mirror(harness.root), store)
        kept = {s.id for s in store.sessions().values() if s.cloud_deleted_at}
    assert kept == set(ids[:4])
    report = engine_run(harness, deletion_mode="keep")
    assert (report.deleted, report.failed) == (0, 0)


def test_a_kept_session_listed_again_loses_its_mark(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    engine_run(harness, deletion_mode="keep")
    harness.server.put_session("proj_big", session_id=ids[0], name=f"s{ids[0]}", markdown="# b\n")

    engine_run(harness, deletion_mode="keep")

    with Store.open(harness.database_url) as store:
        record = store.session(ids[0])
    assert record is not None
    assert record.cloud_deleted_at is None
    assert "deleted_in_cloud" not in (harness.root / record.path).read_text()


def test_empty_listing_deletes_nothing_and_says_why(harness: Harness) -> None:
    seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.inject(
        Fault(
            kind="body",
            path="/projects/proj_big/sessions$",
            body=b'{"success": true, "data": {"sessions": [], "total": 0, "projectId": "x"}}',
        )
    )
    report = engine_run(harness)
    assert report.deleted == 0
    assert "refusing to remove 8 of 8" in report.errors[0]
    assert "--allow-mass-delete" in report.errors[0]
    assert len(list((harness.root / "big").glob("*-aaaa*.md"))) == 8
    assert not any(r.method == "HEAD" for r in harness.server.requests)


def test_mass_delete_goes_through_when_allowed(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    for sid in ids[:4]:
        harness.server.delete_session("proj_big", sid)
    assert engine_run(harness).failed == 1  # 4 of 8 is over 25%: refused
    assert engine_run(harness, allow_mass_delete=True).deleted == 4


def test_listing_with_an_error_deletes_nothing(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    harness.server.inject(
        Fault(kind="status", status=500, path="/projects/proj_big/sessions$", times=3)
    )
    report = engine_run(harness)
    assert report.deleted == 0
    assert "proj_big" in report.errors[0]
    assert len(list((harness.root / "big").glob("*-aaaa*.md"))) == 8


def test_a_session_that_still_answers_is_not_deleted(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    listing = httpx.get(
        f"{harness.server.url}/api/v1/projects/proj_big/sessions",
        headers={"Authorization": f"Bearer {harness.server.api_key}"},
    ).json()
    listing["data"]["sessions"] = [s for s in listing["data"]["sessions"] if s["id"] != ids[0]]
    import json

    harness.server.inject(
        Fault(kind="body", path="/projects/proj_big/sessions$", body=json.dumps(listing).encode())
    )
    report = engine_run(harness)
    assert report.deleted == 0
    assert len(list((harness.root / "big").glob("*-aaaa*.md"))) == 8


def test_session_moved_between_projects_is_never_trashed(harness: Harness) -> None:
    bodies = seed_two_projects(harness.server)
    engine_run(harness)
    harness.server.delete_session("proj_app", FIX_LOGIN_ID)
    harness.server.put_session(
        "proj_docs", session_id=FIX_LOGIN_ID, name="Fix login", markdown=bodies[FIX_LOGIN_ID]
    )
    report = engine_run(harness, allow_mass_delete=True)
    assert report.deleted == 0
    assert not (harness.root / ".trash").exists()


def test_deleted_project_goes_with_its_last_session(harness: Harness) -> None:
    seed_two_projects(harness.server)
    engine_run(harness)
    httpx.delete(
        f"{harness.server.url}/api/v1/projects/proj_docs",
        headers={"Authorization": f"Bearer {harness.server.api_key}"},
    ).raise_for_status()
    report = engine_run(harness)
    assert report.deleted == 1
    assert not (harness.root / "docs").exists()
    assert "Docs" not in (harness.root / "README.md").read_text()


def test_dry_run_reports_and_changes_nothing(harness: Harness, tmp_path: Path) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    before = harness.files()
    harness.server.delete_session("proj_big", ids[0])
    harness.server.put_session("proj_big", session_id=ids[1], name="renamed", markdown="# 2\n")
    harness.server.put_session("proj_big", session_id="zz-new", name="new", markdown="# n\n")
    harness.server.add_project("Huge", project_id="proj_big")  # renamed: files move
    harness.server.clear_requests()
    report = engine_run(harness, dry_run=True)
    actions = "\n".join(report.actions)
    assert "update " in actions
    assert "fetch  " in actions
    assert "trash " in actions
    assert re.search(
        rf"^move    big/\S+-{ids[2][:8]}\.md -> huge/\S+-{ids[2][:8]}\.md$", actions, re.M
    )
    assert harness.files() == before
    assert not any(r.accept == "text/markdown" for r in harness.server.requests)
    with Store.open(harness.database_url) as store:
        assert len(store.runs()) == 1


def test_the_deletion_share_is_configurable(harness: Harness) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    for sid in ids[:4]:
        harness.server.delete_session("proj_big", sid)
    refused = engine_run(harness)  # 4 of 8 is over the default 25%
    assert (refused.deleted, refused.failed) == (0, 1)
    allowed = engine_run(harness, max_delete_share=0.5)
    assert (allowed.deleted, allowed.failed) == (4, 0)


def test_an_empty_project_list_never_empties_the_mirror(harness: Harness) -> None:
    for n in range(6):
        project = harness.server.add_project(f"P{n}", project_id=f"proj_{n}")
        harness.server.put_session(project, session_id=f"s-{n}", name="one", markdown="# 1\n")
    engine_run(harness)
    harness.server.inject(
        Fault(
            kind="body",
            path="/projects$",
            body=b'{"success": true, "data": {"projects": [], "total": 0}}',
        )
    )
    report = engine_run(harness)
    assert report.deleted == 0
    assert "refusing to remove 6 of 6 mirrored sessions" in report.errors[0]
    assert not (harness.root / ".trash").exists()


def test_a_session_moved_into_a_not_modified_listing_is_not_trashed(harness: Harness) -> None:
    bodies = seed_two_projects(harness.server)
    engine_run(harness)
    listing = httpx.get(
        f"{harness.server.url}/api/v1/projects/proj_docs/sessions",
        headers={"Authorization": f"Bearer {harness.server.api_key}"},
    )
    stale_etag = listing.headers["etag"]
    harness.server.delete_session("proj_app", FIX_LOGIN_ID)
    harness.server.put_session(
        "proj_docs", session_id=FIX_LOGIN_ID, name="Fix login", markdown=bodies[FIX_LOGIN_ID]
    )
    # A stale cache in front of the API keeps answering 304 for the docs listing.
    harness.server.inject(
        Fault(kind="status", status=304, path="/projects/proj_docs/sessions$", method="GET")
    )
    with Store.open(harness.database_url) as store:
        record = store.projects()["proj_docs"]
        assert record.list_etag == stale_etag
    report = engine_run(harness, allow_mass_delete=True)
    assert report.deleted == 0
    assert not (harness.root / ".trash").exists()


def test_a_rate_limit_while_confirming_deletions_ends_the_cycle_cleanly(
    harness: Harness,
) -> None:
    ids = seed_project(harness.server, 8)
    engine_run(harness)
    harness.server.delete_session("proj_big", ids[0])
    harness.server.inject(
        Fault(kind="status", status=429, method="HEAD", times=-1, body=b'{"success":false}')
    )
    report = engine_run(harness)
    assert report.halted is not None
    assert report.deleted == 0
    with Store.open(harness.database_url) as store:
        assert not store.runs()[0].succeeded


BROKEN_RECENT_PAGE = (
    b'{"success": true, "data": {"sessions": [{"id": "x", "markdownSize": "big"}], "total": 1}}'
)


def test_a_malformed_recent_item_costs_one_full_listing_not_one_per_cycle(
    harness: Harness,
) -> None:
    seed_two_projects(harness.server)
    engine_run(harness)
    harness.server.inject(
        Fault(kind="body", path="/sessions/recent", body=BROKEN_RECENT_PAGE, times=-1)
    )
    known: set[str] = set()

    def cycle() -> list[str]:
        harness.server.clear_requests()
        client = CloudClient(harness.server.url, harness.server.api_key, retry=NO_WAIT)
        with client, Store.open(harness.database_url) as store:
            SyncEngine(client, store, Mirror(harness.root), known_bad_items=known).run_incremental()
        return [r.path for r in harness.server.requests]

    first = cycle()
    assert len(first) > 1  # the page could not be trusted: every project was listed
    assert cycle() == ["/api/v1/sessions/recent"]

    other = BROKEN_RECENT_PAGE.replace(b'"big"', b'"huge"')  # a different broken item
    harness.server.clear_faults()
    harness.server.inject(Fault(kind="body", path="/sessions/recent", body=other, times=-1))
    assert len(cycle()) > 1


def test_a_failed_project_list_does_not_settle_a_broken_recent_item(harness: Harness) -> None:
    seed_two_projects(harness.server)
    engine_run(harness)
    harness.server.inject(
        Fault(kind="body", path="/sessions/recent", body=BROKEN_RECENT_PAGE, times=-1)
    )
    harness.server.inject(Fault(kind="body", path="/projects$", body=b'{"success": true}'))
    known: set[str] = set()
    client = CloudClient(harness.server.url, harness.server.api_key, retry=NO_WAIT)
    with client, Store.open(harness.database_url) as store:
        engine = SyncEngine(client, store, Mirror(harness.root), known_bad_items=known)
        assert engine.run_incremental().failed == 1  # the project list was unreadable
        assert known == set()
        harness.server.clear_requests()
        engine.run_incremental()
    assert len(harness.server.requests) > 1  # listed this time
    assert known
