"""One-shot sync against the devserver over real HTTP, into a real temp folder."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import httpx
import pytest

from syncd.devserver import DevServer, Fault
from syncd.devserver.listing_shape import ListingShape
from syncd.index.store import Store
from syncd.mirror import frontmatter
from tests.integration.conftest import FakeClock, FakeSleep, Harness


@pytest.fixture
def harness(any_harness: Harness) -> Harness:
    """These tests run on both backends: SQLite, and PostgreSQL when a server is given."""
    return any_harness


SESSION_PATH = r"^/api/v1/projects/[^/]+/sessions/[^/]+$"


def seed_two_projects(server: DevServer) -> dict[str, bytes]:
    """Three sessions in two projects; returns id -> markdown bytes."""
    app = server.add_project("My App", project_id="proj_app")
    docs = server.add_project("Docs", project_id="proj_docs")
    bodies = {
        "550e8400-0000-0000-0000-000000000001": b"# Fix login\n\n_**User**_\n\nfix it\n",
        "550e8401-0000-0000-0000-000000000002": b"---\nnot front matter\r\nCRLF\r\nno newline",
        "550e8402-0000-0000-0000-000000000003": "# 日本語 🎉\n\n```py\nprint(1)\n```\n".encode(),
    }
    targets = [app, app, docs]
    names = ["Fix login", "Weird body", "Unicode"]
    for (sid, body), project, name in zip(bodies.items(), targets, names, strict=True):
        server.put_session(
            project,
            session_id=sid,
            name=name,
            markdown=body,
            created_at="2025-07-20T10:28:48.000Z",
            metadata={"clientName": "cursor", "llmModels": ["gpt-5"], "tags": ["auth"]},
        )
    return bodies


def body_requests(server: DevServer, status: int | None = None) -> list[str]:
    return [
        r.path
        for r in server.requests
        if r.method == "GET"
        and r.path.count("/") == 6
        and "/sessions/" in r.path
        and (status is None or r.status == status)
    ]


def test_first_sync_writes_every_session_byte_identical(harness: Harness) -> None:
    bodies = seed_two_projects(harness.server)
    report = harness.sync()
    assert (report.new, report.updated, report.unchanged, report.failed) == (3, 0, 0, 0)
    files = harness.session_files()
    assert len(files) == 3
    seen = {}
    for data in files.values():
        mapping, body = frontmatter.split(data)
        seen[mapping["id"]] = body
        assert mapping["client"] == "cursor"
        assert mapping["models"] == ["gpt-5"]
        assert str(mapping["etag"]).startswith('W/"')
    assert seen == bodies


def test_files_are_named_by_date_slug_and_id(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    assert "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md" in harness.files()
    assert "docs/INDEX.md" in harness.files()
    assert "README.md" in harness.files()


def test_second_sync_downloads_nothing_and_touches_nothing(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    before, mtimes = harness.files(), harness.mtimes()
    harness.server.clear_requests()
    report = harness.sync()
    assert (report.new, report.updated, report.unchanged, report.failed) == (0, 0, 3, 0)
    assert body_requests(harness.server, 200) == []
    assert all(r.status in (200, 304) for r in harness.server.requests)
    assert harness.files() == before
    assert harness.mtimes() == mtimes


def test_changed_session_costs_one_body_download(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    harness.server.put_session(
        "proj_app",
        session_id="550e8400-0000-0000-0000-000000000001",
        name="Fix login",
        markdown=b"# Fix login\n\nmore\n",
        created_at="2025-07-20T10:28:48.000Z",
        metadata={"clientName": "cursor", "llmModels": ["gpt-5"], "tags": ["auth"]},
    )
    harness.server.clear_requests()
    report = harness.sync()
    assert (report.updated, report.unchanged) == (1, 2)
    assert len(body_requests(harness.server, 200)) == 1
    data = harness.files()["my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md"]
    assert frontmatter.split(data)[1] == b"# Fix login\n\nmore\n"


def test_renamed_session_moves_its_file(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    harness.server.rename_session("proj_app", "550e8400-0000-0000-0000-000000000001", "Login v2")
    harness.sync()
    names = set(harness.files())
    assert "my-app/2025-07-20_10-28-48Z-login-v2-550e8400.md" in names
    assert "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md" not in names


def test_renamed_project_moves_its_folder(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    harness.server.rename_project("proj_docs", "Handbook")
    report = harness.sync()
    assert report.failed == 0
    names = set(harness.files())
    assert not any(n.startswith("docs/") for n in names)
    assert "handbook/INDEX.md" in names
    assert any(n.startswith("handbook/2025-07-20") for n in names)
    assert not (harness.root / "docs").exists()


def test_hostile_names_stay_under_the_root(server: DevServer, tmp_path: Path) -> None:
    # A deep root, so that any escape of a few levels would land inside tmp_path and show.
    harness = Harness(server, tmp_path / "a" / "b" / "c" / "mirror", FakeSleep())
    hostile = [
        "../../etc/passwd",
        "/",
        "..",
        "a\x00b",
        "CON",
        "nul.txt",
        "x" * 500,
        "🎉🎉🎉",
        "",
        "~/.ssh/id_rsa",
        "C:\\Windows\\system32",
    ]
    project = harness.server.add_project("../../outside", project_id="../proj")
    for position, name in enumerate(hostile):
        harness.server.put_session(
            project, session_id=f"../{position}/..", name=name, markdown=f"# {position}\n"
        )
    report = harness.sync()
    assert report.failed == 0
    assert report.new == len(hostile)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(harness.root)]
    assert outside == []
    for relative in harness.session_files():
        assert len(Path(relative).name.encode()) <= 255


def test_truncated_body_fails_only_that_session(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(Fault(kind="truncate", path="000000000001$", times=-1))
    report = harness.sync()
    assert (report.new, report.failed) == (2, 1)
    assert "truncated" in report.errors[0]
    assert not list(harness.root.rglob("*syncd-tmp*"))
    harness.server.clear_faults()
    assert harness.sync().new == 1


def test_truncated_update_keeps_the_previous_version(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    path = "my-app/2025-07-20_10-28-48Z-fix-login-550e8400.md"
    before = harness.files()[path]
    harness.server.put_session(
        "proj_app",
        session_id="550e8400-0000-0000-0000-000000000001",
        name="Fix login",
        markdown=b"# a much longer new version\n" * 100,
        created_at="2025-07-20T10:28:48.000Z",
        metadata={"clientName": "cursor", "llmModels": ["gpt-5"], "tags": ["auth"]},
    )
    harness.server.inject(Fault(kind="truncate", path="000000000001$", times=-1))
    report = harness.sync()
    assert report.failed == 1
    assert harness.files()[path] == before


def test_a_body_longer_than_its_listed_size_is_kept_with_a_warning(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Content-Length proves the body complete; the listing's markdownSize only hints.
    seed_two_projects(harness.server)
    harness.server.inject(Fault(kind="oversize", path="000000000003$", body=b"MORE", times=-1))
    report = harness.sync()
    assert (report.new, report.failed) == (3, 0)
    assert [f for f in harness.session_files().values() if f.endswith(b"MORE")]
    assert caplog.text.count("markdownSize") == 1
    assert harness.sync().failed == 0


def test_a_body_shorter_than_its_listed_size_is_fetched_once_more_then_settled(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # A Content-Length that lied would cut a body short of markdownSize: kept, not trusted.
    seed_two_projects(harness.server)
    third = "550e8402-0000-0000-0000-000000000003"
    harness.server.shape_listings(ListingShape(size_offset={third: 50}))
    assert harness.sync().failed == 0
    assert "shorter than the listing said" in caplog.text

    harness.server.shape_listings(ListingShape())
    harness.server.clear_requests()
    assert harness.sync().failed == 0  # the next run fetches it again, and settles it
    assert [path.rsplit("/", 1)[1] for path in body_requests(harness.server, 200)] == [third]
    harness.server.clear_requests()
    harness.sync()
    assert body_requests(harness.server) == []


def test_a_body_always_shorter_than_its_listed_size_costs_one_more_download_only(
    harness: Harness,
) -> None:
    seed_two_projects(harness.server)
    third = "550e8402-0000-0000-0000-000000000003"
    harness.server.shape_listings(ListingShape(size_offset={third: 50}))
    before = harness.sync()
    harness.server.clear_requests()
    harness.sync()  # the same bytes again: settled
    assert len(body_requests(harness.server, 200)) == 1
    harness.server.clear_requests()
    report = harness.sync()
    assert (before.failed, report.failed, body_requests(harness.server)) == (0, 0, [])


def test_one_server_error_is_retried_transparently(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(Fault(kind="status", status=503, path="000000000002$", times=1))
    report = harness.sync()
    assert (report.new, report.failed) == (3, 0)
    assert len([r for r in harness.server.requests if r.path.endswith("000000000002")]) == 2


def test_persistent_server_error_fails_one_session_and_the_rest_land(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(Fault(kind="status", status=500, path="000000000002$", times=-1))
    report = harness.sync()
    assert (report.new, report.failed) == (2, 1)
    harness.server.clear_faults()
    harness.server.clear_requests()
    report = harness.sync()
    assert (report.new, report.unchanged, report.failed) == (1, 2, 0)
    assert len(body_requests(harness.server, 200)) == 1


def test_connection_reset_is_retried(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(Fault(kind="reset", path="/projects$", times=1))
    report = harness.sync()
    assert (report.new, report.failed) == (3, 0)


def test_rate_limit_is_respected_without_a_single_429(tmp_path: Path) -> None:
    clock = FakeClock()
    with DevServer(api_key="k", port=0, rate_limit=3, window_seconds=60.0, clock=clock) as server:
        seed_two_projects(server)
        harness = Harness(server, tmp_path / "m", clock.sleep, clock)
        report = harness.sync()
    assert (report.new, report.failed) == (3, 0)
    assert [r.status for r in server.requests].count(429) == 0
    assert clock.waits  # it waited for the window to reset instead
    assert all(0 < wait <= 60 for wait in clock.waits)


def test_429_is_honoured_with_its_retry_after(tmp_path: Path) -> None:
    clock = FakeClock()
    with DevServer(api_key="k", port=0, rate_limit=None, clock=clock) as server:
        seed_two_projects(server)
        server.inject(Fault(kind="status", status=429, path="000000000002$"))
        harness = Harness(server, tmp_path / "m", clock.sleep, clock)
        report = harness.sync()
    assert (report.new, report.failed) == (3, 0)
    assert clock.waits == [1.0]  # the devserver's Retry-After
    assert [r.status for r in server.requests].count(429) == 1


# proj_docs' listing with one item whose markdownSize is not a number.
BAD_DOCS_LISTING = Fault(
    kind="body",
    path="/projects/proj_docs/sessions$",
    body=b'{"success": true, "data": {"sessions": [{"id": "x", "markdownSize": "big"}],'
    b' "total": 1, "projectId": "proj_docs"}}',
)


def test_malformed_listing_item_fails_alone(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(BAD_DOCS_LISTING)
    report = harness.sync()
    assert report.failed == 1
    assert report.new == 2
    assert "x" in report.errors[0]


def test_malformed_json_listing_is_a_clear_error_once_retries_run_out(harness: Harness) -> None:
    seed_two_projects(harness.server)
    garbled = Fault(kind="body", path="/projects/proj_app/sessions$", body=b"{oops", times=-1)
    harness.server.inject(garbled)
    report = harness.sync()
    assert report.failed == 1
    assert "not JSON" in report.errors[0]
    assert report.new == 1
    lists = [r for r in harness.server.requests if r.path.endswith("/proj_app/sessions")]
    assert len(lists) == 3  # every attempt the retry policy allows, no more


def test_project_with_a_failed_session_is_listed_in_full_next_run(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(Fault(kind="truncate", path="000000000001$", times=2))
    assert harness.sync().failed == 1
    harness.server.clear_requests()
    assert harness.sync().new == 1
    app_lists = [r for r in harness.server.requests if r.path.endswith("proj_app/sessions")]
    docs_lists = [r for r in harness.server.requests if r.path.endswith("proj_docs/sessions")]
    assert [(r.if_none_match, r.status) for r in app_lists] == [(None, 200)]
    assert [r.status for r in docs_lists] == [304]


def test_spent_budget_defers_the_rest_instead_of_waiting_an_hour(tmp_path: Path) -> None:
    with DevServer(api_key="k", port=0, rate_limit=4, window_seconds=3600.0) as server:
        seed_two_projects(server)
        harness = Harness(server, tmp_path / "m", FakeSleep())
        report = harness.sync()
        assert report.halted is not None
        assert report.deferred >= 1
        assert report.resume_at is not None
        assert harness.sleep.waits == []
        assert [r.status for r in server.requests].count(429) == 0
        with Store.open(harness.database_url) as store:
            (run,) = store.runs()
            assert not run.succeeded
            budget = store.budget()
        assert budget is not None
        assert budget.remaining == 0


def test_429_from_a_budget_spent_elsewhere_stops_the_cycle_without_waiting(
    tmp_path: Path,
) -> None:
    with DevServer(api_key="k", port=0, rate_limit=4, window_seconds=3600.0) as server:
        seed_two_projects(server)
        # Another machine with the same key spends the whole window first.
        for _ in range(4):
            httpx.get(f"{server.url}/api/v1/projects", headers={"Authorization": "Bearer k"})
        harness = Harness(server, tmp_path / "m", FakeSleep())
        report = harness.sync()
        statuses = [r.status for r in server.requests]
    assert report.halted is not None
    assert "Rate limited" in report.halted
    assert report.resume_at is not None
    assert harness.sleep.waits == []
    assert statuses.count(429) == 1  # one answer, never a loop


def test_index_records_hashes_sizes_and_the_run(harness: Harness) -> None:
    bodies = seed_two_projects(harness.server)
    harness.sync()
    with Store.open(harness.database_url) as store:
        sessions = store.sessions()
        (run,) = store.runs()
    import hashlib

    for sid, body in bodies.items():
        assert sessions[sid].body_sha256 == hashlib.sha256(body).hexdigest()
        assert sessions[sid].markdown_size == len(body)
    assert (run.new, run.failed, run.fetched) == (3, 0, 3)
    assert run.requests == 1 + 2 + 3
    assert run.ended_at is not None


def test_leftover_temp_files_are_swept(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    leftover = harness.root / "my-app" / ".x.md.deadbeef.syncd-tmp"
    leftover.write_bytes(b"half")
    harness.sync()
    assert not leftover.exists()


def test_index_pages_are_not_rewritten_when_nothing_changed(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.sync()
    index = harness.root / "my-app" / "INDEX.md"
    stamp = index.stat().st_mtime_ns
    os.utime(index, ns=(stamp - 10_000_000_000, stamp - 10_000_000_000))
    harness.sync()
    assert index.stat().st_mtime_ns == stamp - 10_000_000_000
    assert "Fix login" in index.read_text()


def test_listing_with_a_bad_item_is_not_skipped_next_run(harness: Harness) -> None:
    seed_two_projects(harness.server)
    harness.server.inject(BAD_DOCS_LISTING)
    harness.sync()
    harness.server.clear_requests()
    report = harness.sync()
    assert report.new == 1
    docs_lists = [r for r in harness.server.requests if r.path.endswith("proj_docs/sessions")]
    assert [r.if_none_match for r in docs_lists] == [None]


def test_every_corpus_session_is_mirrored_byte_for_byte(
    server: DevServer, tmp_path: Path, corpus_dir: Path
) -> None:
    expected = sorted(p.read_bytes() for p in corpus_dir.glob("*.md") if p.name != "FORMAT.md")
    server.seed_corpus_flat(corpus_dir)
    harness = Harness(server, tmp_path / "mirror", FakeSleep())
    report = harness.sync()
    assert (report.new, report.failed) == (len(expected), 0)
    bodies = sorted(frontmatter.split(data)[1] for data in harness.session_files().values())
    assert bodies == expected


def test_budget_state_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    with DevServer(api_key="k", port=0, rate_limit=4, window_seconds=600.0, clock=clock) as server:
        seed_two_projects(server)
        first = Harness(server, tmp_path / "m", FakeSleep(), clock, interactive=True)
        assert first.sync().halted is not None  # spent: 4 requests for 6 needed
        server.clear_requests()
        # A new process: it knows the budget is spent before sending anything.
        second = Harness(server, tmp_path / "m", FakeSleep(), clock, interactive=True)
        report = second.sync()
    assert report.halted is not None
    assert server.requests == []


def test_the_daemon_paces_a_backlog_and_never_spends_the_reserve(tmp_path: Path) -> None:
    clock = FakeClock()
    with DevServer(api_key="k", port=0, rate_limit=20, window_seconds=600.0, clock=clock) as server:
        server.add_project("Big", project_id="proj_big")
        for n in range(40):
            server.put_session("proj_big", session_id=f"s-{n:03d}", name=str(n), markdown="# x\n")
        start = clock()
        daemon = Harness(server, tmp_path / "m", clock.sleep, clock, interactive=False)
        report = daemon.sync()
        requests = server.requests
    assert (report.new, report.failed, report.halted) == (40, 0, None)
    assert [r.status for r in requests].count(429) == 0
    per_window: dict[int, int] = {}
    for request in requests:
        window = int((request.at - start) // 600)
        per_window[window] = per_window.get(window, 0) + 1
    # The first request learns the limit; after that 10% of every window stays free.
    assert max(per_window.values()) <= 20 - 2 + 1
    assert len(per_window) == 3  # 42 requests at 18 a window: the minimum
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests[3:13])]
    assert min(gaps) > 20  # paced across the window, not a burst then a wait
